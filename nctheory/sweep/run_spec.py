"""One run of a sweep: :class:`SweepRun`, the unit that sweeps expand to, store and resume.

A sweep (:mod:`nctheory.sweep.spec`) is a set of runs; each run is an optimizer spec with its
hyperparameters, the keyword arguments of a :class:`~nctheory.runs.training.config.RunConfig`
(everything about the run except the optimizer), the metrics to record and, optionally, the
theory to judge it against. Its identity :attr:`SweepRun.run_id` is a hash of that canonical
content, so a resumed sweep recognises a finished run whatever order the runs come in, and
two sweeps that contain the same run share its result.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields

from nctheory.errors import NCTheoryError

#: What a sweep can record for each run. "nc2" stands for NC2's two parts (equinorm and
#: equiangularity, ``nc2_norm`` / ``nc2_angle`` of a TrainingRecord); "verdict" judges the
#: run against its theory (:func:`nctheory.verdict.check_record`).
METRICS = ("nc0", "nc0_rel", "nc1", "nc2", "nc3", "nc4", "loss", "accuracy", "verdict")
#: The record's metric series each sweep metric stands for.
METRIC_SERIES = {"nc2": ("nc2_norm", "nc2_angle")}
#: RunConfig fields a sweep cannot set: they hold Python objects, not data.
NOT_SWEEPABLE = ("data", "lr_schedule", "progress", "user_model", "last_layer")


def config_fields() -> tuple[str, ...]:
    """The RunConfig fields a sweep may set (all but :data:`NOT_SWEEPABLE`)."""
    from nctheory.runs.training.config import RunConfig

    return tuple(f.name for f in fields(RunConfig) if f.name not in NOT_SWEEPABLE)


def _plain(value, where):
    """JSON-able scalars only, with floats that are finite."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NCTheoryError(f"{where} must be finite, got {value!r}")
        return value
    raise NCTheoryError(f"{where} must be a number, a string, true/false or absent, got {type(value).__name__}")


@dataclass(frozen=True)
class SweepRun:
    """One training run of a sweep.

    Attributes:
        optimizer: the registry name of the optimizer spec (or the name of ``spec``).
        hparams: hyperparameter values (torch names), as sorted ``(name, value)`` pairs.
        config: RunConfig keyword arguments (:func:`config_fields`), as sorted pairs.
        metrics: the names of :data:`METRICS` to record.
        theory: the theory to judge against (``NAME`` or ``NAME:key=value,...``); None: the
            run's own spec.
        spec: a user's :class:`~nctheory.theory.spec.OptimizerSpec` (not registered), or None
            for a registry name. Not part of the identity beyond its name and hyperparameters.
    """

    optimizer: str
    hparams: tuple = ()
    config: tuple = ()
    metrics: tuple = METRICS
    theory: str | None = None
    spec: object = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, optimizer, hparams=None, config=None, metrics=METRICS, theory=None) -> "SweepRun":
        """Build and validate a run; ``optimizer`` is a registry name or an OptimizerSpec."""
        from nctheory.theory.spec import OptimizerSpec

        spec = optimizer if isinstance(optimizer, OptimizerSpec) else None
        name = spec.name if spec is not None else optimizer
        if not isinstance(name, str) or not name:
            raise NCTheoryError(f"optimizer must be a registry name or an OptimizerSpec, got {optimizer!r}")
        hparams = {k: _plain(v, f"hyperparameter {k!r}") for k, v in dict(hparams or {}).items()}
        config = {k: _plain(v, f"config key {k!r}") for k, v in dict(config or {}).items()}
        unknown = sorted(set(config) - set(config_fields()))
        if unknown:
            raise NCTheoryError(f"unknown run setting(s) {', '.join(map(repr, unknown))}; "
                                f"allowed: {', '.join(config_fields())}")
        metrics = tuple(metrics)
        bad = [m for m in metrics if m not in METRICS]
        if bad or not metrics:
            raise NCTheoryError(f"metrics must be a non-empty list of {', '.join(METRICS)}; got {list(metrics)!r}")
        if theory is not None and not isinstance(theory, str):
            raise NCTheoryError(f"theory must be NAME or NAME:key=value,..., got {theory!r}")
        return cls(name, tuple(sorted(hparams.items())), tuple(sorted(config.items())),
                   tuple(dict.fromkeys(metrics)), theory, spec)

    # ------------------------------------------------------------------ identity
    def canonical(self) -> dict:
        """The run as plain data: what identifies it and what the store keeps."""
        return {"optimizer": self.optimizer, "hparams": dict(self.hparams), "config": dict(self.config),
                "metrics": list(self.metrics), "theory": self.theory}

    @property
    def run_id(self) -> str:
        """A stable 16-hex-digit identity: SHA-256 of the canonical JSON."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_canonical(cls, data: dict) -> "SweepRun":
        """The run of :meth:`canonical`'s output (registry names only)."""
        return cls.make(data["optimizer"], data["hparams"], data["config"], data["metrics"], data.get("theory"))

    # ------------------------------------------------------------------ what runs
    def to_spec(self):
        """The optimizer spec with this run's hyperparameters (library defaults for the rest)."""
        from nctheory.runs.training.loop import resolve_spec

        return resolve_spec(self.spec if self.spec is not None else self.optimizer, dict(self.hparams))

    def to_run_config(self, **overrides):
        """The :class:`~nctheory.runs.training.config.RunConfig` of this run (validated)."""
        from nctheory.runs.training.config import RunConfig

        return RunConfig(**{**dict(self.config), **overrides})

    def setting(self, name, default=None):
        """One RunConfig keyword of this run, or ``default`` when the sweep left it unset."""
        return dict(self.config).get(name, default)
