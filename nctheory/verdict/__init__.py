r"""Verdicts: does a measured run agree with what the theory of its optimizer predicts?

``check_record(record, theory=None)`` (one run) and ``check_records(records, theory=None)``
(several runs, needed for scaling laws) compare a :class:`~nctheory.runs.training.TrainingRecord`
with a theory -- by default the spec the run used, or any other spec as a *negative
control* -- and return a :class:`Verdict`: ``"verified"``, ``"refuted"``,
``"inconclusive"`` or ``"diverged"``, with the numbers side by side and the reasons in
sentences. What "verified" means follows THEORY.md section 5.

* **Linear optimizers** (sgd, sgd_momentum, sgd_nesterov, sgdw_momentum, qhm):
  :mod:`.linear` -- the whole trajectory against the exact recurrence, to a tolerance set
  by the rounding noise floor (:mod:`.noise`).
* **Sign-based optimizers** (signgd, signgd_decoupled): :mod:`.sign` -- integer
  increments, scaling laws over step sizes, the box and parity bounds.
* **Adam, AdamW, Lion**: :mod:`.adaptive` -- falsifiable thresholds on NC0_rel and NC3.
* **Matrix optimizers** (Muon, Shampoo, SOAP): :mod:`.matrix` -- the linear verdict where the
  derived recurrence is exact (decoupled decay), the O(eta) law over step sizes otherwise.
* **Divergence**: ``record.diverged_at`` set -> ``"diverged"`` with the step.
"""

from __future__ import annotations

import math

from nctheory.errors import NCTheoryError
from nctheory.theory.family import ADAPTIVE_KIND, LINEAR_KIND, MATRIX_KIND, SIGN_KIND, family
from nctheory.verdict.adaptive import ADAM_MAX_END_FRACTION, ADAMW_MIN_END_FRACTION, ADAPTIVE_MIN_PHYSICAL_TIME, check_adaptive
from nctheory.verdict.linear import TOLERANCES, check_linear
from nctheory.verdict.noise import NOISE_SAFETY, noise_floor
from nctheory.verdict.record import base_lr, validate_record, weight_norms
from nctheory.verdict.prediction import Prediction, for_run, predict_runs, predict_theory
from nctheory.verdict.result import SEVERITY, VERDICTS, Check, Verdict, worst_verdict
from nctheory.verdict.sign import COUPLED_SLOPE_WINDOW, DECOUPLED_MAX_ABS_SLOPE, check_sign, sign_increments
from nctheory.verdict.theory import excited_modes, excited_rate, hp_text, resolve_theory, theory_kind

__all__ = ["ADAM_MAX_END_FRACTION", "ADAMW_MIN_END_FRACTION", "ADAPTIVE_MIN_PHYSICAL_TIME", "COUPLED_SLOPE_WINDOW",
           "DECOUPLED_MAX_ABS_SLOPE", "NOISE_SAFETY", "TOLERANCES", "VERDICTS", "Check", "Prediction", "Verdict",
           "check_record", "check_records", "excited_modes", "excited_rate", "for_run", "judge", "noise_floor",
           "predict_runs", "predict_theory", "resolve_theory", "sign_increments", "theory_kind", "weight_norms",
           "worst_verdict"]


def check_record(record, theory=None) -> Verdict:
    """Judge one run; see :func:`check_records`."""
    return check_records([record], theory=theory)


def check_records(records, theory=None) -> Verdict:
    """Judge runs against a theory (default: the spec of the first run): predict once
    (:func:`~nctheory.verdict.prediction.predict_runs`; ``theory`` may be a
    :class:`Prediction` already made), then :func:`judge`."""
    _validate(records)
    return judge(records, predict_runs(records, theory))


def _validate(records) -> None:
    if not isinstance(records, (list, tuple)) or not records:
        raise NCTheoryError("records must be a non-empty list of TrainingRecord")
    for r in records:
        validate_record(r)


def judge(records, predictions) -> Verdict:
    """The verdict on runs, a pure function of the records and their bound predictions
    (one per record, from :func:`~nctheory.verdict.prediction.predict_runs`).

    Linear theories judge every run by its whole trajectory (the worst verdict wins);
    sign-based theories need runs at >= 3 step sizes for their scaling laws; Adam/AdamW
    theories judge each run by the thresholds of :mod:`.adaptive`. A run with
    ``diverged_at`` set gives "diverged".
    """
    _validate(records)
    if len(predictions) != len(records) or not all(isinstance(p, Prediction) for p in predictions):
        raise NCTheoryError(f"predictions must be one Prediction per record ({len(records)}), "
                            f"got {len(predictions)}")
    # each run is judged with its own lr unless the theory chose one of its own (for_run)
    spec = predictions[0].spec
    theories = [p.spec for p in predictions]
    diverged = [r for r in records if r.diverged_at is not None]
    if diverged:
        r = diverged[0]
        return Verdict("diverged", r.optimizer, dict(r.hparams),
                       reasons=[f"The run diverged: loss or weights became NaN/inf at step {r.diverged_at} "
                                f"(lr = {base_lr(r):g}); nothing can be compared after that. Lower lr."],
                       details={"diverged_at": int(r.diverged_at), "lr": base_lr(r)},
                       theory=spec.name, theory_hparams={k: float(v) for k, v in spec.values.items()})
    if any(r.steps_done == 0 for r in records):
        r = records[0]
        return Verdict("inconclusive", r.optimizer, dict(r.hparams), reasons=["A run has no step to compare."],
                       theory=spec.name)
    fam = family(spec)
    kind = fam.name
    if fam.kind == LINEAR_KIND:
        verdicts = [check_linear(r, p) for r, p in zip(records, predictions)]
        worst = min(verdicts, key=lambda v: SEVERITY.index(v.verdict))
        if len(verdicts) > 1:
            worst.details["per_run"] = [v.to_dict() for v in verdicts]
        out = worst
    elif fam.kind == SIGN_KIND:
        out = check_sign(records, theories, kind)
    elif fam.kind == ADAPTIVE_KIND:
        out = check_adaptive(records, theories, kind)
    elif fam.kind == MATRIX_KIND:
        from nctheory.verdict.matrix import check_matrix

        out = check_matrix(records, predictions, theories, kind)
    else:
        r = records[0]
        return Verdict("inconclusive", r.optimizer, dict(r.hparams), theory=spec.name,
                       reasons=[f"{spec.name}: no theory to check against (neither linear nor covered by "
                                f"THEORY.md section 4)."])
    if any(r.stopped_early for r in records):
        out.reasons.append("The run was interrupted (stopped early); the verdict is on the steps completed.")
    differs = spec.name != records[0].optimizer or any(
        not math.isclose(float(v), float(records[0].hparams.get(k, math.nan)), rel_tol=1e-15)
        for k, v in theories[0].values.items())
    out.details["other_theory"] = bool(differs)
    if differs:
        out.reasons.insert(0, f"Judged against another theory: {spec.name} with {hp_text(theories[0])} "
                              f"(the run used {records[0].optimizer} with "
                              f"{', '.join(f'{k}={v:g}' for k, v in records[0].hparams.items())}).")
    return out
