r"""Verdicts for sign-based optimizers (signgd, signgd_decoupled; Lion's integer increments).

**Sign-based optimizers** (THEORY.md section 4). The step direction is a sign vector, so
the row sum of the step is an *integer* vector: ``s_{t+1} = s_t - eta sigma_t`` (coupled,
signgd) or ``s_{t+1} = (1 - eta lambda) s_t - eta sigma_t`` (decoupled, signgd_decoupled
and lion) with ``sigma_t`` in ``{-K..K}^d`` -- an exact identity checked at every step
(:data:`INTEGER_TOLERANCE`); entries have the parity of K where the sign's argument has no
zero. Scaling laws need runs at >= :data:`MIN_STEP_SIZES` step sizes (``check.py`` runs lr,
lr/3, lr/9 for the same physical time ``eta * steps``): the NC0 plateau (median of
``||s_t||`` over the last :data:`PLATEAU_FRACTION` of each run) must scale linearly in eta
under coupled decay (log-log slope in :data:`COUPLED_SLOPE_WINDOW`, decreasing with eta)
and not at all under decoupled decay (``|slope| <`` :data:`DECOUPLED_MAX_ABS_SLOPE`, NC0_rel
``>=`` :data:`DECOUPLED_MIN_NC0_REL`). The parity bound (odd K) is checked when its
hypothesis -- a constant sign pattern over the final window, read off the integer
``sigma_t`` -- holds, and reported inconclusive otherwise. The box bound needs
``||W_t||_inf`` (metric ``"w_sup"``); without it that sub-check is inconclusive.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.verdict.combine import combine, require_decay
from nctheory.verdict.record import (PLATEAU_FRACTION, base_lr, fmt, machine_eps, nc0_rel_series, plateau, previous_window,
                     recorded_metric, weight_norm_per_step)
from nctheory.verdict.result import Check, Verdict
from nctheory.verdict.theory import theory_lrs


#: A scaling law needs at least three step sizes: two points always fit a line; the third
#: can contradict it.
MIN_STEP_SIZES = 3


#: Coupled SignGD: the plateau is O(eta) (each coordinate moves by exactly eta per step
#: around a stationary point with NC0 = 0, Theorem 2), so log plateau vs log eta has slope
#: 1. The window [0.5, 1.5] accepts the noise of a median over an oscillating plateau
#: (THEORY.md section 4 measured 0.058, 0.013-0.024, 0.005-0.007 at eta = 1e-2, 3e-3,
#: 1e-3: slopes 0.9-1.2) and rejects both "no scaling" (slope 0, the decoupled law) and
#: eta^2 or faster.
COUPLED_SLOPE_WINDOW = (0.5, 1.5)


#: Decoupled SignGD: the plateau is set by 1/lambda (s_t -> -sigma/lambda, whatever eta),
#: so the slope is 0. |slope| < 0.3 tolerates the finite-time drift of the three runs
#: (at equal physical time eta*t they sit at the same point of the same trajectory up to
#: O(eta) corrections) and is far from the coupled law's 1: a run can fail it. This is a
#: prediction, not a tautology, only at physical times where the coupled method at the
#: same settings has already reached its O(eta) plateau -- before that every method's NC0
#: is eta-independent at equal physical time (the small-step flow limit). check.py uses
#: physical time 10, where ``check signgd`` with the same defaults shows slope ~1.
DECOUPLED_MAX_ABS_SLOPE = 0.3


#: Decoupled SignGD: NC0_rel stays of order one (THEORY.md measured 0.56-0.99). A random
#: iid initialisation has NC0_rel ~ 1/sqrt(K) (0.45 for K = 5); 0.3 is below what was
#: seen and far above the coupled optimizer's plateau (O(eta)/||W||, ~1e-3).
DECOUPLED_MIN_NC0_REL = 0.3


#: A plateau must have settled: the median NC0 over the last 20% of steps must be at least
#: half the median over the 20% before, else NC0 is still falling and the plateau is only
#: an upper bound (the run is too short; the verdict is inconclusive).
SETTLED_MIN_RATIO = 0.5


#: sigma_t = (row-sum increment) / eta must be an integer vector: a wrong theory (coupled
#: vs decoupled, a wrong lambda) leaves fractional parts of order lambda ||s_t|| (many
#: orders above), the float64 reconstruction error is ~eps sqrt(K) ||W||_F / eta (~1e-11).
#: The tolerance used is max(INTEGER_TOLERANCE[dtype], 100 x that estimate); if the
#: estimate itself exceeds INTEGER_MAX_RESOLVABLE the sub-check is inconclusive.
INTEGER_TOLERANCE = {"float64": 1e-6, "float32": 1e-2}


INTEGER_MAX_RESOLVABLE = 0.05


def _increment_coefficients(theory, lrs):
    """``(A_t, B_t, form)``: the derived ``s_{t+1} = A_t s_t + B_t sigma_t`` at each step's lr.

    From :func:`nctheory.theory.symbolic.opaque.opaque_dynamics` with the sign output held
    opaque: never typed per optimizer. Needs one opaque output and no linear buffer.
    """
    import sympy as sp

    from nctheory.theory.symbolic.opaque import opaque_dynamics

    dyn = opaque_dynamics(theory.without("lr"))
    if dyn.matrix.shape != (1, 1) or len(dyn.opaque) != 1:
        raise NCTheoryError(f"{theory.name}: the row sums are not s' = A s + B sigma with one sign output")
    eta = theory.symbols()["lr"]
    a, b = dyn.matrix[0, 0], dyn.input_matrix[0, 0]
    if (a.free_symbols | b.free_symbols) - {eta}:
        theory.require_values()
    A = np.broadcast_to(np.asarray(sp.lambdify(eta, a, "numpy")(lrs), dtype=np.float64), lrs.shape)
    B = np.broadcast_to(np.asarray(sp.lambdify(eta, b, "numpy")(lrs), dtype=np.float64), lrs.shape)
    generic = opaque_dynamics(theory.without(*theory.hyperparameter_names))
    form = f"s_(t+1) = ({generic.matrix[0, 0]}) s_t + ({generic.input_matrix[0, 0]}) sigma_t"
    return A, B, form.replace("eta", "eta_t")


def sign_increments(record, theory):
    """``sigma_t = (s_{t+1} - A_t s_t) / B_t``, with the derived coefficients at the theory's
    hyperparameters and learning rates (coupled SignGD: ``s' = s - eta sigma``; decoupled:
    ``s' = (1 - eta lambda) s - eta sigma``); shape (T, d). A step with ``lr = 0`` moves
    nothing (``B_t = 0``): its sigma is not observable and is NaN."""
    S = np.asarray(record.row_sums, dtype=np.float64)
    lrs, _ = theory_lrs(record, theory)
    A, B, _ = _increment_coefficients(theory, lrs)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (S[1:] - A[:, None] * S[:-1]) / B[:, None]
    out[B == 0] = np.nan
    return out


def integer_check(record, theory) -> tuple[Check, np.ndarray | None]:
    K = record.num_classes
    lrs, _ = theory_lrs(record, theory)
    sigma = sign_increments(record, theory)[lrs > 0]  # lr = 0: nothing moved, nothing to read
    if sigma.size == 0:
        return Check("sign_increments", "inconclusive", "no step with lr > 0 to check"), None
    eps = machine_eps(record)
    lrs = lrs[lrs > 0]
    wnorm, _ = weight_norm_per_step(record)
    S = np.asarray(record.row_sums, dtype=np.float64)
    recon = eps * (math.sqrt(K) * np.max(wnorm) + np.max(np.abs(S))) / np.min(lrs)
    tol = max(INTEGER_TOLERANCE[record.dtype], 100 * recon)
    rounded = np.rint(sigma)
    frac = float(np.max(np.abs(sigma - rounded)))
    within = float(np.max(np.abs(rounded))) <= K
    form = _increment_coefficients(theory, lrs)[2]
    if recon > INTEGER_MAX_RESOLVABLE:
        return Check("sign_increments", "inconclusive",
                     f"the row-sum increments cannot resolve integers in {record.dtype} "
                     f"(reconstruction error ~{fmt(recon, 2)})", threshold=tol, measured=frac), None
    if frac > tol or not within:
        bad_t = int(np.argmax(np.max(np.abs(sigma - rounded), axis=1)))
        return Check("sign_increments", "fail",
                     f"{form} with sigma_t in {{-K..K}}^d fails: sigma_t has fractional parts up to "
                     f"{fmt(frac, 3)} (tolerance {fmt(tol, 2)}; worst at step {bad_t})"
                     + ("" if within else f" or entries beyond K = {K}"),
                     predicted="integer vector", measured=frac, threshold=tol), None
    ints = rounded.astype(np.int64)
    parity_ok = float(np.mean((ints - K) % 2 == 0))
    return Check("sign_increments", "pass",
                 f"{form} holds with sigma_t an integer vector in {{-K..K}}^d at all {len(ints)} steps "
                 f"(max distance to an integer {fmt(frac, 2)} <= {fmt(tol, 2)}); {100 * parity_ok:.1f}% of the "
                 f"entries have the parity of K = {K} (the rest come from zero entries of the sign's argument)",
                 predicted="integer vector", measured=frac, threshold=tol), ints


def parity_check(record, theory, ints) -> Check:
    K = record.num_classes
    lam = float(theory.values.get("weight_decay", 0.0))
    from nctheory.theory.symbolic.signbased import parity_lower_bound

    if K % 2 == 0:
        return Check("parity_lower_bound", "inconclusive", f"not applicable: K = {K} is even (the bound is 0)")
    if lam <= 0:
        return Check("parity_lower_bound", "inconclusive", "not applicable: weight_decay = 0")
    if ints is None:
        return Check("parity_lower_bound", "inconclusive",
                     "the sign pattern could not be read off the row sums (see sign_increments)")
    T = len(ints)
    k = max(2, int(math.ceil(PLATEAU_FRACTION * T)))
    window = ints[T - k:]
    changes = int(np.sum(np.any(window[1:] != window[:-1], axis=1)))
    if changes:
        return Check("parity_lower_bound", "inconclusive",
                     f"hypothesis not met: the row sum sigma_t of the sign pattern changed at {changes} of the "
                     f"last {k - 1} steps (the bound needs an eventually constant sign pattern)")
    sigma = window[-1]
    odd = np.abs(sigma) % 2 == 1
    d, d_odd = sigma.size, int(odd.sum())
    limit = float(np.linalg.norm(sigma)) / lam
    bound = parity_lower_bound(d_odd, K, lam) if d_odd else 0.0
    full = parity_lower_bound(d, K, lam)
    S = np.asarray(record.row_sums, dtype=np.float64)
    end = float(np.linalg.norm(S[-1]))
    gap = float(np.linalg.norm(S[-1] + sigma / lam))
    sentence = (f"sign pattern constant over the last {k} steps, so s_t -> -sigma/lambda: lim NC0 = ||sigma||/lambda "
                f"= {fmt(limit)} >= sqrt(d')/lambda = {fmt(bound)} with d' = {d_odd} of {d} coordinates odd "
                f"(K = {K} odd; full-hypothesis bound sqrt(d)/lambda = {fmt(full)}); NC0 now {fmt(end)}, "
                f"{fmt(gap, 3)} from the limit")
    status = "pass" if limit >= bound * (1 - 1e-12) else "fail"
    return Check("parity_lower_bound", status, sentence, predicted=bound, measured=limit)


def box_check(record, theory) -> Check:
    from nctheory.theory.symbolic.signbased import box_bound

    sup = recorded_metric(record, "w_sup")
    lam = float(theory.values.get("weight_decay", 0.0))
    if sup is None:
        return Check("box_bound", "inconclusive", "||W_t||_inf was not recorded (metric 'w_sup')")
    lrs, _ = theory_lrs(record, theory)
    a_max = float(np.max(lrs)) * lam
    if not 0 < a_max <= 1 or not np.all(lrs == lrs[0]):
        return Check("box_bound", "inconclusive", "hypothesis 0 < eta lambda <= 1 with constant eta not met")
    steps = np.asarray(record.metric_steps, dtype=int)
    ok = np.isfinite(sup)
    bounds = np.array([box_bound(float(sup[0]), float(lrs[0]), lam, int(t)) for t in steps])
    slack = 1e-12 * max(1.0, float(np.max(bounds)))
    worst = float(np.max((sup - bounds)[ok]))
    status = "pass" if worst <= slack else "fail"
    return Check("box_bound", status,
                 f"||W_t||_inf <= (1-a)^t ||W_0||_inf + (1-(1-a)^t)/lambda at every recorded step "
                 f"(largest excess {fmt(worst, 3)}; limit max(||W_0||_inf, 1/lambda) = "
                 f"{fmt(max(float(sup[0]), 1 / lam))})" if status == "pass" else
                 f"the box bound is violated by {fmt(worst, 3)}",
                 predicted=float(bounds[-1]), measured=float(sup[-1]))


def check_sign(records, theories, kind) -> Verdict:
    theory = theories[0]
    from nctheory.theory.family import family

    structure = family(theory).coupling
    lam = float(theory.values.get("weight_decay", 0.0))
    checks, reasons = [], []
    ints_by_run = []
    for rec, th in zip(records, theories):
        check, ints = integer_check(rec, th)
        check.name = f"sign_increments[lr={base_lr(rec):g}]"
        checks.append(check)
        ints_by_run.append(ints)
    # scaling law across step sizes
    lrs = np.array([base_lr(r) for r in records])
    plateaus = np.array([plateau(np.linalg.norm(np.asarray(r.row_sums, float), axis=1)) for r in records])
    previous = np.array([previous_window(np.linalg.norm(np.asarray(r.row_sums, float), axis=1)) for r in records])
    rel_plateaus = []
    for r in records:
        _, rel = nc0_rel_series(r)
        rel_plateaus.append(plateau(rel) if rel is not None else math.nan)
    rel_plateaus = np.array(rel_plateaus)
    order = np.argsort(lrs)
    details = {"kind": kind, "structure": structure, "step_sizes": lrs[order].tolist(),
               "plateaus": plateaus[order].tolist(), "nc0_rel_plateaus": rel_plateaus[order].tolist(),
               "steps": [records[i].steps_done for i in order]}
    slope = None
    if len(np.unique(lrs)) < MIN_STEP_SIZES:
        checks.append(Check("scaling_law", "inconclusive",
                            f"a scaling law needs runs at >= {MIN_STEP_SIZES} distinct step sizes, got "
                            f"{len(np.unique(lrs))} (python -m nctheory.check runs lr, lr/3, lr/9)"))
    elif np.any(plateaus <= 0):
        checks.append(Check("scaling_law", "inconclusive", "a plateau is exactly 0: no log-log slope"))
    else:
        slope = float(np.polyfit(np.log(lrs), np.log(plateaus), 1)[0])
        settled = plateaus >= SETTLED_MIN_RATIO * previous
        details["measured_slope"] = slope
        details["settled"] = settled[order].tolist()
        table = ", ".join(f"{lr:g}: {p:.3g}" for lr, p in zip(lrs[order], plateaus[order]))
        if structure == "coupled":
            lo, hi = COUPLED_SLOPE_WINDOW
            increasing = bool(np.all(np.diff(plateaus[order]) > 0))
            details["predicted_slope"] = 1.0
            ok = lo <= slope <= hi and increasing
            sentence = (f"NC0 plateau (median over the last {PLATEAU_FRACTION:.0%} of steps) vs lr ({table}): "
                        f"log-log slope {slope:.3f}, predicted 1 (window [{lo}, {hi}]); "
                        + ("shrinks with lr" if increasing else "does NOT shrink monotonically with lr"))
            status = "pass" if ok else "fail"
        else:
            details["predicted_slope"] = 0.0
            ok_slope = abs(slope) < DECOUPLED_MAX_ABS_SLOPE
            sentence = (f"NC0 plateau vs lr ({table}): log-log slope {slope:.3f}, predicted 0 "
                        f"(|slope| < {DECOUPLED_MAX_ABS_SLOPE}: set by 1/lambda, not by eta)")
            status = "pass" if ok_slope else "fail"
        if status == "pass" and not np.all(settled):
            status = "inconclusive"
            sentence += (f"; but NC0 was still falling (last-window median < {SETTLED_MIN_RATIO} x the one before) "
                         f"at lr = {', '.join(f'{x:g}' for x in lrs[~settled])}: run longer")
        elif status == "fail" and not np.all(settled) and structure == "coupled" and slope < COUPLED_SLOPE_WINDOW[0]:
            status = "inconclusive"
            sentence += (f"; NC0 was still falling at lr = {', '.join(f'{x:g}' for x in lrs[~settled])}, so the "
                         f"small-lr plateaus are only upper bounds: run longer")
        checks.append(Check("scaling_law", status, sentence, predicted=details["predicted_slope"], measured=slope,
                            threshold=list(COUPLED_SLOPE_WINDOW) if structure == "coupled" else DECOUPLED_MAX_ABS_SLOPE))
    if structure == "decoupled":
        if np.all(np.isnan(rel_plateaus)):
            checks.append(Check("nc0_rel_order_one", "inconclusive", "NC0_rel was not recorded"))
        else:
            low = float(np.nanmin(rel_plateaus))
            checks.append(Check("nc0_rel_order_one", "pass" if low >= DECOUPLED_MIN_NC0_REL else "fail",
                                f"NC0_rel plateau >= {DECOUPLED_MIN_NC0_REL} at every lr (smallest {low:.3f})",
                                predicted=f">= {DECOUPLED_MIN_NC0_REL}", measured=low,
                                threshold=DECOUPLED_MIN_NC0_REL))
        names = {s.name for s in theory.nonlinear_theory()}
        if "parity_lower_bound" in names:
            for rec, th, ints in zip(records, theories, ints_by_run):
                c = parity_check(rec, th, ints)
                c.name = f"parity_lower_bound[lr={base_lr(rec):g}]"
                checks.append(c)
        if "box_bound" in names:
            for rec, th in zip(records, theories):
                c = box_check(rec, th)
                c.name = f"box_bound[lr={base_lr(rec):g}]"
                checks.append(c)
    require_decay(checks, lam)
    return combine(records, theory, checks, details, reasons)
