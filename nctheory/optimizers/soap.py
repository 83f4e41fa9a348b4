"""SOAP: Adam in Shampoo's eigenbasis, decoupled decay, as pytorch-optimizer's ``SOAP`` implements it for matrices.

State: ``GG_L = EMA(G G^T)``, ``GG_R = EMA(G^T G)`` (rate ``1 - beta2``), eigenbases ``Q_L, Q_R``
(``eigh`` of the first statistics, eigenvalues descending; every ``f`` steps one power iteration
``QR(GG Q)`` with columns sorted by ``diag(Q^T GG Q)``, the second moment permuted alike),
``m = EMA_beta1(G)`` in the original basis, ``v = EMA_beta2((Q_L^T G Q_R)^2)`` in the rotated one.
The first step only builds the statistics (nothing moves); at step ``t >= 2`` with ``s = t - 1``:
``U = Q_L [(Q_L^T m Q_R) / (sqrt(v) + eps)] Q_R^T``,
``W <- (1 - eta lambda) (W - eta sqrt(1 - beta2^s) / (1 - beta1^s) U)`` (decay after the step).
Vyas et al., "SOAP: improving and stabilizing Shampoo using Adam", arXiv:2409.11321 (2024);
pytorch_optimizer/optimizer/soap.py (Kim, pytorch-optimizer 4.1; ``merge_dims=False``,
``correct_bias=True``, ``normalize_gradient=False``, ``shampoo_beta=None``: the statistics use beta2).

Theory (derived): the argument is the gradient alone; if the eigenvalue of ``GG_L`` on ``1`` is
simple (rank K - 1: d >= K - 1 and generic gradients), ``1/sqrt(K)`` is a column of ``Q_L`` (the
eigh, and the power iteration: ``GG_L Q`` has no component on 1, so QR's last column is it),
the rotated first moment vanishes on that row, Adam's output too, and ``1^T U = 0``: the matrix
theorem's SOAP case. So ``s' = (1 - eta lambda) s`` from the second step, ``s_1 = s_0``.

Rounding: in floats the rotated first moment's entries on the 1-direction are not 0 but rounding
noise, ``~u ||m||``, and Adam divides them by ``sqrt(v) + eps`` with ``v ~ (u ||G||)^2``: each step
adds ``~u ||m|| / (eps + u ||G||)`` of ``||U||`` to the row sums. Measured (UFM, float64, 300 steps,
the check's run): relative deviation from the recurrence 1.2e-9, 1.7e-10, 1.4e-11 at eps = 1e-8,
1e-7, 1e-6 -- proportional to 1/eps; the example eps = 1e-6 keeps the whole trajectory below the
1e-9 tolerance. In float32 (``u ~ 6e-8``) with eps = 1e-8 the ratio is of order one: SOAP's zero
row sums survive only where ``u ||G|| << eps``.

Measured on: pytorch-optimizer's SOAP with its power-iteration QR in the parameter's dtype
(:class:`nctheory.pytorch.eigenbasis_dtype.SOAPEigenbasisInParamDtype`); the library casts that QR
to float32, which leaves ~1e-7 of ``||U||`` on the row sums from the first refresh (step f) on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from nctheory.errors import HyperparameterError
from nctheory.theory import hyperparams as hp
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import ops as ops_module
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import GUPTA2018, KINGMA2015

BETA1 = replace(hp.BETA1, example=0.95, default=0.95)
BETA2 = replace(hp.BETA2, description="second-moment and statistics decay beta2 (betas[1])", example=0.95,
                default=0.95)
FREQUENCY = hp.Hyperparameter("precondition_frequency", "steps between eigenbasis refreshes (power iteration)", 10,
                              default=10, low=1.0, integer=True, symbol=sp.Symbol("f_Q", positive=True, integer=True))
EPS = replace(hp.EPS, description="Adam's denominator offset epsilon in the eigenbasis")
WEIGHT_DECAY = replace(hp.WEIGHT_DECAY, default=1e-2)


def lerp(start, end, weight: float):
    """``start + weight (end - start)``; on torch tensors torch's own ``lerp`` (its kernel's
    rounding), so that the package's step and the library's agree to the bit -- SOAP needs it:
    the first eigenbasis is arbitrary inside the null space of a rank-deficient statistic, and
    elementwise Adam in that basis turns one ulp of difference into O(lr) later."""
    if hasattr(start, "lerp"):
        return start.lerp(end, weight)
    return start + weight * (end - start)


def _eigenbasis(matrix, xp):
    """``eigh(matrix + 1e-30 I)``, columns flipped to descending eigenvalues (the library's)."""
    _, q = xp.linalg.eigh(matrix + 1e-30 * xp.eye(matrix.shape[0], dtype=matrix.dtype))
    return xp.flip(q, axis=1)


def _refresh(gg, q, v, axis, xp):
    """One power iteration: ``QR(GG Q)`` with columns sorted by ``diag(Q^T GG Q)`` (descending) and
    the second moment permuted along ``axis`` alike."""
    product = gg @ q
    order = xp.argsort(xp.sum(q * product, axis=0), descending=True)
    new_q, _ = xp.linalg.qr(xp.take(product, order, axis=1))
    return new_q, xp.take(v, order, axis=axis)


@dataclass(frozen=True)
class ScaleBySOAP(tf.Transform):
    """SOAP's update ``sqrt(1 - beta2^s)/(1 - beta1^s) U`` (0 at the first step)."""

    nature = tf.MATRIX
    equivariance = tf.LEFT_ORTHOGONAL
    hyperparameters = ("beta1", "beta2", "eps", "precondition_frequency")

    def init(self, params, ops) -> dict:
        return {"exp_avg": None, "exp_avg_sq": None, "GG_0": None, "GG_1": None, "Q_0": None, "Q_1": None, "step": 0}

    def update(self, updates, params, state, hp, ops):
        if mt.is_row_sum_scalar(updates, ops):
            return mt.SOAP(updates), state
        mt._require_matrix(updates, "SOAP")
        xp = ops_module.array_namespace(updates)
        b1, b2, eps, every = hp["beta1"], hp["beta2"], hp["eps"], int(hp["precondition_frequency"])
        G, s = updates, state["step"]  # s: steps taken before this one (the library's group step - 1)
        st = dict(state)
        if s == 0:
            st.update(exp_avg=xp.zeros_like(G), exp_avg_sq=xp.zeros_like(G),
                      GG_0=xp.zeros((G.shape[0],) * 2, dtype=G.dtype), GG_1=xp.zeros((G.shape[1],) * 2, dtype=G.dtype))
            st = self._statistics(G, st, s, b2, every, xp)
            st["step"] = 1
            return 0 * G, st
        QL, QR = st["Q_0"], st["Q_1"]
        m = lerp(st["exp_avg"], G, 1 - b1)
        rotated = QL.T @ G @ QR
        v = lerp(st["exp_avg_sq"], rotated * rotated, 1 - b2)
        U = QL @ ((QL.T @ m @ QR) / (xp.sqrt(v) + eps)) @ QR.T
        scale = (1 - b2 ** s) ** 0.5 / (1 - b1 ** s)
        st.update(exp_avg=m, exp_avg_sq=v)
        st = self._statistics(G, st, s, b2, every, xp)
        st["step"] = s + 1
        return scale * U, st

    @staticmethod
    def _statistics(G, st, s, b2, every, xp):
        """``update_pre_conditioner`` after the step: the EMAs, the first eigenbasis, the refresh."""
        st["GG_0"] = lerp(st["GG_0"], G @ G.T, 1 - b2)
        st["GG_1"] = lerp(st["GG_1"], G.T @ G, 1 - b2)
        if st["Q_0"] is None:
            st["Q_0"], st["Q_1"] = _eigenbasis(st["GG_0"], xp), _eigenbasis(st["GG_1"], xp)
        if s > 0 and s % every == 0:
            st["Q_0"], st["exp_avg_sq"] = _refresh(st["GG_0"], st["Q_0"], st["exp_avg_sq"], 0, xp)
            st["Q_1"], st["exp_avg_sq"] = _refresh(st["GG_1"], st["Q_1"], st["exp_avg_sq"], 1, xp)
        return st


@dataclass(frozen=True)
class DecayAfterStep(tf.Transform):
    """``d <- d - eta lambda (W + d)``: ``W' = (1 - eta lambda)(W + d)``, decay applied after the step
    (pytorch-optimizer's SOAP); nothing at all at the first step. Linear; placed after the lr."""

    hyperparameters = ("lr", "weight_decay")

    def init(self, params, ops) -> dict:
        return {"step": 0}

    def update(self, updates, params, state, hp, ops):
        first = isinstance(state["step"], int) and state["step"] == 0
        out = updates if first else updates - hp["lr"] * hp["weight_decay"] * (params + updates)
        return out, {"step": state["step"] + 1}


def _statistics_use_beta2(name: str, values: dict) -> None:
    if "precondition_frequency" in values and values["precondition_frequency"] < 1:
        raise HyperparameterError(f"{name}: precondition_frequency must be >= 1")


SOAP_WHEN = {"shampoo_beta": None, "merge_dims": False, "precondition_1d": False, "correct_bias": True,
             "normalize_gradient": False}

VYAS2025 = r"""@inproceedings{vyas2025soap,
  author    = {Vyas, Nikhil and Morwani, Depen and Zhao, Rosie and Kwun, Mujin and Shapira, Itai
               and Brandfonbrener, David and Janson, Lucas and Kakade, Sham},
  title     = {{SOAP}: Improving and Stabilizing {Shampoo} using {Adam}},
  booktitle = {International Conference on Learning Representations (ICLR)},
  note      = {arXiv:2409.11321},
  year      = {2025}
}"""


SPEC = OptimizerSpec(
    name="soap",
    title="SOAP",
    summary="SOAP (Adam in Shampoo's eigenbasis), decoupled decay after the step (pytorch-optimizer SOAP)",
    chain=(ScaleBySOAP(), tf.scale_by_learning_rate, DecayAfterStep()),
    hyperparameters=(hp.LR, BETA1, BETA2, WEIGHT_DECAY, FREQUENCY, EPS),
    reference="Vyas et al. (2024), arXiv:2409.11321; pytorch_optimizer/optimizer/soap.py",
    citations=(VYAS2025, GUPTA2018, KINGMA2015),
    # eps = 1e-6 (library: 1e-8): see the module docstring, "Rounding"
    examples={"lr": 3e-3, "weight_decay": 0.1, "eps": 1e-6},
    constraints=(_statistics_use_beta2,),
    torch=(TorchClass("pytorch_optimizer.SOAP", SOAP_WHEN, attributes={"maximize": False},
                      requirement="pytorch-optimizer"),),
    reference_implementation=TorchClass("nctheory.pytorch.eigenbasis_dtype.SOAPEigenbasisInParamDtype", SOAP_WHEN,
                                        requirement="pytorch-optimizer"),
)
