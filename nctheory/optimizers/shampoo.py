"""Shampoo with decoupled weight decay, as pytorch-optimizer's ``Shampoo`` implements it for matrices.

``G_hat = (1 - mu) G + mu U_prev`` (``grad.lerp_(momentum_buffer, mu)``; the buffer holds the
previous *preconditioned* update, and the gradient itself at the first step);
``L <- L + G_hat G_hat^T``, ``R <- R + G_hat^T G_hat`` from ``eps I``;
``U = L^(-1/4) G_hat R^(-1/4)`` (inverse roots by SVD, every step);
``W <- (1 - eta lambda) W - eta U``.
Gupta, Koren & Singer, "Shampoo: preconditioned stochastic tensor optimization", ICML 2018
(Algorithm 1, with a momentum and an epsilon-regularised start); pytorch_optimizer/optimizer/
shampoo.py (Kim, pytorch-optimizer 4.1: ``weight_decouple=True``, ``fixed_decay=False``,
``preconditioning_compute_steps=1``). That library's plain ``Shampoo`` has no grafting (its
``ScalableShampoo`` does); grafting rescales the update by a scalar, which keeps zero row sums
(the matrix theorem allows any scalar factor) and is not modelled here.

Theory (derived, :mod:`nctheory.theory.symbolic.centring`): every input of the preconditioner
is a gradient or a previous output, all with zero row sums (Lemma 1 and induction); the map is
left-orthogonally equivariant (``L -> Q L Q^T``, its inverse root turns with it), so ``1^T U = 0``
and ``s' = (1 - eta lambda) s`` exactly -- the row-sum eigenvalue of L is ``eps`` and ``1`` is an
eigenvector of ``L^(-1/4)``, with the largest eigenvalue ``eps^(-1/4)``, which multiplies
nothing because ``1^T G_hat = 0``.

Rounding -- an instability of this momentum: in floats ``1^T G_hat`` is rounding noise ``delta``,
not 0. ``L^(-1/4)`` multiplies it by ``eps^(-1/4)`` and ``R^(-1/4)`` by up to ``eps^(-1/4)`` (R is
``eps`` on the right null space of the gradients), and the momentum feeds the output back into
the next input: the row-sum error of U grows by about ``mu eps^(-1/2)`` per step. Measured
(random centred 5 x 20 inputs, float64, numerics/results/matrix_rounding.json): per-step growth
~9 at mu = 0.9, eps = 1e-2 and ~900 at eps = 1e-6 (the library's default), where ``1^T U`` is of
the order of ``||U||`` after 5 steps; with mu = 0 it stays at 1e-13. So the recurrence is seen
in floats only where ``mu eps^(-1/2) < 1`` (the example: mu = 0); beyond, pytorch-optimizer's
Shampoo does not keep zero row sums in practice, whatever the theorem says in exact arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from nctheory.theory import hyperparams as hp
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import ops as ops_module
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import GUPTA2018

MOMENTUM = replace(hp.MOMENTUM, description="momentum mu of Shampoo (mixes the previous preconditioned update)",
                   example=0.9, default=0.0, low_open=False)
MATRIX_EPS = hp.Hyperparameter("matrix_eps", "epsilon of Shampoo's statistics L = eps I + sum G G^T", 1e-6,
                                default=1e-6, low=0.0, low_open=True, symbol=sp.Symbol("epsilon_L", positive=True))


def inverse_root(matrix, power: int):
    """``matrix^(-1/power)`` by SVD in the matrix's dtype (pytorch-optimizer's ``compute_power_svd``)."""
    xp = ops_module.array_namespace(matrix)
    u, s, vh = xp.linalg.svd(matrix, full_matrices=False)
    return (u * (s ** (-1.0 / power))[None, :]) @ vh


@dataclass(frozen=True)
class ScaleByShampoo(tf.Transform):
    """``U = L^(-1/4) G_hat R^(-1/4)`` with the statistics and momentum of pytorch-optimizer's Shampoo."""

    nature = tf.MATRIX
    equivariance = tf.LEFT_ORTHOGONAL
    hyperparameters = ("momentum", "matrix_eps")

    def init(self, params, ops) -> dict:
        return {"momentum_buffer": None, "pre_cond_0": None, "pre_cond_1": None}

    def update(self, updates, params, state, hp, ops):
        if mt.is_row_sum_scalar(updates, ops):
            return mt.Shampoo(updates), state
        mt._require_matrix(updates, "Shampoo")
        xp = ops_module.array_namespace(updates)
        mu, eps = hp["momentum"], hp["matrix_eps"]
        buf = state["momentum_buffer"]
        g = updates if buf is None or mu == 0 else updates + mu * (buf - updates)  # grad.lerp_(buf, mu)
        rows, cols = updates.shape
        left = state["pre_cond_0"] if state["pre_cond_0"] is not None else eps * xp.eye(rows, dtype=updates.dtype)
        right = state["pre_cond_1"] if state["pre_cond_1"] is not None else eps * xp.eye(cols, dtype=updates.dtype)
        left = left + g @ g.T
        right = right + g.T @ g
        out = inverse_root(left, 4) @ g @ inverse_root(right, 4)
        return out, {"momentum_buffer": out, "pre_cond_0": left, "pre_cond_1": right}


SPEC = OptimizerSpec(
    name="shampoo",
    title="Shampoo",
    summary="Shampoo (matrix preconditioner L^-1/4 G R^-1/4), decoupled decay (pytorch-optimizer Shampoo)",
    chain=(ScaleByShampoo(), tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, MOMENTUM, hp.WEIGHT_DECAY, MATRIX_EPS),
    reference="Gupta, Koren & Singer (2018); pytorch_optimizer/optimizer/shampoo.py",
    citations=(GUPTA2018,),
    # momentum 0: with momentum the zero row sums are numerically unstable (module docstring)
    examples={"lr": 1e-2, "weight_decay": 0.1, "momentum": 0.0},
    torch=(TorchClass("pytorch_optimizer.Shampoo", {"weight_decouple": True, "fixed_decay": False},
                      attributes={"preconditioning_compute_steps": 1, "maximize": False},
                      requirement="pytorch-optimizer"),),
)
