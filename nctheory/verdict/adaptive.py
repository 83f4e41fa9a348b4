r"""Verdicts for Adam, AdamW and Lion: falsifiable thresholds on NC0_rel.

**Adam, AdamW, Lion**: falsifiable thresholds on NC0_rel (:data:`ADAM_MAX_END_FRACTION`,
:data:`ADAMW_MIN_END_FRACTION`) and the bound ``NC3 >= NC0_rel`` (balanced classes),
see their docstrings.

No thresholds on NC1 / NC2: NC0 constrains the classifier W only, and the features
collapse (NC1 -> 0) under AdamW as well as Adam in the UFM (measured 0.03 x start under
both), so such a threshold would not discriminate the theories. NC3 is constrained:
for balanced classes the centred class means sum to zero, hence
``NC3 = ||W/||W||_F - M/||M||_F||_F >= ||1^T W|| / (sqrt(K) ||W||_F) = NC0_rel`` -- an
inequality checked at every recorded step; under decoupled decay it keeps NC3 >=
ADAMW_MIN_END_FRACTION x NC0_rel(start) (self-duality cannot emerge).
"""

from __future__ import annotations

import numpy as np

from nctheory.verdict.combine import combine, require_decay
from nctheory.verdict.record import PLATEAU_FRACTION, base_lr, nc0_rel_series, plateau, previous_window, recorded_metric
from nctheory.verdict.result import Check, Verdict
from nctheory.verdict.sign import box_check, integer_check
from nctheory.verdict.theory import sign_structure


#: Adam (coupled decay): stationary points of the L2-regularised objective have NC0 = 0
#: (Theorem 2) and Adam's step, like SignGD's, reaches an O(eta) neighbourhood. Once the
#: run is past its transient (:data:`ADAPTIVE_MIN_PHYSICAL_TIME`) the relative NC0 must have
#: fallen to at most a tenth of its start (measured on the UFM, K = 5, lr = 1e-3,
#: lambda = 5e-2: 0.39 -> 0.006 in 3000 steps, a factor 60; K = 10: 0.27 -> 0.018; MLP on
#: Gaussian data: 0.40 -> 1e-4; AdamW at the same settings keeps 0.6 of it). A run above
#: the threshold whose NC0_rel still falls (last-window median below the previous one by
#: more than ADAM_TREND_SLACK) is inconclusive (too short), not refuted; above it and no
#: longer falling, refuted. Below it, O(eta) fluctuations of the plateau do not matter.
ADAM_MAX_END_FRACTION = 0.1


ADAM_TREND_SLACK = 0.05


#: AdamW / Lion (decoupled decay): NC0 does not vanish. NC0_rel must stay >= a quarter of
#: its start (measured at physical time lr * steps = 3-10: AdamW 0.55-0.67 x start on the
#: UFM with K = 5 and 10 and an MLP on Gaussian data, Lion 0.43-0.76; Adam falls to
#: 0.02 x start or below at the same settings): a factor 2.5 from Adam's threshold on
#: both sides.
ADAMW_MIN_END_FRACTION = 0.25


#: The adaptive and sign-based steps move each coordinate by about lr per step, so
#: lr * steps bounds how far the weights can have travelled. Below 2 (the weights start at
#: scale 1/sqrt(d) and the features at scale 1) the run cannot have left its transient and
#: the NC0_rel thresholds are not applied ("inconclusive: too short").
ADAPTIVE_MIN_PHYSICAL_TIME = 2.0


def check_adaptive(records, theories, kind) -> Verdict:
    theory = theories[0]
    checks, reasons = [], []
    details = {"kind": kind}
    lam = float(theory.values.get("weight_decay", 0.0))
    names = {s.name for s in theory.nonlinear_theory()}
    structure = sign_structure(theory)
    for rec, th in zip(records, theories):
        tag = f"[lr={base_lr(rec):g}]" if len(records) > 1 else ""
        if structure is not None:  # lion: the integer increments hold too
            c, _ = integer_check(rec, th)
            c.name += tag
            checks.append(c)
        steps, rel = nc0_rel_series(rec)
        if rel is None or len(rel) < 5:
            checks.append(Check("nc0_rel" + tag, "inconclusive", "NC0_rel was recorded at fewer than 5 steps"))
            continue
        start, end, before = float(rel[0]), plateau(rel), previous_window(rel)
        details.setdefault("nc0_rel_start", []).append(start)
        details.setdefault("nc0_rel_end", []).append(end)
        phys = float(np.sum(rec.learning_rates))
        details.setdefault("physical_time", []).append(phys)
        short = phys < ADAPTIVE_MIN_PHYSICAL_TIME
        too_short = (f"; but the run is too short to have left its transient (lr * steps = {phys:.3g} < "
                     f"{ADAPTIVE_MIN_PHYSICAL_TIME}): run longer")
        if kind == "adaptive_coupled":
            ok_end = end <= ADAM_MAX_END_FRACTION * start
            falling = end < before * (1 - ADAM_TREND_SLACK)
            status = "pass" if ok_end else "fail"
            sentence = (f"NC0_rel {start:.3g} at the start -> {end:.3g} at the end (median of the last "
                        f"{PLATEAU_FRACTION:.0%}; previous window {before:.3g}); predicted <= "
                        f"{ADAM_MAX_END_FRACTION} x start = {ADAM_MAX_END_FRACTION * start:.3g}")
            if status == "fail" and short:
                status, sentence = "inconclusive", sentence + too_short
            elif status == "fail" and falling:
                status, sentence = "inconclusive", sentence + "; still falling: run longer"
            elif status == "fail":
                sentence += "; and no longer falling"
            checks.append(Check("nc0_rel_decreases" + tag, status, sentence,
                                predicted=f"<= {ADAM_MAX_END_FRACTION * start:.3g}", measured=end,
                                threshold=ADAM_MAX_END_FRACTION))
        else:
            ok = end >= ADAMW_MIN_END_FRACTION * start
            status = "pass" if ok else "fail"
            sentence = (f"NC0_rel {start:.3g} at the start -> {end:.3g} at the end; predicted to stay >= "
                        f"{ADAMW_MIN_END_FRACTION} x start = {ADAMW_MIN_END_FRACTION * start:.3g} (does not vanish)")
            if status == "pass" and short:
                status, sentence = "inconclusive", sentence + too_short
            checks.append(Check("nc0_rel_persists" + tag, status, sentence,
                                predicted=f">= {ADAMW_MIN_END_FRACTION * start:.3g}", measured=end,
                                threshold=ADAMW_MIN_END_FRACTION))
        nc3 = recorded_metric(rec, "nc3")
        if nc3 is not None and len(nc3) == len(np.asarray(rec.metric_steps)):
            raw_rel = np.asarray(rec.metrics["nc0_rel"], float)
            ok = np.isfinite(nc3) & np.isfinite(raw_rel)
            if ok.any():
                excess = float(np.max(raw_rel[ok] - nc3[ok]))
                nc3_end = plateau(nc3[ok])
                details.setdefault("nc3_end", []).append(nc3_end)
                # exact for balanced classes (the UFM by construction); elsewhere the centred
                # means need not sum to zero and a violation is not a refutation
                balanced = rec.model == "ufm"
                status = "pass" if excess <= 1e-9 else ("fail" if balanced else "inconclusive")
                checks.append(Check(
                    "nc3_at_least_nc0_rel" + tag, status,
                    f"NC3 >= NC0_rel at every recorded step (balanced classes: the centred means sum to 0, so "
                    f"||W/||W|| - M/||M|| ||_F >= ||1^T W|| / (sqrt(K) ||W||_F)); NC3 at the end {nc3_end:.3g}"
                    + ("" if excess <= 1e-9 else f"; violated by {excess:.3g}"
                       + ("" if balanced else " (the classes need not be balanced here)")),
                    predicted="NC3 >= NC0_rel", measured=nc3_end))
                if kind == "adaptive_decoupled" and not short:
                    floor3 = ADAMW_MIN_END_FRACTION * start
                    checks.append(Check(
                        "nc3_bounded_below" + tag, "pass" if nc3_end >= floor3 else "fail",
                        f"NC3 at the end {nc3_end:.3g} >= {ADAMW_MIN_END_FRACTION} x NC0_rel(start) = {floor3:.3g}: "
                        f"self-duality cannot emerge while NC0 persists",
                        predicted=f">= {floor3:.3g}", measured=nc3_end))
        if "box_bound" in names:
            c = box_check(rec, th)
            c.name += tag
            checks.append(c)
    require_decay(checks, lam)
    return combine(records, theory, checks, details, reasons)
