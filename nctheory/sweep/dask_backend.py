"""Running a sweep's batches on a Dask cluster (``dask.distributed``).

Each Dask task is one batch (a list of :class:`SweepRun` that
:mod:`nctheory.sweep.groups` planned to run together), executed on a worker by
:func:`execute_batch` -- the batched engine :func:`nctheory.sweep.batched.run_batch` where
it exists, else :func:`nctheory.sweep.result.run_one` per run, and one run at a time when
the batch as a whole raises, so that one bad run fails alone. The client collects the
results with :func:`distributed.as_completed` in the order batches finish and hands each
:class:`RunResult` to ``on_result`` (the sweep writes it to its store there), so a store
fills while the cluster works and a killed client loses only batches in flight.

Where the cluster comes from (:func:`run_on_dask`):

* ``workers=N``: a :class:`distributed.LocalCluster` on this machine with N worker
  processes of one thread each (``processes=True``: the runs do not share Python's GIL;
  one thread: the runs are small, and intra-op threads fight each other on a busy machine,
  see :class:`nctheory.runs.training.config.RunConfig`'s ``num_threads``). It is closed
  when the sweep ends, also on an error or Ctrl-C.
* ``scheduler=ADDRESS``: an existing scheduler (``tcp://host:8786``), a scheduler file
  (``*.json``, as written by ``dask scheduler --scheduler-file``), a
  :class:`distributed.Client`, or a cluster object such as ``dask_jobqueue.SLURMCluster``.
  The workers must have the same nctheory (and torch) installed; what they run is decided
  by each run's own configuration (``device``, ``backend``), not by the worker.

A task that raises on the worker (the worker died: ``KilledWorker``, a result that does not
unpickle, ...) makes every run of its batch a *failed* result carrying that error; the
sweep goes on.
"""

from __future__ import annotations

import os
import uuid

from nctheory.errors import NCTheoryError
from nctheory.sweep.result import failed_result, run_one


def execute_batch(runs) -> list:
    """Run one batch and return its :class:`RunResult` list (same order as ``runs``): several
    runs through the batched engine (:func:`nctheory.sweep.batched.run_batch`, which itself
    falls back to one run at a time, so that a bad run fails alone), a single run alone."""
    from nctheory.sweep.batched import run_batch

    runs = list(runs)
    return run_batch(runs) if len(runs) > 1 else [run_one(run) for run in runs]


def _check_workers(workers):
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise NCTheoryError(f"workers must be a positive integer (local Dask worker processes), got {workers!r}")
    return workers


def _distributed():
    try:
        import distributed
    except ImportError:
        raise NCTheoryError("the Dask backend (--workers / --scheduler) needs dask.distributed: "
                            "pip install 'nctheory[sweep]'") from None
    return distributed


def connect(scheduler=None, workers=None):
    """``(client, close)``: a Dask client for ``scheduler`` or a new local cluster of ``workers``
    processes, and a function that closes what this call started (not a client or cluster
    the caller passed in)."""
    if (scheduler is None) == (workers is None):
        raise NCTheoryError("give exactly one of scheduler (a Dask scheduler address, scheduler file, "
                            f"Client or cluster) and workers (a number of local workers); got "
                            f"scheduler={scheduler!r}, workers={workers!r}")
    distributed = _distributed()
    if workers is not None:
        cluster = distributed.LocalCluster(n_workers=_check_workers(workers), threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        try:
            client = distributed.Client(cluster)
        except BaseException:
            cluster.close()
            raise

        def close():
            try:
                client.close()
            finally:
                cluster.close()

        return client, close
    if isinstance(scheduler, distributed.Client):
        return scheduler, lambda: None
    if isinstance(scheduler, (str, os.PathLike)):
        text = str(scheduler)
        if text.endswith(".json"):
            if not os.path.isfile(text):
                raise NCTheoryError(f"scheduler file {text!r} does not exist")
            client = distributed.Client(scheduler_file=text)
        elif "://" in text or ":" in text:
            try:
                client = distributed.Client(text, timeout="30s")
            except OSError as error:
                raise NCTheoryError(f"scheduler {text!r}: cannot connect ({error})") from None
        else:
            raise NCTheoryError(f"scheduler must be an address like tcp://host:8786, a scheduler file *.json, "
                                f"a distributed.Client or a cluster object, got {text!r}")
        return client, client.close
    if hasattr(scheduler, "scheduler_address"):  # LocalCluster, SLURMCluster, ...
        client = distributed.Client(scheduler)
        return client, client.close
    raise NCTheoryError(f"scheduler must be an address like tcp://host:8786, a scheduler file *.json, "
                        f"a distributed.Client or a cluster object, got {type(scheduler).__name__}")


def run_on_dask(batches, scheduler=None, workers=None, on_result=None):
    """Run ``batches`` (lists of :class:`SweepRun`) on Dask, one task per batch.

    Args:
        batches: an iterable of non-empty lists of runs (each one batch).
        scheduler, workers: where to run; exactly one (see the module docstring).
        on_result: ``callable(RunResult)``, called on this process for every run as its
            batch completes (write it to the store there); None: collect them.

    Returns the list of results in completion order (also when ``on_result`` is given).
    Every run of every batch yields exactly one result. On an exception in ``on_result``
    or Ctrl-C the remaining tasks are cancelled and a local cluster is shut down.
    """
    batches = [list(batch) for batch in batches]
    empty = [i for i, batch in enumerate(batches) if not batch]
    if empty:
        raise NCTheoryError(f"batches must be non-empty lists of runs; batch(es) {empty} are empty")
    if on_result is not None and not callable(on_result):
        raise NCTheoryError(f"on_result must be a callable(RunResult) or None, got {on_result!r}")
    if workers is not None:
        _check_workers(workers)
    client, close = connect(scheduler, workers)
    distributed = _distributed()
    results, futures = [], {}
    try:
        tag = uuid.uuid4().hex[:8]
        for index, batch in enumerate(batches):
            future = client.submit(execute_batch, batch, key=f"nctheory-batch-{tag}-{index}")
            futures[future] = batch
        for future in distributed.as_completed(list(futures)):
            batch = futures.pop(future)
            try:
                by_id = {result.run_id: result for result in future.result()}
            except Exception as error:  # noqa: BLE001 -- a lost task fails its runs, not the sweep
                batch_results = [failed_result(run, error, batch_runs=len(batch)) for run in batch]
            else:  # one result per run of the batch, in its order; none lost
                missing = RuntimeError("the batch returned no result for this run")
                batch_results = [by_id.get(run.run_id) or failed_result(run, missing, batch_runs=len(batch))
                                 for run in batch]
            for result in batch_results:
                results.append(result)
                if on_result is not None:
                    on_result(result)
            future.release()
        return results
    finally:
        if futures:
            client.cancel(list(futures))
        close()
