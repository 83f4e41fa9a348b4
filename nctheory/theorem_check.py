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

from .verdict import EXIT_CODES

_ORDER = ("refuted", "inconclusive", "verified")


def list_theorems() -> str:
    """One line per registered theorem: name and title."""
    from .theorems import THEOREMS

    width = max(len(name) for name in THEOREMS)
    return "\n".join(f"{name.ljust(width)}  {theorem.title}" for name, theorem in THEOREMS.items())


def resolve_theorems(name: str) -> list:
    """The theorem objects named by ``name`` (a registered name or ``all``)."""
    from .errors import NCTheoryError
    from .theorems import THEOREMS

    if name == "all":
        return list(THEOREMS.values())
    if name not in THEOREMS:
        raise NCTheoryError(f"unknown theorem {name!r}; known theorems: all, {', '.join(THEOREMS)}")
    return [THEOREMS[name]]


def check_theorem(theorem, seed: int = 0) -> dict:
    """Prove and check one theorem: a JSON-ready dict with the verdict."""
    started = time.perf_counter()
    proof = theorem.prove()
    numerical = theorem.check(seed=seed)
    verdict = "refuted" if not proof.holds else numerical.verdict
    return {"theorem": theorem.name, "title": theorem.title, "statement": theorem.statement,
            "hypotheses": list(theorem.hypotheses), "proved": proof.holds, "proof_steps": len(proof.steps),
            "failing_steps": [step.description for step in proof.failing_steps],
            "check": numerical.to_dict(), "verdict": verdict,
            "wall_time_s": round(time.perf_counter() - started, 3), "_numerical": numerical}


def render(result: dict) -> str:
    """The report of :func:`check_theorem` for the terminal."""
    lines = [f"Theorem {result['theorem']}: {result['title']}", f"  {result['statement']}"]
    lines += [f"  hypothesis: {h}" for h in result["hypotheses"]]
    if result["proved"]:
        lines.append(f"Proof: all {result['proof_steps']} steps hold exactly (sympy).")
    else:
        lines.append(f"Proof: FAILS at {len(result['failing_steps'])} of {result['proof_steps']} steps:")
        lines += [f"  - {d}" for d in result["failing_steps"]]
    lines.append(str(result["_numerical"]))
    lines.append(f"Verdict: {result['verdict'].upper()}")
    return "\n".join(lines)


def run_theorem_check(name: str, seed: int = 0, as_json: bool = False, out=None, quiet: bool = False) -> int:
    """Check the theorem(s) ``name``, print the report or JSON, return the exit status.

    With ``as_json`` the report comes at the end; progress (one line per theorem) goes to
    stderr unless ``quiet``.
    """
    out = sys.stdout if out is None else out
    theorems = resolve_theorems(name)
    results = []
    for number, theorem in enumerate(theorems, 1):
        result = check_theorem(theorem, seed=seed)
        results.append(result)
        if not as_json:
            print(render(result) + "\n", file=out, flush=True)
        elif not quiet:
            print(f"[{number}/{len(theorems)}] {theorem.name}: {result['verdict']} ({result['wall_time_s']:.1f} s)",
                  file=sys.stderr, flush=True)
    worst = min((r["verdict"] for r in results), key=_ORDER.index)
    if as_json:
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        payload = clean[0] if len(clean) == 1 else {"theorems": clean, "verdict": worst}
        print(json.dumps(payload, allow_nan=False, default=str), file=out)
    elif len(results) > 1:
        counts = {v: sum(r["verdict"] == v for r in results) for v in _ORDER}
        print(f"{len(results)} theorems: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
              + f". Overall: {worst.upper()}", file=out)
    return EXIT_CODES[worst]
