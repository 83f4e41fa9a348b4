"""What the verdicts read off a :class:`~nctheory.runs.training.TrainingRecord`: validated
row sums, recorded metrics, weight norms, fitted rates and plateaus."""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError


#: The dtypes a run may be recorded in.
DTYPES = ("float64", "float32")


def validate_record(record) -> None:
    rs = np.asarray(record.row_sums)
    lrs = np.asarray(record.learning_rates)
    if rs.ndim != 2:
        raise NCTheoryError(f"record.row_sums must have shape (steps + 1, d), got {rs.shape}")
    if lrs.ndim != 1 or rs.shape[0] != lrs.shape[0] + 1:
        raise NCTheoryError(f"record.learning_rates must have one value per step ({rs.shape[0] - 1}), "
                            f"got shape {lrs.shape}")


def run_spec(record):
    """The spec a run used: ``record.spec`` (with any value it lacks set to its example).

    A record without one -- built by hand from a name, or loaded from a file written before
    records carried their spec -- falls back to the registered spec of ``record.optimizer``
    with ``record.hparams``; an unregistered name then needs an explicit theory.
    """
    from nctheory.optimizers import REGISTRY

    spec = getattr(record, "spec", None)
    if spec is None:
        if record.optimizer not in REGISTRY:
            raise NCTheoryError(
                f"record.spec is None and {record.optimizer!r} is not a registered optimizer: judge the record "
                f"against an explicit theory (theory=<the OptimizerSpec it ran>)")
        base = REGISTRY[record.optimizer]
        values = base.example_values()
        values.update({k: v for k, v in record.hparams.items() if k in values})
        return base.with_hparams(**values)
    missing = {k: v for k, v in spec.example_values().items() if k not in spec.values}
    return spec.with_hparams(**missing) if missing else spec


def machine_eps(record) -> float:
    if record.dtype not in DTYPES:
        raise NCTheoryError(f"record.dtype must be one of {', '.join(DTYPES)}, got {record.dtype!r}")
    return float(np.finfo(np.dtype(record.dtype)).eps)


def recorded_metric(record, name):
    values = record.metrics.get(name) if record.metrics else None
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    return values if values.size and np.any(np.isfinite(values)) else None


def weight_norms(record) -> np.ndarray | None:
    """``||W_t||_F`` at ``record.metric_steps``: the metric ``"w_fro"`` if recorded, else
    ``NC0 / (sqrt(K) NC0_rel)`` from the recorded NC0 and NC0_rel (NaN where undefined)."""
    for key in ("w_fro", "weight_norm"):
        direct = recorded_metric(record, key)
        if direct is not None:
            return direct
    nc0, rel = recorded_metric(record, "nc0"), recorded_metric(record, "nc0_rel")
    if nc0 is None or rel is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        out = nc0 / (math.sqrt(record.num_classes) * rel)
    out[~np.isfinite(out)] = np.nan
    return out if np.any(np.isfinite(out)) else None


def weight_norm_per_step(record) -> tuple[np.ndarray, str]:
    """An upper envelope of ||W_t||_F at every step 0..T, and where it came from."""
    T = record.steps_done
    norms = weight_norms(record)
    s_norm = np.linalg.norm(np.asarray(record.row_sums, dtype=float), axis=1)
    lower = s_norm / math.sqrt(record.num_classes)  # ||W||_F >= ||W^T 1|| / sqrt(K)
    if norms is None:
        return lower, "unknown (no weight norms recorded): used the lower bound ||s_t|| / sqrt(K)"
    steps = np.asarray(record.metric_steps, dtype=int)
    ok = np.isfinite(norms)
    steps, norms = steps[ok], norms[ok]
    # envelope: at step t the max of the recorded norms at the metric steps bracketing t
    out = np.empty(T + 1)
    idx = np.searchsorted(steps, np.arange(T + 1), side="right")
    for t in range(T + 1):
        lo, hi = max(idx[t] - 1, 0), min(idx[t], len(steps) - 1)
        out[t] = max(norms[lo], norms[hi])
    return np.maximum(out, lower), "from the recorded NC0 and NC0_rel (||W||_F = NC0 / (sqrt(K) NC0_rel))"


def fit_rate(norms: np.ndarray, usable: np.ndarray) -> float | None:
    """exp(slope) of a least-squares line through log norms over the later half."""
    T = len(norms) - 1
    t = np.arange(T + 1)
    mask = usable & (t >= T // 2) & (norms > 0) & np.isfinite(norms)
    if mask.sum() < 3:
        return None
    slope = np.polyfit(t[mask], np.log(norms[mask]), 1)[0]
    return float(math.exp(slope))


def base_lr(record) -> float:
    """The run's lr: ``hparams["lr"]``, or -- when that is 0 or absent (a warm-up from 0, a
    tracker created after a finished schedule) -- the largest learning rate the run used."""
    lr = record.hparams.get("lr")
    if lr is None or float(lr) <= 0:
        return float(np.max(np.asarray(record.learning_rates, dtype=float), initial=0.0))
    return float(lr)


def nc0_rel_series(record):
    rel = recorded_metric(record, "nc0_rel")
    if rel is None:
        return None, None
    steps = np.asarray(record.metric_steps)
    ok = np.isfinite(rel)
    return steps[ok], rel[ok]


def plateau(x: np.ndarray) -> float:
    n = len(x)
    k = max(1, int(math.ceil(PLATEAU_FRACTION * n)))
    return float(np.median(x[n - k:]))


def previous_window(x: np.ndarray) -> float:
    n = len(x)
    k = max(1, int(math.ceil(PLATEAU_FRACTION * n)))
    start = max(0, n - 2 * k)
    return float(np.median(x[start:n - k])) if n - k > start else float(x[0])


#: Fraction of each run over which a plateau is taken (median of NC0 over the last 20%
#: of steps): long enough to average the O(eta) oscillation of a sign method, short
#: enough to exclude the transient.
PLATEAU_FRACTION = 0.2


def fmt(x, digits=4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"
