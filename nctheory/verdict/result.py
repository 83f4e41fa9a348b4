"""The outcome of a check: :class:`Check` (one sub-check) and :class:`Verdict` (the
whole comparison, JSON-serialisable). What a verdict means for a process's exit status is
the command line's business (:mod:`nctheory.cli.exit_codes`)."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

from nctheory.errors import NCTheoryError


VERDICTS = ("verified", "refuted", "inconclusive", "diverged")
#: From the worst outcome to the best: several runs or theorems report the worst.
SEVERITY = ("refuted", "diverged", "inconclusive", "verified")


def worst_verdict(verdicts):
    """The worst of several verdict words (:data:`SEVERITY`)."""
    return min(verdicts, key=SEVERITY.index)


@dataclass
class Check:
    """One sub-check: ``status`` in {"pass", "fail", "inconclusive"}."""

    name: str
    status: str
    sentence: str
    predicted: object = None
    measured: object = None
    threshold: object = None


@dataclass
class Verdict:
    """The outcome of comparing measurement with theory.

    Attributes:
        verdict: "verified", "refuted", "inconclusive" or "diverged".
        name: the optimizer that was run (registry name).
        hparams: its hyperparameters (floats).
        predicted_rate: spectral radius of the theory's row-sum recurrence (linear theories),
            else None.
        measured_rate: fitted geometric rate of ||s_t|| (linear theories), else None.
        max_rel_error: max_t ||pred_t - meas_t|| / ||meas_t|| over the resolvable steps
            (linear theories), else None.
        tolerance: the tolerance max_rel_error was held to.
        reasons: the argument, in sentences.
        details: everything else (sub-checks, noise floor, excited rate, plateaus, ...).
        theory: the spec the run was judged against (its name).
        theory_hparams: its hyperparameters.
        series: arrays for plotting (not serialised): "steps", "measured_nc0",
            "predicted_nc0", "rel_error", or per-run curves for scaling laws.
    """

    verdict: str
    name: str
    hparams: dict
    predicted_rate: float | None = None
    measured_rate: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    reasons: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    theory: str | None = None
    theory_hparams: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise NCTheoryError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("series")
        return _jsonable(out)

    def to_json(self, **kwargs) -> str:
        """One JSON object (NaN and inf become null)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, Check):
        return _jsonable(asdict(x))
    return str(x)
