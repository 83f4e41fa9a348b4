"""Losses: one registry, each loss written once as a sympy expression plus array forms.

* :mod:`.symbolic` -- the sympy expressions in the logits (true class index 0);
* :mod:`.arrays` -- per-sample values and logit gradients on numpy / cupy arrays;
* :mod:`.torch_forms` -- values on torch tensors (autograd differentiates them);
* :mod:`.base` -- :class:`Loss` (the three forms) and :class:`Parameter` (declared once,
  with the default runs use);
* :mod:`.registry` -- :data:`LOSSES`, name -> :class:`Loss`;
* :mod:`.invariance` -- Lemma 1's hypothesis (THEORY.md section 2), decided exactly:
  :func:`shift_invariance`, :func:`require_shift_invariant`.

``tests/test_losses.py`` checks that each array gradient equals the sympy gradient.
"""

from nctheory.theory.losses.base import Loss, Parameter
from nctheory.theory.losses.invariance import (SHIFT, ShiftInvariance, require_shift_invariant,
                                               shift_invariance)
from nctheory.theory.losses.registry import LOSSES, get_loss, run_parameters, runnable_losses
from nctheory.theory.losses.symbolic import (crammer_singer, cross_entropy, focal, label_smoothing, logits,
                                             sigmoid_one_vs_rest, soft_labels, squared_error)

__all__ = ["LOSSES", "Loss", "Parameter", "SHIFT", "ShiftInvariance", "crammer_singer", "cross_entropy", "focal",
           "get_loss", "label_smoothing", "logits", "require_shift_invariant", "run_parameters", "runnable_losses",
           "shift_invariance", "sigmoid_one_vs_rest", "soft_labels", "squared_error"]
