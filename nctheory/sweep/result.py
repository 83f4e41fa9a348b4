"""What a sweep keeps of one run: :class:`RunResult`, built from a
:class:`~nctheory.runs.training.record.TrainingRecord` by :func:`result_from_record`, and
:func:`run_one`, the one-at-a-time path (:func:`nctheory.runs.training.run`) that the batched
engine (:mod:`nctheory.sweep.batched`) must agree with.

A run that raises is a *failed* result carrying its error; a run whose loss or weights
became non-finite is *diverged* (the record's ``diverged_at``); neither stops a sweep.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from nctheory.sweep.run_spec import METRIC_SERIES, SweepRun

STATUSES = ("finished", "diverged", "failed")


@dataclass
class RunResult:
    """One run's outcome.

    Attributes:
        run: the :class:`SweepRun`.
        status: one of :data:`STATUSES`.
        series: metric name -> list of floats over ``series["step"]`` (the steps at which
            metrics were recorded), for the metrics the run asked for; NaN where undefined.
        verdict: "verified", "refuted", "inconclusive" or "diverged" when the run asked for
            "verdict" (else None); verdict_reasons: its reasons, in sentences.
        error: the exception text and traceback of a failed run, else None.
        diverged_at: the first non-finite step, else None.
        steps_done: optimizer steps completed.
        implementation: the optimizer code that ran ("torch.optim.SGD", "batched spec.step/torch", ...).
        wall_time_s: seconds spent on this run (a batch's time divided by its runs).
        batch_runs: how many runs shared this run's batch (1: run alone).
    """

    run: SweepRun
    status: str
    series: dict = field(default_factory=dict)
    verdict: str | None = None
    verdict_reasons: list = field(default_factory=list)
    error: str | None = None
    diverged_at: int | None = None
    steps_done: int = 0
    implementation: str = ""
    wall_time_s: float = 0.0
    batch_runs: int = 1

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def final(self) -> dict:
        """The last recorded value of every series (NaN where the series is empty)."""
        return {name: (values[-1] if len(values) else math.nan) for name, values in self.series.items()}


def recorded_series(record, metrics) -> dict:
    """``{"step": [...], name: [...]}`` of a record, for the sweep metrics asked for."""
    out = {"step": [int(s) for s in np.asarray(record.metric_steps)]}
    for metric in metrics:
        for name in METRIC_SERIES.get(metric, (metric,)):
            if name in record.metrics:
                out[name] = [float(v) for v in np.asarray(record.metrics[name], dtype=float)]
    return out


def judge_run(run: SweepRun, record):
    """``(verdict, reasons)`` of a record against the run's theory (its own spec by default),
    as ``python -m nctheory.check`` judges it."""
    from nctheory.verdict import check_record, predict_theory
    from nctheory.verdict.theory import judged_spec

    prediction = predict_theory(*judged_spec(run.theory, record.spec))
    verdict = check_record(record, theory=prediction)
    return verdict.verdict, list(verdict.reasons)


def result_from_record(run: SweepRun, record, wall_time_s: float | None = None, batch_runs: int = 1) -> RunResult:
    """The :class:`RunResult` of a finished (or diverged) training record."""
    verdict, reasons = (judge_run(run, record) if "verdict" in run.metrics else (None, []))
    return RunResult(run=run, status="diverged" if record.diverged else "finished",
                     series=recorded_series(record, run.metrics), verdict=verdict, verdict_reasons=reasons,
                     diverged_at=record.diverged_at, steps_done=record.steps_done,
                     implementation=record.implementation,
                     wall_time_s=record.wall_time_s if wall_time_s is None else wall_time_s,
                     batch_runs=batch_runs)


def failed_result(run: SweepRun, error: BaseException, wall_time_s: float = 0.0, batch_runs: int = 1) -> RunResult:
    """A run that raised: recorded with its error, so the sweep goes on."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return RunResult(run=run, status="failed", error=text, wall_time_s=wall_time_s, batch_runs=batch_runs)


def run_one(run: SweepRun) -> RunResult:
    """Train one run on its own (:func:`nctheory.runs.training.run`) and judge it.

    Any exception becomes a failed result (``KeyboardInterrupt`` and ``SystemExit`` pass).
    """
    from nctheory.runs.training.loop import run as train

    start = time.perf_counter()
    try:
        record = train(run.to_spec(), run.to_run_config())
        return result_from_record(run, record)
    except Exception as error:  # noqa: BLE001 -- a failing run must not stop the sweep
        return failed_result(run, error, time.perf_counter() - start)
