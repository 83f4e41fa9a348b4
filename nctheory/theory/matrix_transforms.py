r"""MATRIX transformations: maps on the whole K x d update, written once for every backend.

Muon (Jordan et al., "Muon: an optimizer for hidden layers in neural networks", 2024,
https://kellerjordan.github.io/posts/muon/; ``torch/optim/_muon.py``) replaces the update by
an approximate polar factor computed by a quintic Newton-Schulz iteration; Shampoo (Gupta,
Koren & Singer, "Shampoo: preconditioned stochastic tensor optimization", ICML 2018) by
``L^(-1/4) G R^(-1/4)`` with ``L = eps I + sum G G^T`` and ``R = eps I + sum G^T G``; SOAP
(Vyas et al., "SOAP: improving and stabilizing Shampoo using Adam", arXiv:2409.11321, 2024;
:mod:`nctheory.optimizers.soap`) runs Adam in Shampoo's eigenbasis.

Every one of them is *left-orthogonally equivariant*
(:data:`~nctheory.theory.transforms.LEFT_ORTHOGONAL`): turning every input by an orthogonal
``Q`` on the left turns the output by ``Q``. For Newton-Schulz,
``X' = a X + b (X X^T) X + c (X X^T)^2 X`` and ``(QX)(QX)^T = Q X X^T Q^T``, so each
iteration commutes with Q, and so does the normalisation by ``||X||_F`` (invariant);
for Shampoo ``L -> Q L Q^T``, ``f(Q L Q^T) = Q f(L) Q^T`` for every spectral function f and
``R`` is unchanged. The matrix theorem (:mod:`nctheory.theorems.matrix_row_sums`) turns this
into ``1_K^T U = 0`` whenever ``1_K^T X_j = 0`` for every input (Lemma 1 for the gradients).

On sympy scalars -- the symbolic engine, where a scalar stands for one entry of the row sums
-- a matrix transformation has no scalar form: it returns an opaque function of its
argument (``NS(x)``, ``polar(x)``, ...), which the engine holds opaque
(:mod:`nctheory.theory.symbolic.opaque`) and the LaTeX prints. Its derivative is declared 0:
how the output's row sum responds to a nonzero row sum of the input is data-dependent (for
Newton-Schulz about ``a^steps / ||G||_F``) and not modelled here; the rounding floor bounds it
for Newton-Schulz (:mod:`nctheory.verdict.matrix_rounding`). On sympy
*matrices* the array code runs exactly (rational Newton-Schulz instances in ``proofs/``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from nctheory.theory import ops as ops_module
from nctheory.theory.transforms import LEFT_ORTHOGONAL, MATRIX, Transform

#: torch's Newton-Schulz coefficients and step count (Jordan et al. 2024; torch/optim/_muon.py).
TORCH_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
TORCH_NS_STEPS = 5
TORCH_NS_EPS = 1e-7
#: torch's ``adjust_lr_fn``: the factor on the orthogonalised update for a (rows, cols) matrix.
LR_SCALINGS = ("original", "match_rms_adamw", "none")


class _Opaque(sp.Function):
    """A matrix transformation's output on a sympy scalar (module docstring): opaque, with
    derivative declared 0 (its row-sum response is not modelled)."""

    def fdiff(self, argindex=1):
        return sp.Integer(0)


class NS(_Opaque):
    """Newton-Schulz orthogonalisation, on a row-sum scalar."""


class polar(_Opaque):  # noqa: N801 -- prints as the mathematical name
    """The polar factor, on a row-sum scalar."""


class Shampoo(_Opaque):
    """Shampoo's preconditioned update ``L^(-1/4) G R^(-1/4)``, on a row-sum scalar."""


class SOAP(_Opaque):
    """SOAP's update (Adam in Shampoo's eigenbasis), on a row-sum scalar."""


def is_row_sum_scalar(x, ops) -> bool:
    """Whether ``x`` is a sympy scalar of the symbolic engine (not a matrix or an array)."""
    return ops is ops_module.SYMBOLIC and not isinstance(x, sp.MatrixBase)


def frobenius(x):
    """``||x||_F`` of a numpy / cupy / torch array (0-d) or an exact sympy matrix."""
    if isinstance(x, sp.MatrixBase):
        return x.norm()
    return ops_module.array_namespace(x).linalg.vector_norm(x)


def newton_schulz(G, coefficients, steps: int, eps: float):
    """torch's quintic Newton-Schulz iteration in the dtype of ``G`` (Jordan et al. 2024).

    ``X = G / max(||G||_F, eps)`` (transposed first when G has more rows than columns), then
    ``steps`` times ``A = X X^T``, ``X <- a X + (b A + c A^2) X``; transposed back. On a
    float64 array this is the float64 iteration; on an exact sympy matrix it is exact.
    The result is ``X p(X^T X)`` for a polynomial p, i.e. left-orthogonally equivariant.
    """
    a, b, c = coefficients
    transpose = G.shape[0] > G.shape[1]
    X = G.T if transpose else G
    norm = frobenius(X)
    X = X / (norm if norm > eps else eps)
    exact = isinstance(X, sp.MatrixBase)
    for _ in range(int(steps)):
        gram = X @ X.T
        X = a * X + (b * gram + c * (gram @ gram)) @ X
        if exact:  # keep exact iterates expanded: products of unexpanded sums grow exponentially
            X = X.applyfunc(sp.expand)
    return X.T if transpose else X


def shape_factor(rule: str, shape, exact: bool = False):
    """torch's ``_adjust_lr`` ratio for a (rows, cols) parameter: ``sqrt(max(1, rows/cols))``
    ("original", Jordan et al.), ``0.2 sqrt(max(rows, cols))`` ("match_rms_adamw", Liu et al.,
    "Muon is scalable for LLM training", arXiv:2502.16982), 1 ("none"). ``exact``: a sympy number."""
    rows, cols = int(shape[0]), int(shape[1])
    sqrt = sp.sqrt if exact else math.sqrt
    if rule == "original":
        return sqrt(max(sp.Integer(1), sp.Rational(rows, cols))) if exact else sqrt(max(1.0, rows / cols))
    if rule == "match_rms_adamw":
        return sp.Rational(1, 5) * sqrt(max(rows, cols)) if exact else 0.2 * sqrt(max(rows, cols))
    if rule == "none":
        return 1.0
    raise ValueError(f"lr_scaling must be one of {', '.join(LR_SCALINGS)}, got {rule!r}")


def _require_matrix(x, who: str) -> None:
    if len(x.shape) != 2:
        raise ValueError(f"{who} acts on 2-D parameters (K x d matrices), got shape {tuple(x.shape)}")


@dataclass(frozen=True)
class NewtonSchulzOrthogonalisation(Transform):
    """``d <- s(shape) NS_k^{(a,b,c)}(d)``: torch's Muon orthogonalisation (Jordan et al. 2024).

    The iteration of :func:`newton_schulz` with coefficients ``(ns_a, ns_b, ns_c)`` and
    ``ns_steps`` steps, in the update's own dtype (torch.optim.Muon computes it in bfloat16:
    that rounding is the subject of :mod:`nctheory.theorems.bfloat16_floor`), times torch's
    shape factor :func:`shape_factor` (``lr_scaling``: its ``adjust_lr_fn``). Stateless.
    """

    lr_scaling: str = "original"
    nature = MATRIX
    equivariance = LEFT_ORTHOGONAL
    hyperparameters = ("ns_a", "ns_b", "ns_c", "ns_steps", "eps")

    def update(self, updates, params, state, hp, ops):
        if is_row_sum_scalar(updates, ops):
            return NS(updates), state
        _require_matrix(updates, "Newton-Schulz")
        out = newton_schulz(updates, (hp["ns_a"], hp["ns_b"], hp["ns_c"]), int(hp["ns_steps"]), hp["eps"])
        return out * shape_factor(self.lr_scaling, updates.shape, exact=isinstance(out, sp.MatrixBase)), state


@dataclass(frozen=True)
class PolarFactor(Transform):
    """``d <- U V^T`` for the thin SVD ``d = U S V^T`` restricted to the singular values above
    ``max(K, d) eps_dtype s_max``: the exact orthogonalisation that Newton-Schulz approximates
    (Jordan et al. 2024; Bernstein & Newhouse, "Old optimizer, new norm", arXiv:2409.20325).

    The rank cut keeps the polar factor of a centred G (rank <= K - 1: ``1_K`` spans a null
    direction) from promoting rounding noise in that direction to a unit singular value.
    """

    nature = MATRIX
    equivariance = LEFT_ORTHOGONAL

    def update(self, updates, params, state, hp, ops):
        if is_row_sum_scalar(updates, ops):
            return polar(updates), state
        _require_matrix(updates, "the polar factor")
        xp = ops_module.array_namespace(updates)
        U, S, Vh = xp.linalg.svd(updates, full_matrices=False)
        eps = float(xp.finfo(updates.dtype).eps)
        keep = S > max(updates.shape) * eps * (S[0] if S.shape[0] else 0)
        return (U * xp.astype(keep, updates.dtype)) @ Vh, state


@dataclass(frozen=True)
class MuonMomentum(Transform):
    """torch.optim.Muon's momentum: ``b <- mu b + (1 - mu) d`` from ``b = 0`` (``buf.lerp_(grad,
    1 - mu)``); the step is ``(1 - mu) d + mu b`` (``nesterov=True``: ``grad.lerp(buf, mu)``)
    or ``b``. Linear, with a buffer torch keeps as ``momentum_buffer``."""

    nesterov: bool = True
    buffers = ("momentum_buffer",)
    letters = {"momentum_buffer": "u"}
    hyperparameters = ("momentum",)

    def init(self, params, ops) -> dict:
        return {"momentum_buffer": ops.zeros_like(params)}

    def update(self, updates, params, state, hp, ops):
        mu = hp["momentum"]
        buf = mu * state["momentum_buffer"] + (1 - mu) * updates
        step = (1 - mu) * updates + mu * buf if self.nesterov else buf
        return step, {"momentum_buffer": buf}


muon_momentum = MuonMomentum()
newton_schulz_orthogonalisation = NewtonSchulzOrthogonalisation()
polar_factor = PolarFactor()
