"""Sweeps: many training runs from one specification, batched where their shapes agree,
stored durably, resumable, and runnable on a Dask cluster.

* :mod:`.run_spec` -- :class:`SweepRun`, one run and its identity;
* :mod:`.result` -- :class:`RunResult` and the one-at-a-time path :func:`run_one`.
"""

from nctheory.sweep.result import RunResult, run_one
from nctheory.sweep.run_spec import METRICS, SweepRun

__all__ = ["METRICS", "RunResult", "SweepRun", "run_one"]
