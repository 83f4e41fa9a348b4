"""RMSprop with optional heavy-ball momentum and coupled (L2) weight decay, as
torch.optim.RMSprop implements it (``centered=False``).

``d = G + lambda W``; ``v <- alpha v + (1 - alpha) d^2`` from ``v = 0``;
``b <- mu b + d / (sqrt(v) + eps)`` from ``b = 0``; ``W <- W - eta b``
(``mu = 0``: ``W <- W - eta d / (sqrt(v) + eps)``).
Tieleman & Hinton, Lecture 6.5 of "Neural Networks for Machine Learning" (Coursera, 2012);
Graves, "Generating sequences with recurrent neural networks", arXiv:1308.0850 (2013),
for the centred variant; torch/optim/rmsprop.py, ``_single_tensor_rmsprop``.

Theory: the division by ``sqrt(v)`` is elementwise, so no row-sum recurrence exists; the
decay sits inside the preconditioned direction (coupled), so stationary points of the
coupled objective have NC0 = 0 (Theorem 2) and RMSprop falls in Adam's family: NC0_rel
decreases (checked empirically).
"""

from dataclasses import dataclass, replace

import sympy as sp

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import TIELEMAN2012

ALPHA = hp.Hyperparameter("alpha", "smoothing constant alpha of RMSprop's squared-gradient average", 0.99,
                          default=0.99, low=0.0, high=1.0, high_open=True,
                          symbol=sp.Symbol("alpha", nonnegative=True))
#: torch's RMSprop takes momentum in [0, 1) (0: no buffer), unlike SGD's spec, where 0 is plain SGD.
MOMENTUM = replace(hp.MOMENTUM, description="heavy-ball momentum mu of RMSprop (0: none)", example=0.9,
                   default=0.0, low_open=False)


@dataclass(frozen=True)
class ScaleByRMS(tf.Transform):
    """``v <- alpha v + (1 - alpha) d^2``; step ``d / (sqrt(v) + eps)``; centred:
    ``g_avg <- alpha g_avg + (1 - alpha) d`` and step ``d / (sqrt(v - g_avg^2) + eps)``."""

    centered: bool = False
    nature = tf.ELEMENTWISE
    letters = {"square_avg": "v", "grad_avg": r"\bar{g}"}
    hyperparameters = ("alpha", "eps")

    @property
    def buffers(self):
        return ("square_avg", "grad_avg") if self.centered else ("square_avg",)

    def init(self, params, ops) -> dict:
        return {name: ops.zeros_like(params) for name in self.buffers}

    def update(self, updates, params, state, hp, ops):
        alpha, eps = hp["alpha"], hp["eps"]
        v = alpha * state["square_avg"] + (1 - alpha) * updates * updates
        if not self.centered:
            return updates / (ops.sqrt(v) + eps), {"square_avg": v}
        mean = alpha * state["grad_avg"] + (1 - alpha) * updates
        return updates / (ops.sqrt(v - mean * mean) + eps), {"square_avg": v, "grad_avg": mean}


@dataclass(frozen=True)
class MomentumFromZero(tf.Transform):
    """``b <- mu b + d`` from ``b = 0`` (RMSprop's buffer, no dampening); step ``b``."""

    buffers = ("momentum_buffer",)
    letters = {"momentum_buffer": "u"}
    hyperparameters = ("momentum",)

    def init(self, params, ops) -> dict:
        return {"momentum_buffer": ops.zeros_like(params)}

    def update(self, updates, params, state, hp, ops):
        buf = hp["momentum"] * state["momentum_buffer"] + updates
        return buf, {"momentum_buffer": buf}


SPEC = OptimizerSpec(
    name="rmsprop",
    title="RMSprop",
    summary="RMSprop with momentum, coupled L2 weight decay (torch.optim.RMSprop)",
    chain=(tf.add_decayed_weights, ScaleByRMS(), MomentumFromZero(), tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, ALPHA, hp.EPS, hp.WEIGHT_DECAY, MOMENTUM),
    reference="Tieleman & Hinton (2012); torch/optim/rmsprop.py",
    citations=(TIELEMAN2012,),
    examples={"lr": 1e-3, "weight_decay": 5e-2, "momentum": 0.9},
    torch=(TorchClass("torch.optim.RMSprop", {"centered": False}),),
)
