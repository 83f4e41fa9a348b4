"""The registry of losses: each written once, as a sympy expression plus its array forms.

The parameters are declared here, once: label smoothing's eps (default 0.1, Szegedy et
al., CVPR 2016), focal's gamma (default 2, Lin et al., ICCV 2017), soft labels' targets
(per sample, no default). Lemma 1's test keeps eps and gamma symbolic, so it holds for
every value a run may choose.
"""

from __future__ import annotations

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.losses import arrays, symbolic, torch_forms
from nctheory.theory.losses.base import Loss, Parameter

EPSILON = Parameter("epsilon", 0.1, sp.Symbol("epsilon", nonnegative=True),
                    "label smoothing: the target is (1 - eps) e_y + eps/K, eps in [0, 1)")
GAMMA = Parameter("gamma", 2.0, sp.Symbol("gamma", positive=True), "focusing exponent, gamma > 0")
TARGETS = Parameter("targets", None, None, "per-sample target distributions (B x K), rows summing to one")

LOSSES = {
    loss.name: loss for loss in (
        Loss("cross_entropy", "softmax cross-entropy -log p_y", symbolic.cross_entropy,
             arrays.cross_entropy, torch_forms.cross_entropy),
        Loss("label_smoothing", "cross-entropy against (1 - eps) e_y + eps/K", symbolic.label_smoothing,
             arrays.label_smoothing, torch_forms.label_smoothing, (EPSILON,), "Szegedy et al., CVPR 2016"),
        Loss("soft_labels", "cross-entropy against soft targets summing to one (mixup)", symbolic.soft_labels,
             arrays.soft_labels, torch_forms.soft_labels, (TARGETS,), "Zhang et al., ICLR 2018"),
        Loss("focal", "focal loss -(1 - p_y)^gamma log p_y", symbolic.focal, arrays.focal, torch_forms.focal,
             (GAMMA,), "Lin et al., ICCV 2017"),
        Loss("crammer_singer", "multiclass hinge max(0, 1 + max_{k != y} z_k - z_y)", symbolic.crammer_singer,
             arrays.crammer_singer, torch_forms.crammer_singer, (), "Crammer & Singer, JMLR 2001"),
        Loss("mse", "squared error on logits ||z - e_y||^2", symbolic.squared_error, arrays.squared_error,
             torch_forms.squared_error),
        Loss("sigmoid_ovr", "one-vs-rest sigmoid binary cross-entropy", symbolic.sigmoid_one_vs_rest,
             arrays.sigmoid_one_vs_rest, torch_forms.sigmoid_one_vs_rest),
    )
}


def get_loss(loss) -> Loss:
    """A registered loss by name, or a :class:`Loss` as is."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]
    raise NCTheoryError(f"unknown loss {loss!r}; known losses: {', '.join(LOSSES)}")


def runnable_losses() -> tuple:
    """The names of the losses a training run can use (array forms, every parameter defaulted)."""
    return tuple(name for name, loss in LOSSES.items() if loss.runnable)


def run_parameters(label_smoothing: float) -> dict:
    """The loss parameters a run's ``label_smoothing`` eps sets: label smoothing's epsilon
    when eps > 0 (``nctheory.runs.ufm.check_loss`` gives eps > 0 with that loss only)."""
    return {EPSILON.name: label_smoothing} if label_smoothing else {}
