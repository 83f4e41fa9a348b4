"""How long a sweep will take, for ``--dry-run``: *calibrated*, by timing, not a cost model.

For every group of runs that batch together (:mod:`nctheory.sweep.groups`) the group's first
batch -- at most :data:`CALIBRATION_RUNS` of its runs -- is executed by the same code the sweep
uses (:func:`nctheory.sweep.dask_backend.execute_batch`: the batched engine, or one run at a
time) with the step budget cut to ``k1`` and ``k2`` steps (``k2`` grown until the two timings differ
by :data:`MIN_SLOPE_S`, so that timing noise does not swamp the slope). A straight line through the two
timings, ``t(k) = a + b k``, separates the fixed cost ``a`` (building models and data, the
first and last metric evaluation, judging the verdict) from the cost per step ``b``; a batch
of ``s`` runs of ``steps`` steps is then estimated at ``(a + b steps) s / s_cal``.

Stated approximations:

* linear in the batch size: batched execution is sublinear in it, so a calibration on fewer
  runs than a batch holds tends to *over*-estimate;
* metric evaluations between the first and the last step (every ``record_every`` steps) are
  not in the calibration runs; by the default intervals they add up to about 10%
  (:func:`nctheory.runs.training.config.default_record_every`);
* on a Dask cluster the total is divided by the number of workers (ideal load balance);
* a group that could not be timed within ``budget_s`` seconds (or whose calibration raised)
  is estimated from the mean cost per run-step of the timed groups of the same model, marked
  as such; with no such group it is unknown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nctheory.sweep.groups import BatchKey, batch_key
from nctheory.sweep.run_spec import SweepRun

#: Largest number of runs executed to calibrate one group.
CALIBRATION_RUNS = 32
#: Step budgets of the two calibration executions (capped at the runs' own; the second grows
#: until the two timings differ by MIN_SLOPE_S seconds).
CALIBRATION_STEPS = (4, 20)
MIN_SLOPE_S = 0.25
#: Seconds of calibration after which the remaining groups are extrapolated.
CALIBRATION_BUDGET_S = 30.0


@dataclass
class GroupEstimate:
    """The estimate for one group: ``seconds`` (None: unknown) and how it was obtained."""

    key: BatchKey
    runs: int
    batches: list
    seconds: float | None = None
    method: str = "not timed"
    per_run_step_s: float | None = None


@dataclass
class Estimate:
    """Per-group estimates and the total (seconds, one process; divided by ``workers``)."""

    groups: list = field(default_factory=list)
    workers: int = 1

    @property
    def total_s(self) -> float | None:
        known = [g.seconds for g in self.groups if g.seconds is not None]
        return sum(known) / self.workers if known else None

    @property
    def complete(self) -> bool:
        return all(g.seconds is not None for g in self.groups)


def _shortened(run: SweepRun, steps: int) -> SweepRun:
    config = {**dict(run.config), "steps": steps}
    return SweepRun.make(run.spec if run.spec is not None else run.optimizer, dict(run.hparams), config,
                         run.metrics, run.theory)


def _time_batch(runs, steps: int) -> float:
    from nctheory.sweep.dask_backend import execute_batch

    batch = [_shortened(run, steps) for run in runs]
    start = time.perf_counter()
    results = execute_batch(batch)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r.status == "failed"]
    if len(failed) == len(results):
        raise RuntimeError(failed[0].error.strip().splitlines()[-1] if failed[0].error else "failed")
    return elapsed


def calibrate(batch: list, steps: int) -> tuple[float, float, int, int]:
    """``(a, b, k1, k2)``: ``t(k) = a + b k`` for executing ``batch``, timed at ``k1`` and ``k2``
    steps; ``k2`` grows fourfold (up to ``steps``) until ``t(k2) - t(k1)`` is at least
    :data:`MIN_SLOPE_S`, so that the slope is not lost in timing noise."""
    k1 = min(steps, CALIBRATION_STEPS[0])
    t1 = _time_batch(batch, k1)
    if k1 == steps:
        return 0.0, t1 / k1, k1, k1
    k2 = min(steps, CALIBRATION_STEPS[1])
    while True:
        t2 = _time_batch(batch, k2)
        if k2 == steps or t2 - t1 >= MIN_SLOPE_S:
            break
        k2 = min(steps, 4 * k2)
    b = max((t2 - t1) / (k2 - k1), 0.0)
    return max(t1 - b * k1, 0.0), b, k1, k2


def estimate(batches: list, workers: int = 1, budget_s: float = CALIBRATION_BUDGET_S, timed: bool = True) -> Estimate:
    """The :class:`Estimate` of executing ``batches`` (from :func:`nctheory.sweep.groups.plan`).

    ``timed=False``: group the batches without timing anything (every estimate unknown).
    """
    groups = {}
    for batch in batches:
        key = batch_key(batch[0])
        entry = groups.setdefault(key, GroupEstimate(key, 0, []))
        entry.runs += len(batch)
        entry.batches.append(len(batch))
    out = Estimate(list(groups.values()), max(1, int(workers or 1)))
    if not timed:
        return out
    first = {}
    for batch in batches:
        first.setdefault(batch_key(batch[0]), batch)
    if out.groups:  # warm-up, untimed: imports and first-call costs would bias the first group
        try:
            _time_batch(first[out.groups[0].key][:1], 1)
        except Exception:  # noqa: BLE001, S110 -- a failure is reported by the calibration itself
            pass
    start = time.perf_counter()
    for entry in out.groups:
        steps = int(entry.key.setting("steps"))
        if time.perf_counter() - start > budget_s:
            break
        sample = first[entry.key][:CALIBRATION_RUNS]
        try:
            a, b, k1, k2 = calibrate(sample, steps)
        except Exception as error:  # noqa: BLE001 -- an estimate must not stop a dry run
            entry.method = f"not timed: the calibration run failed ({error})"
            continue
        per_batch = a + b * steps
        entry.seconds = sum(per_batch * size / len(sample) for size in entry.batches)
        entry.per_run_step_s = per_batch / (len(sample) * steps)
        entry.method = f"timed at {k1} and {k2} steps" if k2 != k1 else f"timed at {k1} steps"
    for entry in out.groups:
        if entry.seconds is not None:
            continue
        same = [g.per_run_step_s for g in out.groups if g.per_run_step_s is not None
                and g.key.setting("model") == entry.key.setting("model")]
        if same:
            entry.seconds = sum(same) / len(same) * entry.runs * int(entry.key.setting("steps"))
            entry.method = "extrapolated from timed groups of the same model" + (
                "" if entry.method == "not timed" else f"; {entry.method}")
    return out


def format_seconds(seconds: float | None) -> str:
    """``"3.2 s"``, ``"4 min 10 s"``, ``"2 h 5 min"``, or ``"unknown"``."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
