r"""Verdicts for linear optimizers: the whole trajectory against the exact recurrence.

**Linear optimizers** (every transformation of the chain linear: the SGD family, Nesterov,
SGDW, QHM). Lemma 1 makes the row sums ``s_t = W_t^T 1_K`` obey an exact, data-independent
linear recurrence ``x_{t+1} = A(eta_t) x_t``, so the whole measured trajectory is compared
with the prediction ``theory.predict(s_0, T, lr_schedule=record.learning_rates)``, computed
once (:class:`~nctheory.verdict.prediction.Prediction`):

    max_rel_error = max_t ||pred_t - meas_t|| / ||meas_t||,

with tolerance ``1e-9`` in float64 and ``1e-4`` in float32 (:data:`TOLERANCES`).

*Why these tolerances, and when they cannot discriminate.* A float64 step rounds every
weight with relative error at most the machine epsilon ``eps``, so it adds to the row sum an
error vector of norm at most ``||1^T E|| <= sqrt(K) ||E||_F <= eps sqrt(K) ||W_t||_F``
(Cauchy-Schwarz); the buffers, the decay term and the numerically-not-quite-zero row sum
of the computed gradient (softmax minus one-hot sums to ``O(eps)``, not 0) add terms of the
same order while ``eta ||G|| <= ||W||``, which we cover with a factor 2:
``inj_j = 2 eps sqrt(K) ||W_j||_F``. The recurrence carries an error injected at step j to
step t with norm at most ``||A^(t-1-j)||_2`` times its own (> 1 for momentum: the
transition matrix is not normal). These round-to-nearest errors are nearly independent
and add like a random walk. The float64 prediction has its own, *systematic* rounding:
the same rounded matrix is applied at every step, so its error grows linearly, about
``0.26 t eps`` relative (measured against 50-digit arithmetic). The **rounding noise
floor** (:func:`noise_floor`) is

    floor_t = 2 sqrt( sum_{j<t} (||A^(t-1-j)|| inj_j)^2 ) + sum_{j<t} ||A^(t-1-j)|| (n eps ||A||) ||s_j||,

capped by the worst case (all errors aligned). For a contracting recurrence the first
term saturates near ``2 inj / sqrt(1 - rho^2)``: in float64, with ``||W||_F ~ 5``, K = 5,
rho = 0.995, about ``2 * 5e-15 * 10 = 1e-13``; the second is ``~ t eps``. So while
NC0_rel = ||s|| / (sqrt(K) ||W||_F) stays above ~1e-3 over a few thousand steps the truth
shows at most ~1e-10 relative error -- under 1e-9 -- while any error in the recurrence (a
wrong momentum, the wrong decay coupling, a loss violating Lemma 1) moves the trajectory
by a relative amount of order ``eta lambda t delta`` or ``eta ||1^T G|| t / ||s||``, many
orders larger. The tolerance sits between the two (measured: true theories stay below
0.26 of the floor, :data:`NOISE_SAFETY`). At a step where ``floor_t / ||s_t||`` exceeds
the tolerance -- NC0 has decayed to the rounding noise floor, e.g. after thousands of
steps with large ``eta lambda`` -- the comparison **cannot discriminate**: a correct
theory may differ by more than the tolerance and a wrong one by less. Such a run is
judged on the steps before the floor only: a mismatch there still refutes, but a match is
reported as ``"inconclusive"`` (never ``"verified"``), saying how many steps were
resolvable. In float32 (``eps = 1.2e-7``) the same floor is ~1e-5 .. 1e-4 relative for
NC0_rel ~ 0.1 over a hundred steps: hence 1e-4, and longer float32 runs, or runs whose
NC0_rel falls, become inconclusive (correctly: float32 cannot resolve them).

The rates: ``predicted_rate = theory.rate()`` (spectral radius of A); ``measured_rate``
is ``exp`` of the least-squares slope of ``log ||s_t||`` over the later half of the run
(above the noise floor). The rate of the modes actually *excited* from a fresh optimizer
state is derived exactly (the minimal polynomial of ``A_first e_1`` under A, in rational
arithmetic): where the buffers see only gradients (SGDW), whose row sums vanish, the
``mu``-mode is never excited and ``1 - eta lambda`` is what a run shows, even when
``mu > 1 - eta lambda`` makes ``mu`` the spectral radius.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.verdict.noise import noise_floor
from nctheory.verdict.record import fit_rate, fmt, machine_eps
from nctheory.verdict.result import Verdict
from nctheory.verdict.theory import hp_text


#: Whole-trajectory relative-error tolerance per dtype (module docstring: the rounding
#: noise floor of a few hundred to a few thousand steps lies below it, every wrong
#: recurrence far above it).
TOLERANCES = {"float64": 1e-9, "float32": 1e-4}


def check_linear(record, prediction) -> Verdict:
    """Judge one run of at least one step against a linear prediction bound to it
    (:func:`nctheory.verdict.prediction.for_run`)."""
    machine_eps(record)  # validates the dtype
    theory = prediction.spec
    tol = TOLERANCES[record.dtype]
    S = np.asarray(record.row_sums, dtype=np.float64)
    T = record.steps_done
    reasons, details = [], {"kind": "linear", "dtype": record.dtype, "steps": T}
    lrs, lr_note = prediction.learning_rates, prediction.lr_note
    if lr_note:
        reasons.append(lr_note + ".")
    predicted_rate = prediction.rate
    base = dict(name=record.optimizer, hparams=dict(record.hparams), predicted_rate=predicted_rate,
                tolerance=tol, theory=theory.name,
                theory_hparams={k: float(v) for k, v in theory.values.items()})

    # Lemma 1's hypothesis
    invariance = prediction.lemma1
    lemma1 = None if invariance is None else invariance.invariant
    details["loss"] = record.loss
    details["lemma1_holds"] = lemma1
    if lemma1 is False:
        details["lemma1_reason"] = invariance.reason

    pred = prediction.row_sums
    meas_norm = np.linalg.norm(S, axis=1)
    diff = np.linalg.norm(pred - S, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(meas_norm > 0, diff / meas_norm, np.where(diff > 0, np.inf, 0.0))

    _, floor, info = noise_floor(record, theory, lrs)
    amp, wsource = info["amplification"], info["weight_norm_source"]
    with np.errstate(divide="ignore", invalid="ignore"):
        noise_rel = np.where(meas_norm > 0, floor / meas_norm, np.inf)
    resolvable = noise_rel <= tol
    below = np.flatnonzero(~resolvable)
    first_unresolvable = int(below[0]) if below.size else None
    prefix = slice(0, first_unresolvable if first_unresolvable is not None else T + 1)
    max_err = float(np.max(rel[prefix])) if rel[prefix].size else None
    worst_step = int(np.argmax(rel[prefix])) if rel[prefix].size else None
    details.update(noise_floor_relative_max=float(np.max(noise_rel[np.isfinite(noise_rel)], initial=0.0)),
                   noise_floor_at_end=float(noise_rel[-1]), amplification=amp, weight_norm_source=wsource,
                   first_unresolvable_step=first_unresolvable, worst_step=worst_step,
                   max_rel_error_all_steps=float(np.max(rel)))
    if first_unresolvable is not None:
        details["max_rel_error_all_steps_note"] = "includes steps at the rounding noise floor"

    measured_rate = fit_rate(meas_norm, resolvable)
    predicted_fit = fit_rate(np.linalg.norm(pred, axis=1), resolvable)
    ex_rate, minpoly = prediction.excited_rate, prediction.excited_minimal_polynomial
    unexcited = prediction.unexcited_factor
    details.update(predicted_fitted_rate=predicted_fit, excited_rate=ex_rate,
                   excited_minimal_polynomial=minpoly, unexcited_factor=unexcited,
                   eigenvalues=[str(e) for e in prediction.eigenvalues],
                   charpoly=str(prediction.charpoly),
                   row_sum_change=float(np.linalg.norm(S[-1] - S[0]) / meas_norm[0]) if meas_norm[0] > 0 else None)
    series = {"steps": np.arange(T + 1), "measured_nc0": meas_norm, "predicted_nc0": np.linalg.norm(pred, axis=1),
              "rel_error": rel, "noise_floor_rel": noise_rel}
    verdict_kw = dict(base, measured_rate=measured_rate, max_rel_error=max_err, details=details, series=series)

    # --- decide
    n_res = prefix.stop
    if max_err is None or n_res < 2:
        reasons.append(f"||s_0|| = {fmt(meas_norm[0])} is at the rounding noise floor from the start: "
                       f"no step can discriminate between theories.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    if max_err > tol:
        first_bad = int(np.flatnonzero(rel[prefix] > tol)[0])
        if lemma1 is False:
            reasons.append(f"Lemma 1 fails for the {record.loss} loss: {invariance.reason}.")
        reasons.append(
            f"The measured row sums leave the predicted trajectory: relative error {fmt(max_err, 3)} "
            f"(at step {worst_step}) > tolerance {tol:g} ({record.dtype}); first exceeded at step {first_bad}, "
            f"where the rounding noise floor is only {fmt(float(noise_rel[first_bad]), 2)} relative.")
        if lemma1 is not False:
            reasons.append(f"The {theory.name} recurrence with {hp_text(theory)} does not describe this run.")
        return Verdict("refuted", reasons=reasons, **verdict_kw)
    # matched where resolvable
    match = (f"The whole predicted trajectory matches the measured row sums: max relative error "
             f"{fmt(max_err, 3)} <= tolerance {tol:g} ({record.dtype}) over steps 0..{n_res - 1}")
    if lemma1 is False:
        reasons.append(match + ".")
        reasons.append(f"But Lemma 1 fails for the {record.loss} loss ({invariance.reason}); a match "
                       f"without its hypothesis verifies nothing.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    if first_unresolvable is not None:
        reasons.append(match + ".")
        reasons.append(
            f"From step {first_unresolvable} on, ||s_t|| = {fmt(float(meas_norm[first_unresolvable]), 3)} is at "
            f"the accumulated float rounding noise floor ({fmt(float(floor[first_unresolvable]), 3)} from the "
            f"rounding of W (2 eps sqrt(K) ||W||_F per step, as a random walk) and of the prediction, i.e. "
            f"{float(noise_rel[first_unresolvable]):.3e} "
            f"relative > {tol:g}): there the comparison cannot discriminate, so the run cannot be verified. "
            f"Rerun with --steps {max(first_unresolvable - 1, 1)} (or a smaller lr * weight_decay) for a verdict.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    reasons.append(match + f" (all {T} steps); the rounding noise floor stays below "
                   f"{fmt(details['noise_floor_relative_max'], 2)} relative, so the comparison discriminates.")
    if lemma1 is None:
        reasons.append(f"The loss {record.loss!r} is not a registered loss: Lemma 1's hypothesis was assumed "
                       f"(the match itself is the evidence that the gradient row sums vanished).")
    _rate_sentences(reasons, prediction, measured_rate, predicted_fit)
    change = details["row_sum_change"]
    if change is not None and change < 1e3 * tol:
        reasons.append(f"Note: the row sums barely moved (relative change {fmt(change, 2)}), so this run cannot "
                       f"tell this theory from any theory predicting constant row sums.")
    return Verdict("verified", reasons=reasons, **verdict_kw)


def _rate_sentences(reasons, prediction, measured_rate, predicted_fit):
    predicted_rate, ex_rate = prediction.rate, prediction.excited_rate
    unexcited = prediction.unexcited_factor
    lrs = prediction.learning_rates
    constant = bool(np.all(lrs == lrs[0]))
    text = f"Predicted rate (spectral radius) {predicted_rate:.8f}"
    if measured_rate is not None:
        text += f"; measured rate {measured_rate:.8f} (fit of log NC0 over the later half"
        if predicted_fit is not None:
            text += f"; the same fit on the prediction gives {predicted_fit:.8f}"
        text += ")"
    reasons.append(text + ".")
    why_sgdw = (" (the buffer sees only gradients, whose row sums vanish by Lemma 1, so the momentum mode "
                "stays at 0)" if prediction.buffers_stay_zero else "")
    if ex_rate is not None and not math.isclose(ex_rate, predicted_rate, rel_tol=1e-12, abs_tol=1e-15):
        reasons.append(
            f"Only modes of rate {ex_rate:.8f} are excited from a fresh optimizer state: the spectral radius "
            f"{predicted_rate:.8f} belongs to the factor {unexcited} of the characteristic polynomial, which "
            f"the first step never reaches{why_sgdw}; the run shows the excited rate.")
    elif unexcited:
        reasons.append(f"The factor {unexcited} of the characteristic polynomial is never excited from a fresh "
                       f"optimizer state{why_sgdw}; it does not set the rate here.")
    if not constant:
        reasons.append("The learning rate varied during the run: the prediction multiplies the exact matrices "
                       "A(eta_t) step by step; the spectral radius quoted is at the base lr, so compare the "
                       "measured fit with the same fit on the prediction.")
    elif predicted_fit is not None and not math.isclose(predicted_fit, predicted_rate, rel_tol=1e-7):
        eig = [complex(e.evalf()) for e in prediction.eigenvalues]
        top = max(eig, key=abs)
        if abs(top.imag) > 1e-15:
            period = 2 * math.pi / abs(math.atan2(top.imag, top.real))
            why = (f"the dominant eigenvalues are complex, so ||s_t|| oscillates with period ~{period:.0f} steps "
                   f"under the envelope rate^t")
        else:
            why = "the transient of the other mode(s) has not died out in this window"
        reasons.append(f"The fitted rate differs from the spectral radius because {why}; the like-for-like "
                       f"comparison is the same fit on the prediction, which agrees.")
