"""Theorem 2 (THEORY.md section 2): stationarity under coupled L2 forces NC0 = 0.

**Statement.** Let L be a shift-invariant loss (Lemma 1) averaged over any data set and
``lambda > 0``. If ``W*`` is a stationary point of ``L(W) + (lambda/2) ||W||_F^2``, then
``W*^T 1_K = 0``, i.e. NC0(W*) = 0.

**Proof.** ``0 = 1^T (grad L(W*) + lambda W*) = 1^T grad L(W*) + lambda W*^T 1 =
lambda W*^T 1`` by Lemma 1, and ``lambda > 0``. Every optimizer that converges to a
stationary point of the coupled objective (SGD; torch's Adam with ``weight_decay``;
SignGD with vanishing steps) therefore ends with NC0 = 0.

Verified with a symbolic minibatch (symbolic W, b, features; several labels). The
negative controls show where the argument breaks: with squared error the row sum of
``grad L`` does not vanish (so the identity fails), and a ridge-regression stationary
point has a nonzero row sum; with decoupled decay and a sign step the fixed-point
equation is ``lambda W = -sign(G)``, whose row sum is ``-S^T 1 / lambda != 0``.

Reference: Zhao et al., arXiv:2602.16642; for sign descent: Bernstein et al. (2018).
"""

from __future__ import annotations

import sympy as sp

from ..losses import LOSSES
from .base import Theorem, distinct, fact, identity
from .lemma1 import last_layer, minibatch_gradient

LAMBDA_POSITIVE = sp.Symbol("lambda", positive=True)


def ridge_stationary_point(features: sp.Matrix, targets: sp.Matrix, weight_decay) -> sp.Matrix:
    """The unique stationary point of ``1/2 ||W H - Y||^2 + lambda/2 ||W||^2``: ``Y H^T (H H^T + lambda I)^{-1}``."""
    dim = features.shape[0]
    return targets * features.T * (features * features.T + weight_decay * sp.eye(dim)).inv()


class StationarityForcesCentring(Theorem):
    """Theorem 2 for the loss ``loss`` (a registered name); a non-invariant loss must fail."""

    name = "theorem2"
    title = "Stationarity under coupled L2 decay forces NC0 = 0"
    statement = ("If W* is a stationary point of L(W) + lambda/2 ||W||_F^2 with lambda > 0 and L a "
                 "shift-invariant loss, then 1^T(grad L + lambda W*) = lambda W*^T 1 = 0, so NC0(W*) = 0.")
    statement_latex = (r"$\nabla L(W^\star) + \lambda W^\star = 0,\ \lambda > 0,\ \ell \text{ shift invariant}"
                       r"\ \Longrightarrow\ \mathbf 1_K^\top(\nabla L + \lambda W^\star) = \lambda W^{\star\top}"
                       r"\mathbf 1_K = 0$.")
    hypotheses = ("the loss is invariant under z -> z + c 1_K (Lemma 1)", "lambda > 0 (coupled L2 decay)",
                  "W* is a stationary point of the regularised objective")
    reference = "Zhao et al., arXiv:2602.16642 (THEORY.md section 2)"
    status = "proved symbolically"

    def __init__(self, loss: str = "cross_entropy", labels=(0, 1, 2, 0), num_classes: int = 3, dim: int = 2):
        self.loss = loss
        self.labels = tuple(labels)
        self.num_classes = num_classes
        self.dim = dim

    def steps(self):
        k, d = self.num_classes, self.dim
        weights = last_layer(k, d)[0]
        grad = minibatch_gradient(LOSSES[self.loss].build, self.labels, k, d, weights)
        ones = sp.ones(1, k)
        yield identity(f"Lemma 1 for {self.loss}: 1^T grad L = 0 for a symbolic minibatch "
                       f"(labels {self.labels})", ones * grad, sp.zeros(1, d), "cancel")
        row_sum = weights.T * sp.ones(k, 1)
        yield identity("1^T (grad L + lambda W) = lambda W^T 1", (ones * (grad + LAMBDA_POSITIVE * weights)).T,
                       LAMBDA_POSITIVE * row_sum, "cancel")
        unknowns = sp.symbols(f"s_1:{d + 1}")
        solutions = sp.solve([LAMBDA_POSITIVE * s for s in unknowns], unknowns, dict=True)
        yield fact("stationarity: lambda W*^T 1 = 0 with lambda > 0 has the single solution W*^T 1 = 0",
                   (sp.Matrix(unknowns),), solutions == [{s: 0 for s in unknowns}])
        # Negative controls: where the argument breaks.
        mse_grad = minibatch_gradient(LOSSES["mse"].build, self.labels, k, d, weights)
        yield distinct("negative control: with squared error, 1^T grad L is not 0 (Lemma 1 fails)",
                       ones * mse_grad, sp.zeros(1, d))
        features = sp.Matrix([[1, 2, 0, -1], [3, -1, 1, 2]])
        targets = sp.Matrix([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]])
        ridge = ridge_stationary_point(features, targets, sp.Rational(1, 10))
        residual = (ridge * features - targets) * features.T + sp.Rational(1, 10) * ridge
        yield identity("negative control: the ridge (MSE) stationary point solves its stationarity equation",
                       residual, sp.zeros(k, d), "cancel")
        yield distinct("negative control: ... and its row sum W*^T 1 is not 0", ridge.T * sp.ones(k, 1),
                       sp.zeros(d, 1), "cancel")
        signs = sp.Matrix([[1, -1], [1, 1], [-1, 1]])
        fixed_point = -signs / LAMBDA_POSITIVE
        eta = sp.Symbol("eta", positive=True)
        yield identity("negative control (decoupled decay, sign step): W = -S/lambda is a fixed point of "
                       "W <- (1 - eta lambda) W - eta S", (1 - eta * LAMBDA_POSITIVE) * fixed_point - eta * signs,
                       fixed_point)
        yield distinct("negative control: ... whose row sum -S^T 1/lambda is not 0 (K = 3 odd)",
                       fixed_point.T * sp.ones(k, 1), sp.zeros(d, 1))


THEOREM2 = StationarityForcesCentring()
