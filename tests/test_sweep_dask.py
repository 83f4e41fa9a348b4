"""The Dask backend (nctheory/sweep/dask_backend.py): a sweep run on a local Dask cluster of
two worker processes fills its store with exactly what the same sweep run in this process
stores -- every run, configuration, status, verdict and metric value, bit for bit (the same
float64 code on the same machine, one thread per run); only timings differ. A negative
control plants a hyperparameter mix-up in one run and the same comparison finds it."""

import time

import pytest

pytest.importorskip("distributed", reason="the Dask backend needs dask.distributed (pip install 'nctheory[sweep]')")

from nctheory.errors import NCTheoryError
from nctheory.sweep import ResultStore, SweepRun, load, run_one
from nctheory.sweep.dask_backend import connect, run_on_dask
from nctheory.sweep.execute import run_sweep
from nctheory.sweep.tables import differences

UFM = {"model": "ufm", "steps": 60, "num_classes": 3, "dim": 4, "samples_per_class": 2, "record_every": 20}


def sweep():
    """8 runs in 2 groups (two optimizers) x 4 seeds, planned as 4 batches of 2."""
    return [SweepRun.make(name, hparams, {**UFM, "seed": seed})
            for name, hparams in (("sgd_momentum", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.01}))
            for seed in range(4)]


def children():
    """This process's children, less multiprocessing's resource tracker (one per process,
    started by the first spawned child and meant to live as long as its parent)."""
    import psutil

    out = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.is_running() and "resource_tracker" not in " ".join(process.cmdline()):
                out.append(process)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.timeout(240)
def test_dask_store_equals_local_store(tmp_path):
    runs = sweep()
    local, remote = tmp_path / "local.sqlite", tmp_path / "dask.sqlite"
    before = {p.pid for p in children()}
    summary = run_sweep(runs, local, progress=False, max_batch=2)
    assert summary.batches == 4 and summary.counts["finished"] == 8
    try:
        summary = run_sweep(runs, remote, workers=2, progress=False, max_batch=2)
    finally:  # the local cluster's worker processes are gone once run_sweep returns or raises
        deadline = time.monotonic() + 30
        while {p.pid for p in children()} - before and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in children() if p.pid not in before]
        for process in left:
            process.kill()
    assert not left, f"Dask left processes behind: {left}"
    errors = [e for e in load(remote).error if e]
    assert summary.batches == 4 and summary.counts == {"finished": 8, "diverged": 0, "failed": 0}, errors
    found = differences(local, remote)
    assert found == [], found
    frame = load(remote)
    assert len(frame) == 8 and set(frame.batch_runs) == {2} and (frame.attempts == 1).all()
    assert frame.verdict.notna().all()

    # Negative control: the adam run of seed 2 trained with seed 3's lr by mistake is found.
    planted = tmp_path / "planted.sqlite"
    with ResultStore(local, create=False) as store, ResultStore(planted) as out:
        for result in store.results():
            if result.run == runs[6]:
                wrong = run_one(SweepRun.make("adam", {"lr": 0.02}, dict(runs[6].config)))
                wrong.run, wrong.batch_runs = result.run, result.batch_runs
                result = wrong
            out.write(result)
    found = differences(remote, planted)
    assert found and all(runs[6].run_id in line for line in found)
    assert any("series 'loss' differs" in line for line in found)


def test_results_stream_back_and_lost_tasks_fail_their_runs(monkeypatch):
    """A caller's client on an in-process cluster: on_result sees every run exactly once, and
    a task that raises on the worker (planted) makes its batch's runs failed results carrying
    the error, while the other batch finishes; the caller's client is left open."""
    import distributed

    from nctheory.sweep import dask_backend

    runs = sweep()[:3]
    real = dask_backend.execute_batch

    def planted(batch):
        if runs[1] in batch:
            raise RuntimeError("worker lost (planted)")
        return real(batch)

    monkeypatch.setattr(dask_backend, "execute_batch", planted)
    seen = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        results = run_on_dask([[runs[0]], runs[1:]], scheduler=client, on_result=seen.append)
        assert client.status == "running"
    assert results == seen and sorted(r.run_id for r in seen) == sorted(r.run_id for r in runs)
    status = {r.run_id: r for r in seen}
    assert status[runs[0].run_id].status == "finished"
    for run in runs[1:]:
        assert status[run.run_id].status == "failed" and "worker lost (planted)" in status[run.run_id].error
        assert status[run.run_id].batch_runs == 2


def test_bad_arguments_are_refused():
    runs = sweep()[:1]
    for kwargs, match in (({}, "exactly one"), ({"workers": 0}, "workers"), ({"workers": 2.5}, "workers"),
                          ({"workers": 1, "scheduler": "tcp://x:1"}, "exactly one"),
                          ({"scheduler": "no-such-thing"}, "scheduler must be"),
                          ({"scheduler": "missing.json"}, "does not exist")):
        with pytest.raises(NCTheoryError, match=match):
            run_on_dask([runs], **kwargs)
    with pytest.raises(NCTheoryError, match="non-empty"):
        run_on_dask([runs, []], workers=1)
    with pytest.raises(NCTheoryError, match="on_result"):
        run_on_dask([runs], workers=1, on_result=3)
    with pytest.raises(NCTheoryError, match="exactly one"):
        connect()
