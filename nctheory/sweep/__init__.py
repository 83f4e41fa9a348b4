"""Sweeps: many training runs from one specification, batched where their shapes agree,
stored durably, resumable, and runnable on a Dask cluster.

* :mod:`.run_spec` -- :class:`SweepRun`, one run and its identity;
* :mod:`.result` -- :class:`RunResult` and the one-at-a-time path :func:`run_one`;
* :mod:`.store` -- :class:`ResultStore`, the SQLite result store; :mod:`.tables` --
  :func:`load`, :func:`load_series`, :func:`export` (pandas, Parquet, CSV);
* :mod:`.dask_backend` -- :func:`run_on_dask`, batches as Dask tasks;
* :mod:`.spec` / :mod:`.spec_toml` -- :class:`Sweep` from :func:`product` and ``zip`` blocks or a
  TOML file (:func:`load_spec`), validated before anything runs;
* :mod:`.groups` -- :func:`batch_key`, :func:`plan`: which runs batch together;
* :mod:`.execute` -- :func:`run_sweep`; :mod:`.estimate` -- the dry run's time estimate;
  :mod:`.cli` -- ``python -m nctheory.sweep SPEC``.

``zip`` (``nctheory.sweep.zip``) is not in ``__all__``, so that ``import *`` does not hide
the built-in.
"""

from nctheory.sweep.result import RunResult, run_one
from nctheory.sweep.run_spec import METRICS, SweepRun
from nctheory.sweep.store import ResultStore
from nctheory.sweep.tables import export, load, load_series
from nctheory.sweep.spec import Sweep, SweepSpecError, load_spec, product, zip  # noqa: F401 -- zip: not in __all__
from nctheory.sweep.groups import batch_key, plan
from nctheory.sweep.execute import SweepSummary, run_sweep

__all__ = ["METRICS", "RunResult", "SweepRun", "run_one", "ResultStore", "load", "load_series", "export",
           "Sweep", "SweepSpecError", "load_spec", "product", "batch_key", "plan", "SweepSummary", "run_sweep"]
