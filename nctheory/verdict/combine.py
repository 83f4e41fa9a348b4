"""Sub-checks to one verdict: per-run checks merged per kind, essential checks decide."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from nctheory.verdict.record import base_lr
from nctheory.verdict.result import Check, Verdict


def require_decay(checks, lam) -> None:
    """Without weight decay the statements of THEORY.md section 4 claim nothing (Theorem 2,
    the box and parity bounds and the 1/lambda plateau all need lambda > 0): every check but
    the exact identities (sign increments, NC3 >= NC0_rel) becomes inconclusive."""
    if lam > 0:
        return
    for c in checks:
        if c.name.split("[")[0] not in ("sign_increments", "nc3_at_least_nc0_rel") and c.status != "inconclusive":
            c.status = "inconclusive"
            c.sentence += " -- not applied: the statement needs weight_decay > 0"
    checks.append(Check("hypothesis_weight_decay", "inconclusive",
                        "weight_decay = 0: the theory's statements need weight_decay > 0"))


def _merge_runs(checks) -> list:
    """One check per kind: per-run checks ``name[lr=...]`` of the same kind merged (all pass ->
    pass, any fail -> fail, else inconclusive; non-essential kinds pass if some run passed and
    none failed), quoting the run that decided."""
    groups: dict = {}
    for c in checks:
        groups.setdefault(c.name.split("[")[0], []).append(c)
    out = []
    for base, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        statuses = {c.status for c in members}
        fails = [c for c in members if c.status == "fail"]
        if fails:
            status = "fail"
            sentence = "; ".join(f"{c.name.partition('[')[2].rstrip(']')}: {c.sentence}" for c in fails)
        elif statuses == {"pass"}:
            status = "pass"
            sentence = f"in all {len(members)} runs; e.g. {members[-1].name.partition('[')[2].rstrip(']')}: " \
                       f"{members[-1].sentence}"
        else:
            passed = [c for c in members if c.status == "pass"]
            status = "pass" if passed and base not in _ESSENTIAL else "inconclusive"
            shown = passed[0] if passed else members[-1]
            others = [c for c in members if c.status == "inconclusive"]
            sentence = (f"{shown.name.partition('[')[2].rstrip(']')}: {shown.sentence}"
                        + (f"; inconclusive in {len(others)} run(s), e.g. {others[0].sentence}" if passed and others else
                           f" (the same in {len(members) - 1} other run(s))" if not passed else ""))
        out.append(Check(base, status, sentence, members[-1].predicted, members[-1].measured, members[-1].threshold))
    return out


def combine(records, theory, checks, details, reasons) -> Verdict:
    details["checks"] = [asdict(c) for c in checks]
    checks = _merge_runs(checks)
    fails = [c for c in checks if c.status == "fail"]
    passes = [c for c in checks if c.status == "pass"]
    incon = [c for c in checks if c.status == "inconclusive"]
    for c in checks:
        mark = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}[c.status]
        reasons.append(f"[{mark}] {c.name}: {c.sentence}.")
    rec = records[0]
    stated = "; ".join(s.claim for s in theory.nonlinear_theory())
    if fails:
        verdict = "refuted"
        reasons.insert(0, f"The {theory.name} theory ({stated}) is contradicted by "
                          f"{len(fails)} sub-check(s).")
    else:
        essential = [c for c in checks if c.name in _ESSENTIAL]
        if essential and all(c.status == "pass" for c in essential):
            verdict = "verified"
            reasons.insert(0, f"Every essential prediction of the {theory.name} theory held ({len(passes)} "
                              f"sub-check(s) passed" + (f", {len(incon)} could not be run or their hypothesis "
                                                        f"was not met" if incon else "") + ").")
        else:
            verdict = "inconclusive"
            reasons.insert(0, f"No prediction of the {theory.name} theory failed, but not every essential one "
                              f"could be decided.")
    series = {"runs": [{"lr": base_lr(r), "steps": np.arange(r.steps_done + 1),
                        "measured_nc0": np.linalg.norm(np.asarray(r.row_sums, float), axis=1)} for r in records]}
    return Verdict(verdict, rec.optimizer, dict(rec.hparams), details=details, reasons=reasons,
                   theory=theory.name, theory_hparams={k: float(v) for k, v in theory.values.items()},
                   series=series)


#: Sub-checks that must pass for "verified" (the others may be inconclusive when their
#: hypotheses are not met, e.g. the parity bound before the sign pattern settles).
_ESSENTIAL = {"sign_increments", "scaling_law", "nc0_rel_order_one", "nc0_rel_decreases", "nc0_rel_persists"}
