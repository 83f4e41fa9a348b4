"""What a :class:`~nctheory.pytorch.tracker.Tracker` recorded, as a
:class:`~nctheory.runs.training.TrainingRecord`, and its verdict.

Kept apart from the hooks: this is the host side (one synchronisation, when a verdict is
asked for), the tracker the device side (tensors appended at every step).
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import HyperparameterError, NCTheoryError


def _stack(values):
    import torch

    return torch.stack(values).cpu().numpy().astype(np.float64) if values else np.empty(0)


def _schedules(tr, steps: int) -> dict:
    """Declared hyperparameters (lr aside) whose value changed during the run: name -> value per step."""
    out = {}
    for h in tr.spec.hyperparameters:
        if h.name == "lr" or h.name not in tr.spec.values:
            continue
        base = float(tr.spec.values[h.name])
        per_step = [hp.get(h.name) for hp in tr._hparams[:steps]]
        values = np.array([base if v is None else v for v in per_step], dtype=np.float64)
        if values.size and np.any(values != base):
            out[h.name] = values
    return out


def tracker_record(tr):
    """The record of tracker ``tr`` (see :meth:`Tracker.to_record`)."""
    from nctheory.runs.training import TrainingRecord

    rows, fro, sup = _stack(tr._rows), _stack(tr._fro), _stack(tr._sup)
    T = tr.steps_done
    finite = np.isfinite(rows).all(axis=1) & np.isfinite(fro)
    diverged_at = None
    if not finite[0]:
        raise NCTheoryError("the classifier weight was already NaN/inf when tracking started")
    if not finite.all():
        # W_k is the first non-finite one: step k - 1 produced it (run_training's convention:
        # the record keeps W_0 .. W_{k-1} and diverged_at = steps_done = k - 1)
        k = int(np.flatnonzero(~finite)[0])
        T = diverged_at = k - 1
    rows, fro, sup = rows[:T + 1], fro[:T + 1], sup[:T + 1]
    steps = np.arange(T + 1)
    nc0 = np.linalg.norm(rows, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(fro > 0, nc0 / (math.sqrt(tr.num_classes) * fro), np.nan)
    metrics = {"nc0": nc0, "nc0_rel": rel, "w_fro": fro, "w_sup": sup}
    for name in ("nc1", "nc2_norm", "nc2_angle", "nc3", "nc4"):
        arr = np.full(T + 1, np.nan)
        for s, values in zip(tr._nc_steps, tr._nc_values):
            if s <= T:
                arr[s] = values[name]
        metrics[name] = arr
    step_norms = {"w_fro": fro, "update_fro": _stack(tr._update)[:T], "grad_fro": _stack(tr._grad)[:T],
                  "grad_row_sum": _stack(tr._grad_rows)[:T], "drift_ratio": _stack(tr._drift_ratio)[:T]}
    if tr._buffer_names and T > 0:
        buffers = _stack(tr._buffers[:T])
        for i, name in enumerate(tr._buffer_names):
            step_norms[f"buffer_fro:{name}"] = buffers[:, i]
    spec, lrs = tr.spec, np.asarray(tr._lrs[:T], dtype=np.float64)
    if float(spec.values.get("lr", 1)) == 0 and lrs.size and lrs.max() > 0:
        # captured at lr = 0 (a warm-up from 0, a finished schedule): the run's lr is its peak;
        # the prediction uses the recorded lr of every step either way
        spec = spec.with_hparams(lr=float(lrs.max()))
    dtype = str(tr.weight.dtype).replace("torch.", "")
    config = {"classifier": tr.parameter_name, "classifier_shape": list(tr.weight.shape),
              "compute_dtype": tr.compute_dtype or dtype}
    return TrainingRecord(
        optimizer=spec.name, hparams=spec.float_hp(), model="user", backend="torch",
        device=str(tr.weight.device.type), dtype=dtype, seed=-1, num_classes=tr.num_classes,
        row_sums=rows, learning_rates=lrs, metric_steps=steps,
        metrics=metrics, diverged_at=diverged_at, loss=tr.loss, implementation=type(tr.optimizer).__name__,
        config=config, spec=spec, schedules=_schedules(tr, T), step_norms=step_norms)


def _variant_drift(tr) -> list[str]:
    out = []
    for key, first in tr._initial_variant.items():
        changed = [i for i, h in enumerate(tr._variant) if h.get(key) != first]
        if changed:
            out.append(f"{key} changed during training (from {first!r} to {tr._variant[changed[0]][key]!r} at step "
                       f"{changed[0]}): that changes the optimizer itself, which no schedule describes")
    return out


def tracker_verdict(tr, theory=None):
    """The verdict on tracker ``tr`` (see :meth:`Tracker.verdict`)."""
    from nctheory.verdict import Verdict, check_record

    record = tr.to_record()
    if record.dtype not in ("float64", "float32"):
        raise NCTheoryError(f"the classifier weight has dtype {record.dtype}; verdicts need float64 or float32 "
                            f"weights (bfloat16 / float16 autocast with float32 weights is fine)")
    judged = theory  # None: the spec the record carries (the one captured, at the run's peak lr if it was 0)
    where = f"Classifier tracked: {tr.classifier} (found by following the forward pass)" \
        if tr.model is not None and tr.parameter_name not in ("weight", "W") else f"Classifier tracked: {tr.classifier}"
    try:
        out = check_record(record, theory=judged)
    except HyperparameterError as exc:  # a value a scheduler set that the theory does not cover
        return Verdict("inconclusive", record.optimizer, dict(record.hparams),
                       reasons=[where + ".", f"A hyperparameter took a value the theory does not cover: {exc}"],
                       details={"classifier": tr.classifier})
    problems = _variant_drift(tr)
    skipped = [i for i, s in enumerate(tr._skipped[:record.steps_done]) if s]
    if skipped:
        problems.append(f"the classifier had no gradient at {len(skipped)} step(s) (first: {skipped[0]}); "
                        f"torch skipped it there, so those steps are not the recurrence's")
    if problems and out.verdict in ("verified", "refuted"):
        out = Verdict("inconclusive", out.name, out.hparams, out.predicted_rate, out.measured_rate,
                      out.max_rel_error, out.tolerance,
                      ["The theory assumes a step of the same optimizer at every call: " + "; ".join(problems)
                       + f". The comparison alone said {out.verdict}."] + out.reasons,
                      out.details, out.theory, out.theory_hparams, out.series)
    out.details["classifier"] = tr.classifier
    out.details["compute_dtype"] = record.config["compute_dtype"]
    out.reasons.insert(0, where + ".")
    return out
