"""``python -m nctheory.check --theorem NAME``: prove a theorem of THEORY.md and check it numerically.

For each theorem object (:mod:`nctheory.theorems`) it prints the statement, runs the
exact symbolic proof (:meth:`~nctheory.theorems.base.Theorem.prove`) and the numerical
check (:meth:`~nctheory.theorems.base.Theorem.check`: predicted and measured side by
side, negative controls included), and reports one verdict: "refuted" if a proof step
fails or the numbers refute it, "inconclusive" if the numbers could not decide,
"verified" otherwise. ``NAME`` may be ``all``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

from nctheory.cli.exit_codes import EXIT_CODES
from nctheory.verdict import SEVERITY, worst_verdict


def list_theorems() -> str:
    """One line per registered theorem: name and title."""
    from nctheory.theorems import THEOREMS

    width = max(len(name) for name in THEOREMS)
    return "\n".join(f"{name.ljust(width)}  {theorem.title}" for name, theorem in THEOREMS.items())


def resolve_theorems(name: str) -> list:
    """The theorem objects named by ``name`` (a registered name or ``all``)."""
    from nctheory.errors import NCTheoryError
    from nctheory.theorems import THEOREMS

    if name == "all":
        return list(THEOREMS.values())
    if name not in THEOREMS:
        raise NCTheoryError(f"unknown theorem {name!r}; known theorems: all, {', '.join(THEOREMS)}")
    return [THEOREMS[name]]


@dataclass(frozen=True)
class TheoremReport:
    """A theorem's exact proof and its numerical check, with the verdict they give together."""

    theorem: object
    proof: object
    numerical: object
    wall_time_s: float

    @property
    def verdict(self) -> str:
        return "refuted" if not self.proof.holds else self.numerical.verdict

    def to_dict(self) -> dict:
        theorem = self.theorem
        return {"theorem": theorem.name, "title": theorem.title, "statement": theorem.statement,
                "hypotheses": list(theorem.hypotheses), "proved": self.proof.holds,
                "proof_steps": len(self.proof.steps),
                "failing_steps": [step.description for step in self.proof.failing_steps],
                "check": self.numerical.to_dict(), "verdict": self.verdict, "wall_time_s": self.wall_time_s}

    def __str__(self) -> str:
        theorem, proof = self.theorem, self.proof
        lines = [f"Theorem {theorem.name}: {theorem.title}", f"  {theorem.statement}"]
        lines += [f"  hypothesis: {h}" for h in theorem.hypotheses]
        if proof.holds:
            lines.append(f"Proof: all {len(proof.steps)} steps hold exactly (sympy).")
        else:
            lines.append(f"Proof: FAILS at {len(proof.failing_steps)} of {len(proof.steps)} steps:")
            lines += [f"  - {step.description}" for step in proof.failing_steps]
        lines += [str(self.numerical), f"Verdict: {self.verdict.upper()}"]
        return "\n".join(lines)


def check_theorem(theorem, seed: int = 0) -> TheoremReport:
    """Prove and check one theorem."""
    started = time.perf_counter()
    proof, numerical = theorem.prove(), theorem.check(seed=seed)
    return TheoremReport(theorem, proof, numerical, round(time.perf_counter() - started, 3))


def run_theorem_check(name: str, seed: int = 0, as_json: bool = False, out=None, quiet: bool = False) -> int:
    """Check the theorem(s) ``name``, print the report or JSON, return the exit status.

    With ``as_json`` the report comes at the end; progress (one line per theorem) goes to
    stderr unless ``quiet``.
    """
    out = sys.stdout if out is None else out
    theorems = resolve_theorems(name)
    reports = []
    for number, theorem in enumerate(theorems, 1):
        report = check_theorem(theorem, seed=seed)
        reports.append(report)
        if not as_json:
            print(f"{report}\n", file=out, flush=True)
        elif not quiet:
            print(f"[{number}/{len(theorems)}] {theorem.name}: {report.verdict} ({report.wall_time_s:.1f} s)",
                  file=sys.stderr, flush=True)
    worst = worst_verdict(r.verdict for r in reports)
    if as_json:
        dicts = [r.to_dict() for r in reports]
        payload = dicts[0] if len(dicts) == 1 else {"theorems": dicts, "verdict": worst}
        print(json.dumps(payload, allow_nan=False, default=str), file=out)
    elif len(reports) > 1:
        counts = {v: sum(r.verdict == v for r in reports) for v in SEVERITY}
        print(f"{len(reports)} theorems: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
              + f". Overall: {worst.upper()}", file=out)
    return EXIT_CODES[worst]
