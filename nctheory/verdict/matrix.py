r"""Verdicts for matrix optimizers (Muon, Shampoo, SOAP): the family derived by
:mod:`nctheory.theory.symbolic.centring`.

**Exact recurrence** (decoupled decay, every matrix map left-orthogonally equivariant and fed
only centred arguments: ``torch.optim.Muon``, Shampoo with decoupled decay, SOAP). The matrix
theorem (:mod:`nctheory.theorems.matrix_row_sums`) makes every matrix output's row sum 0, so
the row sums follow ``x' = A x`` exactly (decoupled Muon: ``s' = (1 - eta lambda) s``). Judged
exactly like a linear theory (:func:`nctheory.verdict.linear.check_linear`: the whole
trajectory to 1e-9 in float64). The rounding floor there models the writes of weights and
buffers and the gradient's row sum through the linear buffers, and the Newton-Schulz output's
own row-sum rounding (:mod:`nctheory.verdict.matrix_rounding`: the input's rounding amplified by
up to ``a^steps`` plus each iteration's own, by Higham's product bound); SOAP's and Shampoo's
output rounding is not modelled, so their long runs, where NC0 has decayed by orders of
magnitude, can be refuted by rounding alone -- torch's *bfloat16* Newton-Schulz is another matter: its
rounding injects ``~2^-8`` relative row sums per step and the trajectory drifts to a floor
(:mod:`nctheory.theorems.bfloat16_floor`), so a run of ``torch.optim.Muon`` itself is refuted
by this check, as it should be: the exact recurrence does not describe it.

**Coupled decay** (``lambda W`` inside the matrix map's argument: ``muon_coupled``). No
recurrence: the argument's row sum is ``lambda s + ...`` and the reflection argument fails.
What remains (THEORY.md section 4b): stationary points of the L2-regularised objective have
NC0 = 0 (Theorem 2), and the orthogonalised step has all its nonzero singular values near 1
whatever the gradient's size, so with a constant step only an O(eta) neighbourhood of them
is reached -- as for coupled sign descent. Checked over >= 3 step sizes for the same physical
time (the protocol of :mod:`nctheory.verdict.sign`): the NC0_rel plateau (median over the last
20% of each run) must have fallen to at most :data:`COUPLED_MAX_END_FRACTION` of its start and
must grow with eta, log-log slope in :data:`COUPLED_SLOPE_WINDOW`. Measured (UFM K = 5, d = 16,
lambda = 0.01, physical time 10, 3 seeds, numerics/results/matrix_coupled_scaling.json): NC0_rel
0.39 -> 1.2e-3, 6.4e-4, 1.9e-4 at eta = 0.02, 0.0067, 0.0022 (slope 0.85), the loss at 0.12 in
all three; decoupled Muon at the same settings: NC0 is ``exp(-lambda eta t) = 0.9`` of its start,
NC0_rel 0.05-0.06 (the weights grow), slope -0.08 -- refuted by this check.
"""

from __future__ import annotations

import numpy as np

from nctheory.verdict.combine import combine, require_decay
from nctheory.verdict.linear import check_linear
from nctheory.verdict.record import (PLATEAU_FRACTION, base_lr, nc0_rel_series, plateau, previous_window,
                                     recorded_metric)
from nctheory.verdict.result import SEVERITY, Check, Verdict

#: Coupled Muon: NC0_rel at the end at most this fraction of its start (THEORY.md 4b, digits:
#: 0.31 -> 2e-3 .. 4e-3, a factor ~100; UFM 0.39 -> 2e-4 .. 1.2e-3, module docstring); decoupled
#: Muon at equal physical time keeps 0.13-0.15 of it, and AdamW-like methods more.
COUPLED_MAX_END_FRACTION = 0.1
#: Coupled Muon: log plateau against log eta, slope 1 for an O(eta) neighbourhood. The window
#: is the sign verdict's (noise of a median over an oscillating plateau), rejecting both "no
#: scaling" (0) and eta^2.
COUPLED_SLOPE_WINDOW = (0.5, 1.5)
MIN_STEP_SIZES = 3
#: A plateau has settled when its median is at least half the median of the window before
#: (as in :mod:`nctheory.verdict.sign`); a run still falling is too short, not refuted.
SETTLED_MIN_RATIO = 0.5
#: ``||W||_F`` at the end below this fraction of its start: the decay has driven the weights to
#: the trivial stationary point 0 (UFM with lambda = 0.1: ||W|| -> 0, loss -> log K), where
#: NC0_rel is a ratio of rounding noise; the sub-check is then inconclusive.
COLLAPSED_WEIGHTS = 2e-2
#: ... or the loss's plateau at least this fraction of log K (uniform predictions: W ~ 0).
COLLAPSED_LOSS = 0.98

RECURRENCE_NOTE = ("The recurrence is exact although the optimizer is not linear: every matrix map of the chain is "
                   "left-orthogonally equivariant and sees only arguments built from gradients, whose row sums vanish "
                   "(Lemma 1), so its output's row sums vanish too (theorem matrix_row_sums) -- derived from the chain "
                   "by nctheory.theory.symbolic.centring.")


def check_matrix(records, predictions, theories, kind) -> Verdict:
    """Judge matrix-family runs: the linear verdict where the recurrence is exact, the O(eta)
    neighbourhood over several step sizes under coupled decay."""
    theory = theories[0]
    if theory.family.exact_recurrence:
        verdicts = [check_linear(r, p) for r, p in zip(records, predictions)]
        out = min(verdicts, key=lambda v: SEVERITY.index(v.verdict))
        if len(verdicts) > 1:
            out.details["per_run"] = [v.to_dict() for v in verdicts]
        out.details["kind"] = kind
        out.reasons.append(RECURRENCE_NOTE)
        return out
    return _check_coupled(records, theories, kind)


def _check_coupled(records, theories, kind) -> Verdict:
    theory = theories[0]
    checks, reasons, details = [], [], {"kind": kind}
    lrs, ends = [], []
    for rec in records:
        tag = f"[lr={base_lr(rec):g}]" if len(records) > 1 else ""
        _, rel = nc0_rel_series(rec)
        if rel is None or len(rel) < 5:
            checks.append(Check("nc0_rel_decreases" + tag, "inconclusive", "NC0_rel was recorded at fewer than 5 steps"))
            continue
        start, end, before = float(rel[0]), plateau(rel), previous_window(rel)
        details.setdefault("nc0_rel_start", []).append(start)
        details.setdefault("nc0_rel_end", []).append(end)
        sentence = (f"NC0_rel {start:.3g} -> {end:.3g} (median of the last {PLATEAU_FRACTION:.0%}; previous window "
                    f"{before:.3g}); predicted <= {COUPLED_MAX_END_FRACTION} x start")
        status = "pass" if end <= COUPLED_MAX_END_FRACTION * start else "fail"
        w, loss = recorded_metric(rec, "w_fro"), recorded_metric(rec, "loss")
        collapsed = (w is not None and len(w) > 1 and w[-1] < COLLAPSED_WEIGHTS * w[0]) or (
            loss is not None and len(loss) and plateau(loss) >= COLLAPSED_LOSS * np.log(rec.num_classes))
        if collapsed:
            status, sentence = "inconclusive", sentence + (
                "; but the weights collapsed towards the trivial stationary point 0 (||W||_F "
                + (f"{w[0]:.3g} -> {w[-1]:.3g}" if w is not None else "?") + ", loss at log K): the decay is too "
                "strong for this model, and NC0_rel is then a ratio of vanishing quantities (lower weight_decay)")
        elif status == "fail" and end < SETTLED_MIN_RATIO * before:
            status, sentence = "inconclusive", sentence + "; still falling: run longer"
        elif status == "pass":
            lrs.append(base_lr(rec))
            ends.append(end)
        checks.append(Check("nc0_rel_decreases" + tag, status, sentence,
                            predicted=f"<= {COUPLED_MAX_END_FRACTION * start:.3g}", measured=end))
    if len(set(lrs)) >= MIN_STEP_SIZES and all(e > 0 for e in ends):
        slope = float(np.polyfit(np.log(lrs), np.log(ends), 1)[0])
        low, high = COUPLED_SLOPE_WINDOW
        details["plateau_slope"] = slope
        checks.append(Check("scaling_law", "pass" if low <= slope <= high else "fail",
                            f"log NC0_rel plateau vs log eta over {len(lrs)} step sizes: slope {slope:.3f}; predicted "
                            f"in [{low}, {high}] (an O(eta) neighbourhood of NC0 = 0)",
                            predicted=f"[{low}, {high}]", measured=slope))
    else:
        checks.append(Check("scaling_law", "inconclusive",
                            f"the O(eta) law needs >= {MIN_STEP_SIZES} step sizes whose NC0_rel reached its plateau "
                            f"below {COUPLED_MAX_END_FRACTION} x start (got {len(set(lrs))})"))
    require_decay(checks, float(theory.values.get("weight_decay", 0.0)))
    return combine(records, theory, checks, details, reasons)
