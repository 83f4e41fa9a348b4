"""nctheory: how the choice of optimizer decides whether Neural Collapse can emerge.

The diagnostic NC0 = ||W^T 1_K|| (the norm of the row sum of the last-layer weights)
must vanish for Neural Collapse (Lemma 0). Its dynamics are exact and data-independent
for every optimizer linear in (gradient, weights, buffers) (Lemma 1), and qualitatively
different for sign-based and adaptive ones. Source: Zhao, Cheng, Masarczyk & Lucchi,
"Optimizer choice matters for the emergence of Neural Collapse", arXiv:2602.16642.

Main entry points: :func:`optimizer`, :func:`names`, :func:`from_torch`, :func:`nc0`,
:func:`nc0_rel`, :func:`track`; ``python -m nctheory.check NAME``,
``python -m nctheory.appendix``.
"""

from nctheory.errors import (HyperparameterError, LossNotShiftInvariantError, MissingHyperparameterError,
                     NCTheoryError, NoLinearRecurrenceError, UnknownOptimizerError)
from nctheory.runs.nc0 import nc0, nc0_rel
from nctheory.optimizers import get_spec, names, optimizer
from nctheory.theory.spec import OptimizerSpec
from nctheory.pytorch.tracker import Tracker, track


def from_torch(torch_optimizer, param=None, group=None):
    """The spec matching a real ``torch.optim`` optimizer; see :mod:`nctheory.pytorch.from_torch`."""
    from nctheory.pytorch.from_torch import from_torch as _from_torch

    return _from_torch(torch_optimizer, param=param, group=group)


__all__ = ["optimizer", "names", "get_spec", "from_torch", "nc0", "nc0_rel", "OptimizerSpec", "track", "Tracker",
           "NCTheoryError", "UnknownOptimizerError", "HyperparameterError",
           "NoLinearRecurrenceError", "LossNotShiftInvariantError", "MissingHyperparameterError"]
__version__ = "0.1.0"
