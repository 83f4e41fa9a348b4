"""``python -m nctheory.sweep`` and run_sweep: dry run, exit statuses, refusals before anything
runs, the store's protection, failing and interrupted runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nctheory.sweep import Sweep, load, product, run_sweep
from nctheory.sweep.cli import main
from nctheory.sweep.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "numerics" / "sweeps"

TINY = """\
name = "tiny"
model = "ufm"
num_classes = 3
samples_per_class = 2
dim = 4
steps = 12
metrics = ["nc0", "loss"]

[[product]]
optimizer = ["sgd", "signgd"]
lr = [0.01, 0.1]
seed = [0, 1]
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "nctheory.sweep", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_dry_run_of_the_examples_counts_runs_and_groups(capsys):
    expected = {"ufm_grid.toml": (60, 4), "digits_mlp.toml": (12, 2), "zip_example.toml": (12, 4)}
    for name, (runs, groups) in expected.items():
        assert main([str(SWEEPS / name), "--dry-run", "--no-estimate", "--store", os.devnull + ".none"]) == 0
        out = capsys.readouterr().out
        assert f": {runs} runs" in out and f"{groups} group(s)" in out, out


def test_subprocess_bad_spec_exits_2_with_line_and_key_and_writes_nothing(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(TINY.replace("seed = [0, 1]", "seed = [0, 1]\nmomentun = 0.9"))
    done = _cli(spec, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{spec}, line 13, key 'momentun'" in done.stderr and "did you mean 'momentum'" in done.stderr
    assert not (tmp_path / "bad.sqlite").exists()


def test_unmutated_spec_dry_runs_with_a_timed_estimate(tiny, capsys):
    """The negative control of the refusal above: the same spec without the typo is accepted."""
    assert main([str(tiny), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ": 8 runs" in out and "time estimate: ~" in out and "timed at 4 and 12 steps" in out
    assert not (tiny.parent / "tiny.sqlite").exists()  # a dry run writes nothing


def test_run_refuse_overwrite_resume_force_export(tiny, capsys):
    store = tiny.parent / "tiny.sqlite"  # the default: the spec's stem in the current directory
    assert main([str(tiny), "--quiet"]) == 0
    frame = load(store)
    assert len(frame) == 8 and set(frame["status"]) == {"finished"}
    with ResultStore(store) as opened:
        assert opened.meta()["sweep_name"] == "tiny" and "seed = [0, 1]" in opened.meta()["spec_text"]
    assert main([str(tiny)]) == 2  # an existing store without --resume or --force
    assert "exists" in capsys.readouterr().err
    assert main([str(tiny), "--resume", "--export", "out.csv"]) == 0  # nothing left to run
    err = capsys.readouterr().err
    assert "0/0 runs" in err and "8 already in the store" in err
    assert (load(store)["attempts"] == 1).all()  # resume redid nothing
    assert (tiny.parent / "out.csv").read_text().count("\n") == 9
    assert main([str(tiny), "--force", "--quiet", "--max-batch", "3"]) == 0
    assert (load(store)["attempts"] == 1).all() and len(load(store)) == 8


def test_usage_errors_exit_2(tiny, capsys):
    for argv in (["--workers", "2", "--scheduler", "tcp://x:1"], ["--resume", "--force"], ["--max-batch", "0"]):
        with pytest.raises(SystemExit) as caught:
            main([str(tiny), *argv])
        assert caught.value.code == 2, argv
    assert main([str(tiny.parent / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def _sweep(**settings):
    return Sweep(product(optimizer="sgd", lr=[0.01, 0.1, 1e6], seed=[0, 1]), name="mix", model="ufm",
                 num_classes=3, samples_per_class=2, dim=4, steps=30, metrics=["nc0", "loss"], **settings)


def test_failing_and_diverging_runs_are_recorded_and_do_not_stop_the_sweep(tmp_path, monkeypatch):
    import nctheory.runs.training.loop as loop
    import nctheory.sweep.dask_backend as backend
    from nctheory.sweep.result import run_one

    real = loop.run

    def flaky(spec, config):
        if config.seed == 1 and float(spec.values["lr"]) == 0.01:
            raise RuntimeError("planted failure")
        return real(spec, config)

    monkeypatch.setattr(loop, "run", flaky)
    monkeypatch.setattr(backend, "execute_batch", lambda runs: [run_one(r) for r in runs])  # the one-at-a-time path
    summary = run_sweep(_sweep(), tmp_path / "s.sqlite", progress=False)
    frame = load(tmp_path / "s.sqlite").set_index(["lr", "seed"])
    assert summary.counts == {"finished": 3, "diverged": 2, "failed": 1}
    assert frame.loc[(0.01, 1), "status"] == "failed" and "planted failure" in frame.loc[(0.01, 1), "error"]
    assert set(frame.xs(1e6, level="lr")["status"]) == {"diverged"}
    assert frame.loc[(0.1, 1), "status"] == "finished"
    # resume retries the failed run only (now without the planted failure)
    monkeypatch.setattr(loop, "run", real)
    again = run_sweep(_sweep(), tmp_path / "s.sqlite", resume=True, progress=False)
    assert again.skipped == 5 and again.counts["finished"] == 1


def test_interrupt_keeps_what_finished(tmp_path, monkeypatch):
    import nctheory.sweep.dask_backend as backend
    from nctheory.sweep.result import run_one

    calls = []

    def interrupted(runs):
        calls.append(len(runs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return [run_one(r) for r in runs]

    monkeypatch.setattr(backend, "execute_batch", interrupted)
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_sweep(), tmp_path / "s.sqlite", max_batch=2, stream=stream)
    assert "interrupted" in stream.getvalue()
    assert len(load(tmp_path / "s.sqlite")) == calls[0] == 2
    monkeypatch.setattr(backend, "execute_batch", lambda runs: [run_one(r) for r in runs])
    done = run_sweep(_sweep(), tmp_path / "s.sqlite", resume=True, progress=False)
    assert done.skipped == 2 and done.executed == 4 and (load(tmp_path / "s.sqlite")["attempts"] == 1).all()


def test_cli_interrupt_exits_130_and_says_resume(tiny, monkeypatch, capsys):
    import nctheory.sweep.dask_backend as backend

    def interrupted(runs):
        raise KeyboardInterrupt

    monkeypatch.setattr(backend, "execute_batch", interrupted)
    assert main([str(tiny), "--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err
