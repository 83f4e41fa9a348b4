"""Running a sweep: :func:`run_sweep` plans batches, executes them and stores every result.

1. The runs (a :class:`~nctheory.sweep.spec.Sweep`, validated before anything runs, or a list
   of :class:`~nctheory.sweep.run_spec.SweepRun`) are grouped into batches
   (:func:`nctheory.sweep.groups.plan`).
2. With ``resume=True`` the runs already *done* in the store (finished or diverged:
   :meth:`~nctheory.sweep.store.ResultStore.finished_ids`) are skipped by ``run_id``; failed
   ones are tried again. Without it an existing store is refused unless ``force=True``
   (which deletes it first), so results are never silently mixed or overwritten.
3. Each batch is executed by the batched engine (:func:`nctheory.sweep.batched.run_batch`)
   via :func:`nctheory.sweep.dask_backend.execute_batch`; the engine falls back to one run at
   a time when a batch cannot run (one bad run fails alone); with ``workers`` or ``scheduler``
   the batches are Dask tasks (:func:`nctheory.sweep.dask_backend.run_on_dask`).
4. Every result is written to the store as it arrives, one transaction per run: a sweep
   stopped at any moment (Ctrl-C, SIGKILL, a cluster's time limit) keeps every run written
   so far, and ``resume=True`` completes it. A failed or diverged run is recorded as such
   and the sweep goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from nctheory.errors import NCTheoryError
from nctheory.sweep.groups import DEFAULT_MAX_BATCH, plan
from nctheory.sweep.progress import SweepProgress
from nctheory.sweep.result import failed_result
from nctheory.sweep.run_spec import SweepRun


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did."""

    store: str
    total: int
    skipped: int
    batches: int
    counts: dict = field(default_factory=lambda: {"finished": 0, "diverged": 0, "failed": 0})
    wall_time_s: float = 0.0
    interrupted: bool = False

    @property
    def executed(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


def sweep_runs(sweep_or_runs) -> list[SweepRun]:
    """The runs of a Sweep, or a list of SweepRuns checked and kept once each (first wins)."""
    from nctheory.sweep.spec import Sweep

    if isinstance(sweep_or_runs, Sweep):
        return sweep_or_runs.runs()
    if isinstance(sweep_or_runs, SweepRun):
        sweep_or_runs = [sweep_or_runs]
    try:
        runs = list(sweep_or_runs)
    except TypeError:
        raise NCTheoryError(f"run_sweep takes a Sweep or a list of SweepRun, got {type(sweep_or_runs).__name__}") from None
    bad = [i for i, run in enumerate(runs) if not isinstance(run, SweepRun)]
    if bad:
        raise NCTheoryError(f"run_sweep: item(s) {bad[:5]} are not SweepRun objects")
    if not runs:
        raise NCTheoryError("run_sweep: the sweep has no runs")
    return list({run.run_id: run for run in reversed(runs)}.values())[::-1]


def check_store_target(store_path, resume: bool, force: bool) -> Path:
    """Refuse to overwrite an existing store without ``resume`` or ``force`` (which deletes it)."""
    from nctheory.sweep.store import remove_store

    if resume and force:
        raise NCTheoryError("resume and force exclude each other: resume continues a store, force replaces it")
    path = Path(store_path)
    if path.is_dir():
        raise NCTheoryError(f"store {str(path)!r} is a directory; give a file path (e.g. sweep.sqlite)")
    if path.exists() and path.stat().st_size > 0 and not resume:
        if not force:
            raise NCTheoryError(f"store {str(path)!r} exists: --resume to continue that sweep, --force to replace "
                                f"it, or --store for another file")
        remove_store(path)
    return path


def run_sweep(sweep_or_runs, store_path, resume: bool = False, scheduler=None, workers: int | None = None,
              progress: bool = True, max_batch: int | None = DEFAULT_MAX_BATCH, force: bool = False,
              stream=None) -> SweepSummary:
    """Run a sweep into the store at ``store_path``; see the module docstring.

    Args:
        sweep_or_runs: a :class:`~nctheory.sweep.spec.Sweep` or a list of SweepRuns.
        store_path: the SQLite file (:class:`~nctheory.sweep.store.ResultStore`).
        resume: continue an existing store, skipping its done runs.
        scheduler, workers: run on Dask (at most one): a scheduler address / file / Client /
            cluster, or a number of local worker processes. Neither: in this process.
        progress: show progress on stderr (``stream``) and a final line.
        max_batch: the largest number of runs in one batch (None: no limit).
        force: delete an existing store first.

    Returns a :class:`SweepSummary`. ``KeyboardInterrupt`` propagates after the progress is
    closed; everything finished before it is in the store.
    """
    from nctheory.sweep.dask_backend import execute_batch, run_on_dask
    from nctheory.sweep.store import ResultStore

    if scheduler is not None and workers is not None:
        raise NCTheoryError("give at most one of scheduler and workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise NCTheoryError(f"workers must be a positive integer, got {workers!r}")
    runs = sweep_runs(sweep_or_runs)  # validated before the store is touched
    path = check_store_target(store_path, resume, force)
    start = time.perf_counter()
    with ResultStore(path) as store:
        _describe(store, sweep_or_runs, len(runs))
        done = store.finished_ids() if resume else set()
        todo = [run for run in runs if run.run_id not in done]
        batches = plan(todo, max_batch=max_batch, min_batches=workers or 1) if todo else []
        summary = SweepSummary(str(path), len(runs), len(runs) - len(todo), len(batches))
        bar = SweepProgress(len(todo), summary.skipped, enabled=progress, stream=stream,
                            label=getattr(sweep_or_runs, "name", "sweep"))

        def on_result(result):
            store.write(result)
            summary.counts[result.status] = summary.counts.get(result.status, 0) + 1
            bar.update(result)

        try:
            if scheduler is not None or workers is not None:
                run_on_dask(batches, scheduler=scheduler, workers=workers, on_result=on_result)
            else:
                for batch in batches:
                    for result in _checked(batch, execute_batch(batch)):
                        on_result(result)
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary.wall_time_s = time.perf_counter() - start
            bar.close(interrupted=summary.interrupted)
    return summary


def _checked(batch, results) -> list:
    """The results of ``batch`` in its order, one per run; a run the engine did not answer for
    is recorded as failed rather than lost."""
    by_id = {r.run_id: r for r in results}
    return [by_id.get(run.run_id) or failed_result(run, RuntimeError("the batch returned no result for this run"),
                                                    batch_runs=len(batch)) for run in batch]


def _describe(store, sweep_or_runs, count: int) -> None:
    """Record the sweep's name, spec file and text in the store's meta table."""
    store.set_meta("sweep_name", getattr(sweep_or_runs, "name", "sweep"))
    store.set_meta("sweep_runs", str(count))
    source = getattr(sweep_or_runs, "source", None)
    if source and Path(source).is_file():
        store.set_meta("spec_path", str(Path(source).resolve()))
        store.set_meta("spec_text", Path(source).read_text(encoding="utf-8"))
