"""NAdam (Nesterov-accelerated Adam) with coupled (L2) weight decay, as torch.optim.NAdam
implements it (``decoupled_weight_decay=False``).

``d = G + lambda W``; momentum schedule ``mu_t = beta1 (1 - 0.96^(t psi) / 2)`` with
``psi`` = ``momentum_decay``, ``P_t = prod_{j <= t} mu_j``;
``m <- beta1 m + (1 - beta1) d``, ``v <- beta2 v + (1 - beta2) d^2`` from 0;
``W <- W - eta [ (1 - mu_t) / (1 - P_t) d + mu_{t+1} / (1 - P_t mu_{t+1}) m ]
/ (sqrt(v / (1 - beta2^t)) + eps)``.
Dozat, "Incorporating Nesterov momentum into Adam", ICLR 2016 workshop;
torch/optim/nadam.py, ``_single_tensor_nadam``.

Theory: Adam's family with coupled decay (elementwise division; Theorem 2's stationary
points have NC0 = 0): NC0_rel decreases (checked empirically).
"""

from dataclasses import dataclass

import sympy as sp

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import KINGMA2015

MOMENTUM_DECAY = hp.Hyperparameter("momentum_decay", "NAdam's momentum decay psi: mu_t = beta1 (1 - 0.96^(t psi) / 2)",
                                   4e-3, default=4e-3, low=0.0, symbol=sp.Symbol("psi", nonnegative=True))


def _mu(beta1, step, psi):
    return beta1 * (1 - sp.Rational(1, 2) * sp.Rational(96, 100) ** (step * psi)) if isinstance(
        step * psi, sp.Basic) else beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))


@dataclass(frozen=True)
class ScaleByNadam(tf.Transform):
    """NAdam's direction (module docstring), with the scalar state ``mu_product`` = P_t."""

    nature = tf.ELEMENTWISE
    buffers = ("exp_avg", "exp_avg_sq")
    letters = {"exp_avg": "m", "exp_avg_sq": "v", "mu_product": "P"}
    hyperparameters = ("beta1", "beta2", "eps", "momentum_decay")

    def init(self, params, ops) -> dict:
        return {"exp_avg": ops.zeros_like(params), "exp_avg_sq": ops.zeros_like(params),
                "mu_product": 1, "step": 0}

    def update(self, updates, params, state, hp, ops):
        b1, b2, eps, psi = hp["beta1"], hp["beta2"], hp["eps"], hp["momentum_decay"]
        t = state["step"] + 1
        mu, mu_next = _mu(b1, t, psi), _mu(b1, t + 1, psi)
        product = state["mu_product"] * mu
        m = b1 * state["exp_avg"] + (1 - b1) * updates
        v = b2 * state["exp_avg_sq"] + (1 - b2) * updates * updates
        denom = ops.sqrt(v / (1 - b2 ** t)) + eps
        step = ((1 - mu) / (1 - product)) * updates / denom + (mu_next / (1 - product * mu_next)) * m / denom
        return step, {"exp_avg": m, "exp_avg_sq": v, "mu_product": product, "step": t}


DOZAT2016 = r"""@inproceedings{dozat2016incorporating,
  author    = {Dozat, Timothy},
  title     = {Incorporating {Nesterov} Momentum into {Adam}},
  booktitle = {International Conference on Learning Representations (ICLR), Workshop Track},
  year      = {2016}
}"""


SPEC = OptimizerSpec(
    name="nadam",
    title="NAdam",
    summary="NAdam, coupled L2 weight decay (torch.optim.NAdam)",
    chain=(tf.add_decayed_weights, ScaleByNadam(), tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.BETA1, hp.BETA2, hp.EPS, hp.WEIGHT_DECAY, MOMENTUM_DECAY),
    reference="Dozat (2016); torch/optim/nadam.py",
    citations=(DOZAT2016, KINGMA2015),
    examples={"lr": 1e-3, "weight_decay": 5e-2},
    torch=(TorchClass("torch.optim.NAdam", {"decoupled_weight_decay": False}),),
)
