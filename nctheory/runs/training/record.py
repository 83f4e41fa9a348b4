"""What a run measured (:class:`TrainingRecord`) and how it is written to and read from disk.

A record carries the spec object it ran (``record.spec``, with its values), so that the
verdict and the report judge exactly that optimizer -- also one that is not registered,
such as a renamed copy -- instead of looking its name up again. ``record.optimizer`` (the
spec's name) stays for display and JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.spec import OptimizerSpec

METRIC_NAMES = ("nc0", "nc0_rel", "nc1", "nc2_norm", "nc2_angle", "nc3", "nc4", "loss", "accuracy", "w_fro", "w_sup")


@dataclass
class TrainingRecord:
    """Everything a run measured. Arrays are float64 numpy arrays on the host.

    Attributes:
        optimizer: the name of the spec that was run (for display and JSON).
        hparams: the hyperparameters as floats (torch names; Adam's betas as beta1, beta2).
        model: "ufm", "mlp", "cnn", "gaussian_mlp" or "user".
        backend: "torch", "numpy" or "cupy"; device: "cpu" or "cuda"; dtype: "float64" / "float32".
        seed: the seed everything was drawn from.
        num_classes: K.
        row_sums: shape (steps_done + 1, d): ``W_t^T 1_K`` after every step (t = 0 first).
        learning_rates: shape (steps_done,): the learning rate used at each step.
        metric_steps: steps at which ``metrics`` were recorded (0, every record_every, and
            the last step).
        metrics: name -> array over metric_steps: "nc0", "nc0_rel", "nc1", "nc2_norm",
            "nc2_angle" (NC2's equinorm and equiangularity), "nc3", "nc4", "loss" (on the
            whole training set), "accuracy", "w_fro" (||W||_F), "w_sup" (||W||_inf)
            (NaN where a metric is undefined).
        diverged_at: the first step whose loss or weights were NaN/inf, else None
            (then ``diverged_at == steps_done``; see :mod:`nctheory.runs.training.loop`).
        loss: the loss's registry name ("cross_entropy", "label_smoothing", "mse").
        stopped_early: True when interrupted (KeyboardInterrupt) -- what was computed is kept.
        implementation: the optimizer code that ran ("torch.optim.SGD",
            "nctheory.SpecOptimizer", "spec.step/numpy", ...).
        label_smoothing: eps of the label-smoothed cross-entropy (0 for none).
        batch_size: minibatch size (None: full batch).
        record_every: the metric interval used (0: metrics never recorded).
        config: sizes and data description (feature dimension ``dim``, ``num_samples``, ...).
        wall_time_s: seconds of the training loop; metric_time_s: of which metrics.
        spec: the :class:`~nctheory.theory.spec.OptimizerSpec` that ran, with its values;
            None only for a record built by hand without one or loaded from a file whose
            spec is not registered here (see :func:`load_record`).
        trained_model: for ``model="user"``, the trained copy of the user's module (not saved).
        read_back: torch backends: the spec :func:`nctheory.from_torch` read off the live
            optimizer before its first step (or the error it gave, as text); None where the
            spec's own step ran (numpy / cupy). Not saved.
        schedules: hyperparameters other than ``lr`` that changed during the run (a
            OneCycleLR momentum, a weight-decay schedule): name -> the value used at each of
            the ``steps_done`` steps. The prediction multiplies ``A(h_t)`` step by step with
            them (:mod:`nctheory.theory.symbolic.schedules`). Empty: constant, as in ``hparams``.
        step_norms: per-step magnitudes the rounding model of the verdict reads
            (:mod:`nctheory.verdict.noise`), where the run recorded them: ``"w_fro"``
            (``||W_t||_F``, t = 0..T), ``"update_fro"`` (``||W_(t+1) - W_t||_F``),
            ``"grad_fro"`` (``||G_t||_F``), ``"grad_row_sum"`` (``||1^T G_t||``, Lemma 1's
            quantity as the float computation left it) and ``"buffer_fro:NAME"`` (each
            buffer's ``||b_(t+1)||_F``), t = 0..T-1. Empty: not recorded.
    """

    optimizer: str
    hparams: dict
    model: str
    backend: str
    device: str
    dtype: str
    seed: int
    num_classes: int
    row_sums: np.ndarray
    learning_rates: np.ndarray
    metric_steps: np.ndarray
    metrics: dict = field(default_factory=dict)
    diverged_at: int | None = None
    loss: str = "cross_entropy"
    stopped_early: bool = False
    implementation: str = ""
    label_smoothing: float = 0.0
    batch_size: int | None = None
    record_every: int = 0
    config: dict = field(default_factory=dict)
    wall_time_s: float = 0.0
    metric_time_s: float = 0.0
    spec: OptimizerSpec | None = field(default=None, repr=False, compare=False)
    trained_model: object = field(default=None, repr=False, compare=False)
    read_back: object = field(default=None, repr=False, compare=False)
    schedules: dict = field(default_factory=dict, repr=False)
    step_norms: dict = field(default_factory=dict, repr=False)

    @property
    def steps_done(self) -> int:
        return len(self.learning_rates)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def metric(self, name: str) -> np.ndarray:
        """The array of one metric over :attr:`metric_steps`."""
        if name not in self.metrics:
            raise NCTheoryError(f"no metric {name!r} in this record; recorded: {', '.join(self.metrics)}")
        return self.metrics[name]


# ---------------------------------------------------------------------- persistence
_ARRAYS = ("row_sums", "learning_rates", "metric_steps")
_NOT_IN_JSON = _ARRAYS + ("metrics", "trained_model", "spec", "read_back", "schedules", "step_norms")
#: npz key prefixes of the per-step dicts (``schedule__momentum``, ``step_norm__w_fro``)
_PER_STEP = {"schedules": "schedule__", "step_norms": "step_norm__"}
_INITIAL_BUFFERS = "spec__initial_buffers"


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def _registered_as(spec: OptimizerSpec) -> bool:
    """Whether the registry holds this very spec (same chain and declarations) under its name."""
    from dataclasses import replace

    from nctheory.optimizers import REGISTRY

    registered = REGISTRY.get(spec.name)
    return registered is not None and replace(spec, values={}, initial_buffers=None) == registered


def _spec_meta(spec: OptimizerSpec | None) -> dict | None:
    """The spec as JSON: its name, its exact values (``"1/10"``) and whether the registry
    can rebuild it."""
    if spec is None:
        return None
    return {"name": spec.name, "values": {k: str(sp.Rational(v)) for k, v in spec.values.items()},
            "registered": _registered_as(spec)}


def save_record(record: TrainingRecord, path) -> tuple[Path, Path]:
    """Write ``PATH.npz`` (the arrays) and ``PATH.json`` (everything else); returns both paths.

    The spec is stored as its name, its exact hyperparameter values and whether it is the
    registered spec of that name (and its initial buffer row sums, if any, in the npz).
    Each file is written to a temporary name and renamed, so an interrupted write never
    leaves a half-written record. ``trained_model`` is not saved.
    """
    npz_path, json_path = _paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(record, name) for name in _ARRAYS}
    arrays.update({f"metric__{k}": v for k, v in record.metrics.items()})
    for attribute, prefix in _PER_STEP.items():
        arrays.update({prefix + k: np.asarray(v, dtype=np.float64) for k, v in getattr(record, attribute).items()})
    if record.spec is not None and record.spec.initial_buffers is not None:
        arrays[_INITIAL_BUFFERS] = np.asarray(record.spec.initial_buffers, dtype=np.float64)
    tmp = npz_path.with_name(npz_path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, npz_path)
    meta = {f.name: getattr(record, f.name) for f in fields(record) if f.name not in _NOT_IN_JSON}
    meta["metric_names"] = list(record.metrics)
    meta["spec"] = _spec_meta(record.spec)
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default))
    os.replace(tmp, json_path)
    return npz_path, json_path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _rebuilt_spec(meta: dict, stored: dict | None, initial_buffers):
    """The spec of a loaded record, rebuilt from the registry; None when it cannot be."""
    from dataclasses import replace

    from nctheory.optimizers import REGISTRY

    if stored is None:  # a record written before records carried their spec
        name, values = meta.get("optimizer"), dict(meta.get("hparams", {}))
        if name not in REGISTRY:
            return None
        try:
            return REGISTRY[name].with_hparams(**values)
        except NCTheoryError:
            return None
    if not (stored.get("registered") and stored.get("name") in REGISTRY):
        return None
    spec = REGISTRY[stored["name"]].with_hparams(**{k: sp.Rational(v) for k, v in stored["values"].items()})
    return spec if initial_buffers is None else replace(spec, initial_buffers=initial_buffers)


def load_record(path) -> TrainingRecord:
    """Read a record written by :func:`save_record` (``path`` with or without suffix).

    ``record.spec`` is rebuilt from the registry, with the stored exact values, when the
    saved spec was the registered spec of its name. A spec that was not registered (a
    renamed or hand-built copy) cannot be rebuilt from a file: then ``record.spec`` is None
    and judging the record needs an explicit theory (``check_record(record, theory=spec)``).
    """
    npz_path, json_path = _paths(path)
    if not npz_path.exists() or not json_path.exists():
        raise NCTheoryError(f"path: no saved record at {npz_path} and {json_path}")
    meta = json.loads(json_path.read_text())
    names = meta.pop("metric_names")
    stored = meta.pop("spec", None)
    with np.load(npz_path) as arrays:
        data = {name: arrays[name] for name in _ARRAYS}
        metrics = {k: arrays[f"metric__{k}"] for k in names}
        buffers = arrays[_INITIAL_BUFFERS] if _INITIAL_BUFFERS in arrays.files else None
        per_step = {attribute: {k[len(prefix):]: arrays[k] for k in arrays.files if k.startswith(prefix)}
                    for attribute, prefix in _PER_STEP.items()}
    known = {f.name for f in fields(TrainingRecord)} - set(_NOT_IN_JSON)
    record = TrainingRecord(**{k: v for k, v in meta.items() if k in known}, **data, metrics=metrics, **per_step)
    record.spec = _rebuilt_spec(meta, stored, buffers)
    return record
