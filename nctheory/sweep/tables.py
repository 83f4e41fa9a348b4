"""A sweep store as pandas tables: :func:`load` (one row per run), :func:`load_series` (one
row per recorded value) and :func:`export` (Parquet or CSV).

Columns of :func:`load`, in this order:

* ``run_id``, ``optimizer``, ``theory``, ``metrics`` (comma-separated);
* the RunConfig keywords the sweep set (``model``, ``steps``, ``seed``, ``num_classes``,
  ...) under their own names -- a keyword a run left unset is missing (NaN/None) there,
  meaning RunConfig's default applied;
* the hyperparameters the sweep set (``lr``, ``momentum``, ...) under their own names, or
  ``hp_NAME`` where a name is also a RunConfig keyword;
* ``status``, ``verdict``, ``reasons`` (joined by " | "), ``error``, ``diverged_at``,
  ``steps_done``, ``implementation``, ``wall_time_s``, ``batch_runs``;
* ``final_NAME`` for each metric series (the last recorded value; ``final_step`` is the
  step it was recorded at);
* ``package_version``, ``git_commit``, ``git_dirty``, ``created_at``, ``updated_at``
  (UTC timestamps) and ``attempts``.
"""

from __future__ import annotations

import math
from pathlib import Path

from nctheory.errors import NCTheoryError

RESULT_COLUMNS = ("status", "verdict", "reasons", "error", "diverged_at", "steps_done", "implementation",
                  "wall_time_s", "batch_runs")
PROVENANCE_COLUMNS = ("package_version", "git_commit", "git_dirty", "created_at", "updated_at", "attempts")
EXPORT_FORMATS = (".parquet", ".csv")


def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover -- pandas is a dependency
        raise NCTheoryError("loading a sweep store needs pandas: pip install 'nctheory[sweep]'") from None
    return pandas


def runs_frame(rows: list):
    """The DataFrame of :func:`load` from :meth:`ResultStore.rows` output."""
    pd = _pandas()
    config_keys = list(dict.fromkeys(k for row in rows for k in row["config"]["config"]))
    hparam_keys = list(dict.fromkeys(k for row in rows for k in row["config"]["hparams"]))
    final_keys = list(dict.fromkeys(k for row in rows for k in row["final"]))
    fixed = {"run_id", "optimizer", "theory", "metrics", *RESULT_COLUMNS, *PROVENANCE_COLUMNS}
    clash = set(config_keys) | fixed
    hp_name = {k: (f"hp_{k}" if k in clash else k) for k in hparam_keys}
    records = []
    for row in rows:
        canonical = row["config"]
        record = {"run_id": row["run_id"], "optimizer": row["optimizer"], "theory": canonical.get("theory"),
                  "metrics": ",".join(canonical["metrics"])}
        record.update({k: canonical["config"].get(k) for k in config_keys})
        record.update({hp_name[k]: canonical["hparams"].get(k) for k in hparam_keys})
        record.update({k: row[k] for k in RESULT_COLUMNS})
        record["reasons"] = " | ".join(row["reasons"])
        record.update({f"final_{k}": row["final"].get(k, float("nan")) for k in final_keys})
        record.update({k: row[k] for k in PROVENANCE_COLUMNS})
        records.append(record)
    columns = (["run_id", "optimizer", "theory", "metrics", *config_keys, *hp_name.values(), *RESULT_COLUMNS,
                *(f"final_{k}" for k in final_keys), *PROVENANCE_COLUMNS])
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ("created_at", "updated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    for column in ("diverged_at",):
        frame[column] = frame[column].astype("Int64")
    return frame


def load(path):
    """The runs of the sweep store at ``path`` as a pandas DataFrame, one row per run.

    Columns: see the module docstring. Raises NCTheoryError when ``path`` is not a store
    or was written with another schema version.
    """
    from nctheory.sweep.store import ResultStore

    with ResultStore(path, create=False) as store:
        return store.load()


def load_series(path):
    """The metric series of the store at ``path`` in long format: columns ``run_id`` and
    ``metric`` (categoricals), ``step`` (int64) and ``value`` (float64), one row per recorded
    value. Join with :func:`load` on ``run_id`` for the configuration."""
    import numpy as np

    from nctheory.sweep.store import ResultStore

    pd = _pandas()
    with ResultStore(path, create=False) as store:
        series = store.series(raw=True)
    run_ids = sorted(series)
    metrics = list(dict.fromkeys(name for data in series.values() for name in data if name != "step"))
    metric_code = {name: i for i, name in enumerate(metrics)}
    run_codes, metric_codes, sizes, steps, values = [], [], [], [], []
    for run_code, run_id in enumerate(run_ids):
        for name, (step, vals) in series[run_id].items():
            if name != "step":
                run_codes.append(run_code)
                metric_codes.append(metric_code[name])
                sizes.append(vals.size)
                steps.append(step)
                values.append(vals)

    def cat(parts, dtype):
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    sizes = np.asarray(sizes, dtype=np.int64)
    run_codes = np.repeat(np.asarray(run_codes, dtype=np.int32), sizes)
    metric_codes = np.repeat(np.asarray(metric_codes, dtype=np.int16), sizes)
    return pd.DataFrame({
        "run_id": pd.Categorical.from_codes(run_codes, categories=pd.Index(run_ids, dtype=object)),
        "metric": pd.Categorical.from_codes(metric_codes, categories=pd.Index(metrics, dtype=object)),
        "step": cat(steps, np.int64), "value": cat(values, np.float64)})


def export(path, out, series: bool = False):
    """Write the store at ``path`` to ``out`` (``.parquet`` via pyarrow, or ``.csv``).

    ``series=False``: :func:`load`'s table; ``series=True``: :func:`load_series`'s. Returns
    the output path. Columns holding mixed Python types are written as text in Parquet.
    """
    out = Path(out) if isinstance(out, (str, Path)) else None
    if out is None or out.suffix.lower() not in EXPORT_FORMATS:
        raise NCTheoryError(f"export file must end in {' or '.join(EXPORT_FORMATS)}, got {str(out) if out else out!r}")
    frame = load_series(path) if series else load(path)
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
        return out
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover -- pyarrow is a dependency
        raise NCTheoryError("Parquet export needs pyarrow: pip install 'nctheory[sweep]'") from None
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1:
                frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    frame.to_parquet(out, index=False)
    return out


#: Columns that legitimately differ between two executions of the same runs.
TIMING_COLUMNS = ("wall_time_s", "created_at", "updated_at")


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True  # NaN == NaN here: both undefined
    return type(a) is type(b) and a == b


def differences(path_a, path_b, ignore=TIMING_COLUMNS) -> list:
    """How the stores at ``path_a`` and ``path_b`` differ, as sentences (empty: the same).

    Compares the run_ids, every ``runs`` column except ``ignore`` (the configuration, status,
    verdict and reasons, errors, final values, provenance, attempts) and every metric series,
    value by value and type by type with no tolerance (NaN equals NaN): the same runs on the
    same software give the same float64 bits whichever process ran them, so any difference is
    a real one. A run's error text is compared only up to its last line (the exception
    itself; tracebacks name files and processes).
    """
    from nctheory.sweep.store import ResultStore

    with ResultStore(path_a, create=False) as a, ResultStore(path_b, create=False) as b:
        rows = [{row["run_id"]: row for row in store.rows()} for store in (a, b)]
        series = [a.series(), b.series()]
    out = []
    only = [sorted(set(rows[0]) - set(rows[1])), sorted(set(rows[1]) - set(rows[0]))]
    for side, ids in zip(("first", "second"), only):
        if ids:
            out.append(f"runs only in the {side} store: {', '.join(ids)}")
    for run_id in sorted(set(rows[0]) & set(rows[1])):
        ra, rb = rows[0][run_id], rows[1][run_id]
        for column in ra:
            if column in ignore:
                continue
            va, vb = ra[column], rb[column]
            if column == "error" and va is not None and vb is not None:
                va, vb = va.strip().splitlines()[-1], vb.strip().splitlines()[-1]
            if column == "final":
                keys = set(va) | set(vb)
                bad = sorted(k for k in keys if not _same(va.get(k), vb.get(k)))
                if bad:
                    out.append(f"run {run_id}: final values differ in {', '.join(bad)}")
            elif not _same(va, vb):
                out.append(f"run {run_id}: {column} differs ({va!r} vs {vb!r})")
        sa, sb = series[0].get(run_id, {}), series[1].get(run_id, {})
        for name in sorted(set(sa) | set(sb)):
            xa, xb = sa.get(name), sb.get(name)
            if xa is None or xb is None or len(xa) != len(xb) or not all(map(_same, xa, xb)):
                out.append(f"run {run_id}: series {name!r} differs")
    return out
