"""Adagrad with coupled (L2) weight decay, as torch.optim.Adagrad implements it.

``d = G + lambda W``; ``v <- v + d^2`` from ``v = 0``;
``W <- W - eta_t d / (sqrt(v) + eps)`` with ``eta_t = eta / (1 + (t - 1) lr_decay)``.
Duchi, Hazan & Singer, "Adaptive subgradient methods for online learning and stochastic
optimization", JMLR 12 (2011); torch/optim/adagrad.py, ``_single_tensor_adagrad``
(``initial_accumulator_value`` must be 0: the accumulator starts at zero here).

Theory: an elementwise division, so no row-sum recurrence; coupled decay, so Adam's family
(stationary points have NC0 = 0, Theorem 2). The accumulator only grows, so the effective
step shrinks like 1/sqrt(t): NC0_rel should decrease, slowly.
"""

from dataclasses import dataclass

import sympy as sp

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

LR_DECAY = hp.Hyperparameter("lr_decay", "Adagrad's learning-rate decay: eta_t = eta / (1 + (t - 1) lr_decay)",
                             0.0, default=0.0, low=0.0, symbol=sp.Symbol("kappa", nonnegative=True))


@dataclass(frozen=True)
class ScaleByAdagrad(tf.Transform):
    """``v <- v + d^2``; step ``d / (sqrt(v) + eps) / (1 + (t - 1) lr_decay)`` at step t >= 1."""

    nature = tf.ELEMENTWISE
    buffers = ("sum",)
    letters = {"sum": "v"}
    hyperparameters = ("eps", "lr_decay")

    def init(self, params, ops) -> dict:
        return {"sum": ops.zeros_like(params), "step": 0}

    def update(self, updates, params, state, hp, ops):
        t = state["step"] + 1
        v = state["sum"] + updates * updates
        step = updates / (ops.sqrt(v) + hp["eps"]) / (1 + (t - 1) * hp["lr_decay"])
        return step, {"sum": v, "step": t}


DUCHI2011 = r"""@article{duchi2011adaptive,
  author  = {Duchi, John and Hazan, Elad and Singer, Yoram},
  title   = {Adaptive Subgradient Methods for Online Learning and Stochastic Optimization},
  journal = {Journal of Machine Learning Research},
  volume  = {12},
  pages   = {2121--2159},
  year    = {2011}
}"""


SPEC = OptimizerSpec(
    name="adagrad",
    title="Adagrad",
    summary="Adagrad, coupled L2 weight decay (torch.optim.Adagrad)",
    chain=(tf.add_decayed_weights, ScaleByAdagrad(), tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, LR_DECAY, hp.WEIGHT_DECAY, hp.EPS),
    reference="Duchi, Hazan & Singer (2011); torch/optim/adagrad.py",
    citations=(DUCHI2011,),
    examples={"lr": 1e-2, "weight_decay": 5e-2, "eps": 1e-10, "lr_decay": 1e-3},  # the check exercises lr_decay
    defaults={"eps": 1e-10},
    torch=(TorchClass("torch.optim.Adagrad", {"initial_accumulator_value": 0}),),
)
