"""Kill a real sweep and resume it: ``python -m nctheory.sweep SPEC --store PATH`` is started as
a subprocess, killed with SIGKILL once some but not all of its runs are committed, and then
completed with ``--resume``. Afterwards every run of the spec is in the store exactly once,
finished; the runs committed before the kill were not redone (their ``attempts`` counter is
still 1 and their ``created_at`` unchanged), and the rest were written after the kill.
A negative control redoes one finished run and the same check catches it.

No fixed sleeps: the test polls the store (read-only SQL, a fresh connection each time)
with a bounded deadline, and the subprocess is killed in a ``finally`` whatever happens.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from nctheory.sweep import ResultStore
from nctheory.sweep.spec import load_spec

#: 16 small UFM runs in 2 groups (sgd, adam); ``--max-batch 2`` makes 8 batches, so results
#: are committed two at a time over the sweep and a kill after the first commit leaves at
#: least 6 batches (each 500 steps: 0.2-1.5 s here) for the test's 10 ms polling to beat.
SPEC = """\
name = "resume_test"
model = "ufm"
num_classes = 3
dim = 4
samples_per_class = 2
steps = 500
record_every = 100
metrics = ["nc0", "loss"]

[[product]]
optimizer = ["sgd", "adam"]
lr = [0.01, 0.05]
seed = { range = [0, 4] }
"""
START_DEADLINE_S = 120  # imports and the first batch on a loaded CI machine
FINISH_TIMEOUT_S = 180


def committed(path: Path) -> int:
    """Runs committed so far (0 while the store does not exist or has no table yet)."""
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # no such table yet, or locked while being created
        return 0


def sweep_command(spec: Path, store: Path, *extra) -> list:
    return [sys.executable, "-m", "nctheory.sweep", str(spec), "--store", str(store), "--max-batch", "2",
            "--quiet", *extra]


def redone(before: dict, after: dict) -> list:
    """Runs committed before the kill whose stored result was written again or replaced."""
    return [run_id for run_id, row in before.items()
            if after[run_id]["attempts"] != 1 or after[run_id]["created_at"] != row["created_at"]]


@pytest.mark.timeout(400)
def test_sigkill_then_resume(tmp_path):
    spec, store = tmp_path / "resume_test.toml", tmp_path / "resume.sqlite"
    spec.write_text(SPEC)
    expected = {run.run_id for run in load_spec(spec).runs()}
    assert len(expected) == 16
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(sweep_command(spec, store), cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while committed(store) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, f"the sweep ended before it could be killed: {process.communicate()}"
        assert committed(store) > 0, f"no run committed within {START_DEADLINE_S} s"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        killed_at = datetime.now().astimezone()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    with ResultStore(store, create=False) as opened:
        before = {row["run_id"]: row for row in opened.rows()}
    print(f"killed with {len(before)} of {len(expected)} runs committed")
    assert 0 < len(before) < len(expected), f"kill came too late: {len(before)} of {len(expected)} runs done"
    assert set(before) <= expected and all(row["status"] == "finished" for row in before.values())

    done = subprocess.run(sweep_command(spec, store, "--resume"), check=False, cwd=root, env=env, capture_output=True,
                          text=True, timeout=FINISH_TIMEOUT_S)
    assert done.returncode == 0, done.stderr

    with ResultStore(store, create=False) as opened:
        rows = opened.rows()
    after = {row["run_id"]: row for row in rows}
    assert len(rows) == len(after) == len(expected) and set(after) == expected  # none lost, none twice
    assert all(row["status"] == "finished" and row["attempts"] == 1 for row in rows)
    assert redone(before, after) == []
    for run_id in expected - set(before):
        assert datetime.fromisoformat(after[run_id]["created_at"]) > killed_at

    # Negative control: a run done before the kill, written again, is reported as redone.
    from nctheory.sweep.result import RunResult

    victim = next(iter(before))
    with ResultStore(store) as opened:
        result = next(r for r in opened.results() if r.run_id == victim)
        assert isinstance(result, RunResult) and opened.write(result) is False
        again = {row["run_id"]: row for row in opened.rows()}
    assert redone(before, again) == [victim]
