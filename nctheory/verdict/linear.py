r"""Verdicts for linear optimizers: the whole trajectory against the exact recurrence.

**Linear optimizers** (every transformation of the chain linear: the SGD family, Nesterov,
SGDW, QHM). Lemma 1 makes the row sums ``s_t = W_t^T 1_K`` obey an exact, data-independent
linear recurrence ``x_{t+1} = A(eta_t) x_t``, so the whole measured trajectory is compared
with the prediction ``theory.predict(s_0, T, lr_schedule=record.learning_rates)``, computed
once (:class:`~nctheory.verdict.prediction.Prediction`):

    max_rel_error = max_t ||pred_t - meas_t|| / ||meas_t||,

with tolerance ``1e-9`` in float64 and ``1e-4`` in float32 (:data:`TOLERANCES`).

*Why these tolerances, and when they cannot discriminate.* A float run of a true theory drifts
from the exact prediction only by rounding: a random walk of the per-step rounding of the
weights, the buffers and the computed gradient's not-quite-zero row sum, carried by the
recurrence, plus the prediction's own float64 rounding. :mod:`nctheory.verdict.noise` derives
its **rounding floor** ``floor_t`` (absolute; 8 standard deviations of that random walk plus
the systematic terms: a true theory exceeds it with probability below 2.3e-11 per step). In
float64 with ``||W||_F ~ 5`` it stays near 1e-14 .. 1e-13, in float32 near 1e-7 .. 1e-5 -- far
below the tolerances while NC0 is of order ``||W||`` -- whereas an error in the recurrence (a
wrong momentum, the wrong decay coupling, a loss violating Lemma 1) moves the trajectory by a
relative amount of order ``eta lambda t delta`` or ``eta ||1^T G|| t / ||s||``, many orders
larger. The tolerances sit between the two.

A step t is **resolvable** when ``floor_t <= tol ||s_t||``: there the comparison tells the
theory from any other that differs by more than ``tol``. Once NC0 has decayed towards the
floor (thousands of steps with large ``eta lambda``; sooner in float32) no comparison can
discriminate, but a true theory still stays within the floor. Hence the decision:

* **refuted** if at some step ``||pred_t - meas_t|| > max(tol ||s_t||, floor_t)`` -- beyond the
  tolerance where it resolves, beyond what float rounding explains where it does not;
* **verified** otherwise, if at least one step after the start is resolvable: the whole
  trajectory matched to ``tol`` wherever the precision resolves it and stayed within the
  rounding floor elsewhere (the report says how many steps were resolvable, the last one,
  and the largest error relative to the floor) -- so a long float32 run that decays into its
  rounding noise is verified on the part that resolves it, not made inconclusive by its tail;
* **inconclusive** when no step after the start is resolvable (``s_0`` at the floor already),
  or when Lemma 1's hypothesis fails and the trajectory matched anyway.

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

#: A run whose tail sits at the rounding floor is verified only if the steps that resolve the
#: tolerance saw the row sums change by at least this many tolerances (relative to s_0): a
#: theory whose decay per step ``1 - rho`` differs by a fraction f from the truth deviates by
#: about f times the change, so the resolved window then refutes any theory off by more than
#: 1/1000 of the decay it saw. A window that saw less (one step resolved, as under bfloat16
#: autocast) is inconclusive, never verified.
MIN_RESOLVED_CHANGE = 1e3


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
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.linalg.norm(pred - S, axis=1)
        pred_norm = np.linalg.norm(pred, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(meas_norm > 0, diff / meas_norm, np.where(diff > 0, np.inf, 0.0))

    sigma, floor, info = noise_floor(record, theory, lrs, prediction.schedules)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise_rel = np.where(meas_norm > 0, floor / meas_norm, np.inf)
        over_floor = np.where(floor > 0, diff / floor, np.where(diff > 0, np.inf, 0.0))
    resolvable = noise_rel <= tol
    resolvable[0] = True  # s_0 is the measured start itself
    resolved = np.flatnonzero(resolvable[1:]) + 1
    below = np.flatnonzero(~resolvable)
    first_unresolvable = int(below[0]) if below.size else None
    max_err = float(np.max(rel[resolvable]))
    worst_step = int(np.flatnonzero(resolvable)[np.argmax(rel[resolvable])])
    # a true theory stays within max(tol ||s_t||, floor_t) at every step (noise.py: the floor
    # holds with the stated confidence); beyond it the run contradicts the theory
    # (a prediction that overflowed matches no finite measurement; NaN never counts as covered)
    bad = ~np.isfinite(pred).all(axis=1) | ((rel > tol) & ~(diff <= floor))
    details.update(noise_floor_relative_max=float(np.max(noise_rel[np.isfinite(noise_rel)], initial=0.0)),
                   noise_floor_at_end=float(noise_rel[-1]), confidence_z=info["confidence_z"],
                   rounding_injection=info["injection"], first_unresolvable_step=first_unresolvable,
                   resolvable_steps=int(resolved.size), last_resolvable_step=int(resolved[-1]) if resolved.size else 0,
                   worst_step=worst_step, max_rel_error_all_steps=float(np.max(rel)),
                   max_error_over_floor=float(np.max(over_floor[1:], initial=0.0)))
    if first_unresolvable is not None:
        details["max_rel_error_all_steps_note"] = "includes steps at the rounding noise floor"

    measured_rate = fit_rate(meas_norm, resolvable)
    predicted_fit = fit_rate(pred_norm, resolvable)
    ex_rate, minpoly = prediction.excited_rate, prediction.excited_minimal_polynomial
    unexcited = prediction.unexcited_factor
    details.update(predicted_fitted_rate=predicted_fit, excited_rate=ex_rate,
                   excited_minimal_polynomial=minpoly, unexcited_factor=unexcited,
                   eigenvalues=[str(e) for e in prediction.eigenvalues],
                   charpoly=str(prediction.charpoly),
                   row_sum_change=float(np.linalg.norm(S[-1] - S[0]) / meas_norm[0]) if meas_norm[0] > 0 else None)
    series = {"steps": np.arange(T + 1), "measured_nc0": meas_norm, "predicted_nc0": pred_norm,
              "rel_error": rel, "noise_floor_rel": noise_rel}
    verdict_kw = dict(base, measured_rate=measured_rate, max_rel_error=max_err, details=details, series=series)

    # --- decide
    if bad.any():
        first_bad = int(np.flatnonzero(bad)[0])
        if lemma1 is False:
            reasons.append(f"Lemma 1 fails for the {record.loss} loss: {invariance.reason}.")
        if resolvable[first_bad]:
            reasons.append(
                f"The measured row sums leave the predicted trajectory: relative error {fmt(float(rel[first_bad]), 3)} "
                f"at step {first_bad} > tolerance {tol:g} ({record.dtype}), where the rounding noise floor is only "
                f"{fmt(float(noise_rel[first_bad]), 2)} relative (largest resolvable error {fmt(max_err, 3)}, "
                f"step {worst_step}).")
        else:
            reasons.append(
                f"The measured row sums leave the predicted trajectory by more than float rounding explains: at step "
                f"{first_bad} the error {fmt(float(diff[first_bad]), 3)} exceeds the rounding floor "
                f"{fmt(float(floor[first_bad]), 3)} ({info['confidence_z']:g} sigma of the rounding random walk; a true "
                f"theory exceeds it with probability < 1e-10 per step) and the tolerance {tol:g} relative.")
        if lemma1 is not False:
            reasons.append(f"The {theory.name} recurrence with {hp_text(theory)} does not describe this run.")
        return Verdict("refuted", reasons=reasons, **verdict_kw)
    if resolved.size == 0:
        reasons.append(f"||s_t|| is at the rounding noise floor at every step after the start (||s_0|| = "
                       f"{fmt(meas_norm[0])}): no step can discriminate between theories.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    pred_norm0 = float(np.linalg.norm(pred[0]))
    seen = float(np.max(np.linalg.norm(pred[resolved] - pred[0], axis=1))) / pred_norm0 if pred_norm0 > 0 else 0.0
    details["resolved_change"] = seen
    if first_unresolvable is not None and seen < MIN_RESOLVED_CHANGE * tol:
        reasons.append(
            f"The trajectory matches to {fmt(max_err, 3)} <= {tol:g} at the {resolved.size} step(s) that resolve the "
            f"tolerance and stays within the rounding floor elsewhere (largest error / floor "
            f"{fmt(details['max_error_over_floor'], 2)}), but over those steps the row sums changed by only "
            f"{fmt(seen, 2)} of ||s_0|| (< {MIN_RESOLVED_CHANGE:g} x tolerance): too little to tell theories apart. "
            f"The rounding floor ({info['injection']}) reaches {tol:g} x ||s_t|| at step {first_unresolvable}: a "
            f"float64 classifier, float32 logits, or a larger NC0 relative to the rounding make more steps resolvable.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    # matched where resolvable, within the floor elsewhere
    match = (f"The whole predicted trajectory matches the measured row sums: max relative error "
             f"{fmt(max_err, 3)} <= tolerance {tol:g} ({record.dtype}) at every resolvable step")
    if lemma1 is False:
        reasons.append(match + ".")
        reasons.append(f"But Lemma 1 fails for the {record.loss} loss ({invariance.reason}); a match "
                       f"without its hypothesis verifies nothing.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    if first_unresolvable is None:
        reasons.append(match + f" (all {T} steps); the rounding noise floor stays below "
                       f"{fmt(details['noise_floor_relative_max'], 2)} relative, so the comparison discriminates.")
    else:
        reasons.append(match + f" ({resolved.size} of {T} steps, the last at step {resolved[-1]}).")
        reasons.append(
            f"From step {first_unresolvable} on ||s_t|| ({fmt(float(meas_norm[first_unresolvable]), 3)} there) "
            f"is at times at the float rounding noise floor ({fmt(float(floor[first_unresolvable]), 3)}: "
            f"{info['confidence_z']:g} sigma of the rounding random walk carried by the recurrence, "
            f"{info['injection']}), where no comparison discriminates to {tol:g}; the measured trajectory stays within "
            f"that floor at every step (largest error / floor {fmt(details['max_error_over_floor'], 2)}), as a true "
            f"theory's does. The verdict rests on the {resolved.size} resolvable steps.")
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
