"""The sweep result store (nctheory/sweep/store.py, tables.py): one transaction per run,
refusal of other schema versions and of files that are not stores, exact round trips of
every value through SQLite, pandas, Parquet and CSV, and the comparison the Dask and resume
tests rely on, with negative controls that plant a difference it must find."""

import math
import sqlite3
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nctheory.errors import NCTheoryError
from nctheory.sweep import ResultStore, RunResult, SweepRun, export, load, load_series
from nctheory.sweep.store import SCHEMA_VERSION
from nctheory.sweep.tables import differences

UFM = {"model": "ufm", "steps": 40, "num_classes": 3, "dim": 4, "samples_per_class": 2}


def make_result(seed=0, optimizer="sgd_momentum", status="finished", lr=0.05, values=None, error=None):
    """A synthetic result: the store must keep whatever a run produced, including NaN and inf."""
    run = SweepRun.make(optimizer, {"lr": lr, "momentum": 0.9} if optimizer == "sgd_momentum" else {"lr": lr},
                        {**UFM, "seed": seed}, metrics=("nc0", "loss", "verdict"))
    values = [0.5 + seed, 0.25, math.nan, math.inf] if values is None else values
    series = {} if status == "failed" else {"step": list(range(0, 10 * len(values), 10)), "nc0": list(values),
                                               "loss": [v / 3 for v in values]}
    return RunResult(run=run, status=status, series=series, verdict=None if status == "failed" else "verified",
                     verdict_reasons=[] if status == "failed" else ["reason one", "reason two"], error=error,
                     diverged_at=3 if status == "diverged" else None, steps_done=len(values) * 10,
                     implementation="torch.optim.SGD", wall_time_s=0.125, batch_runs=2)


def bits(x):
    return struct.pack("<d", x)


def check_round_trip(results, path):
    """Everything written comes back bit for bit through load() and load_series()."""
    frame = load(path).set_index("run_id")
    long = load_series(path)
    assert sorted(frame.index) == sorted(r.run_id for r in results)
    for result in results:
        row = frame.loc[result.run_id]
        assert row["status"] == result.status and row["optimizer"] == result.run.optimizer
        assert row["seed"] == dict(result.run.config)["seed"] and row["lr"] == dict(result.run.hparams)["lr"]
        assert row["reasons"] == " | ".join(result.verdict_reasons)
        for name, values in result.series.items():
            if name != "step":
                assert bits(row[f"final_{name}"]) == bits(float(values[-1])), (result.run_id, name)
                got = long[(long.run_id == result.run_id) & (long.metric == name)]
                assert list(got.step) == result.series["step"][:len(values)]
                assert [bits(v) for v in got.value] == [bits(float(v)) for v in values], (result.run_id, name)


def test_round_trip_and_negative_control(tmp_path):
    path = tmp_path / "s.sqlite"
    results = [make_result(seed) for seed in range(3)] + [make_result(7, "adam", "diverged"),
                                                           make_result(8, status="failed", error="boom")]
    with ResultStore(path) as store:
        assert all(store.write(r) for r in results)
        assert store.counts() == {"finished": 3, "diverged": 1, "failed": 1}
        assert store.finished_ids() == {r.run_id for r in results[:4]}  # failed runs are retried
        assert store._query("PRAGMA journal_mode")[0][0] == "wal"
    check_round_trip(results, path)
    frame = load(path)
    assert frame.loc[frame.status == "failed", "error"].item() == "boom"
    assert frame["diverged_at"].dtype == "Int64" and frame["attempts"].tolist() == [1] * 5
    # The stored bytes are the documented layout: little-endian float64, readable without nctheory.
    key = (results[1].run_id, "nc0")
    with sqlite3.connect(path) as conn:
        blob = conn.execute("SELECT value FROM series WHERE run_id=? AND metric=?", key).fetchone()[0]
        values = np.frombuffer(blob, dtype="<f8").copy()
        assert [bits(v) for v in values] == [bits(v) for v in results[1].series["nc0"]]
        # Negative control: one value moved by one ulp inside the stored blob is found.
        values[1] = np.nextafter(values[1], 1.0)
        conn.execute("UPDATE series SET value=? WHERE run_id=? AND metric=?", (values.tobytes(), *key))
    with pytest.raises(AssertionError):
        check_round_trip(results, path)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=20))
def test_any_float64_series_round_trips(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("prop") / "s.sqlite"
    result = make_result(0, values=values)
    with ResultStore(path) as store:
        store.write(result)
        stored = store.results()[0]
    assert [bits(v) for v in stored.series["nc0"]] == [bits(v) for v in values]
    assert stored.run == result.run and stored.run_id == result.run_id


def test_one_transaction_per_run(tmp_path):
    """A write that fails half way (the series insert) leaves neither the run nor its series."""
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    store.write(make_result(0))
    real = store._conn

    class FailingSeries:
        def execute(self, sql, args=()):
            return real.execute(sql, args)

        def executemany(self, sql, rows):
            assert sql.startswith("INSERT INTO series")  # after the runs row, in the same transaction
            raise sqlite3.OperationalError("disk full (planted)")

    store._conn = FailingSeries()
    with pytest.raises(sqlite3.OperationalError, match="planted"):
        store.write(make_result(1))
    store._conn = real
    assert len(store) == 1 and set(store.series()) == {make_result(0).run_id}
    store.write(make_result(1))  # the store is still usable, and now has both
    assert len(store) == 2 and len(store.series()) == 2
    store.close()


def test_repeated_writes_count_attempts(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        first = make_result(0, values=[1.0, 2.0])
        assert store.write(first) is True
        assert store.write(make_result(0, values=[9.0])) is False  # done: first result kept
        failed = make_result(1, status="failed", error="transient")
        store.write(failed)
        created = store.rows()[1]["created_at"]
        assert store.write(make_result(1)) is True  # a failed run is replaced
        rows = {row["run_id"]: row for row in store.rows()}
    assert rows[first.run_id]["attempts"] == 2 and rows[first.run_id]["final"]["nc0"] == 2.0
    assert rows[failed.run_id]["attempts"] == 2 and rows[failed.run_id]["status"] == "finished"
    assert rows[failed.run_id]["created_at"] == created and rows[failed.run_id]["error"] is None


def test_other_schema_version_is_refused(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    for opener in (ResultStore, load):
        with pytest.raises(NCTheoryError) as info:
            opener(path)
        message = str(info.value)
        assert "old.sqlite" in message and "99" in message and f"schema version {SCHEMA_VERSION}" in message


def test_files_that_are_not_stores_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(NCTheoryError, match="not an nctheory sweep store"):
        ResultStore(other)
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database at all, just text " * 10)
    with pytest.raises(NCTheoryError, match="not a SQLite sweep store"):
        ResultStore(text)
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(NCTheoryError, match="no such sweep store"):
        load(missing)
    assert not missing.exists()  # reading never creates a store
    with pytest.raises(NCTheoryError, match="directory"):
        ResultStore(tmp_path)
    with ResultStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(NCTheoryError, match="RunResult"):
            store.write({"status": "finished"})
        stepless = make_result(0)
        stepless.series = {"nc0": [1.0, 2.0]}
        with pytest.raises(NCTheoryError, match="'step'"):
            store.write(stepless)
        stepless.series = {"step": [0], "nc0": [1.0, 2.0]}
        with pytest.raises(NCTheoryError, match="at most 1 numbers"):
            store.write(stepless)
        assert len(store) == 0


def test_export_parquet_and_csv(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        for seed in range(3):
            store.write(make_result(seed))
        store.write(make_result(5, "adam", lr=0.001))
    frame = load(path)
    parquet = pd.read_parquet(export(path, tmp_path / "runs.parquet"))
    pd.testing.assert_frame_equal(parquet, frame, check_dtype=False)
    csv = pd.read_csv(export(path, tmp_path / "runs.csv"))
    assert list(csv.columns) == list(frame.columns) and list(csv.run_id) == list(frame.run_id)
    assert np.array_equal(csv.final_nc0.to_numpy(), frame.final_nc0.to_numpy(), equal_nan=True)
    long = pd.read_parquet(export(path, tmp_path / "series.parquet", series=True))
    assert len(long) == 4 * 2 * 4 and set(long.metric) == {"nc0", "loss"}
    assert frame["momentum"].isna().tolist() == [False, False, False, True]  # adam has no momentum
    with pytest.raises(NCTheoryError, match=r"\.parquet or \.csv"):
        export(path, tmp_path / "runs.xlsx")


def test_differences_finds_planted_changes(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for path in (a, b):
        with ResultStore(path) as store:
            for seed in range(3):
                store.write(make_result(seed))
    assert differences(a, b) == []  # timings and timestamps differ, nothing else
    with sqlite3.connect(b) as conn:
        conn.execute("UPDATE runs SET verdict='refuted' WHERE run_id=?", (make_result(1).run_id,))
    with ResultStore(b) as store:
        store.write(make_result(9))
    found = differences(a, b)
    assert any("verdict differs" in line for line in found) and any("only in the second" in line for line in found)
