"""Training runs that measure what the theory predicts.

The contract between the numerical layer (models, data, backends) and the verdict / check /
tracker layer, split by role:

* :mod:`.config` -- :class:`RunConfig`, the typed and validated set-up of a run;
* :mod:`.record` -- :class:`TrainingRecord` (what a run measured, with the spec it ran) and
  :func:`save_record` / :func:`load_record`;
* :mod:`.runners` -- the UFM and torch runners that step the optimizer;
* :mod:`.loop` -- :func:`run` (spec + config, the typed entry point), :func:`run_training`
  (a registry name and keywords) and the loop with its divergence and interrupt handling.
"""

from nctheory.runs.training.config import (GAUSSIAN_DEFAULTS, MODELS, NETWORK_RECORD_EVERY_EPOCHS, UFM_DEFAULTS,
                                           UFM_RECORD_EVERY, RunConfig, default_record_every)
from nctheory.runs.training.loop import resolve_spec, run, run_training
from nctheory.runs.training.record import METRIC_NAMES, TrainingRecord, load_record, save_record

__all__ = ["GAUSSIAN_DEFAULTS", "METRIC_NAMES", "MODELS", "NETWORK_RECORD_EVERY_EPOCHS", "UFM_DEFAULTS",
           "UFM_RECORD_EVERY", "RunConfig", "TrainingRecord", "default_record_every", "load_record", "resolve_spec",
           "run", "run_training", "save_record"]
