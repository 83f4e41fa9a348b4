"""Theorem 2 (THEORY.md section 2): stationarity under coupled L2 forces NC0 = 0.

**Statement.** Let L be a shift-invariant loss (Lemma 1) averaged over any data set and
``lambda > 0``. If ``W*`` is a stationary point of ``L(W) + (lambda/2) ||W||_F^2``, then
``W*^T 1_K = 0``, i.e. NC0(W*) = 0.

**Proof (every K >= 2, every d and N).** ``0 = 1^T (grad L(W*) + lambda W*) = 1^T grad L(W*) +
lambda W*^T 1 = lambda W*^T 1`` by Lemma 1, and ``lambda > 0``. Every optimizer that
converges to a stationary point of the coupled objective (SGD; torch's Adam with
``weight_decay``; SignGD with vanishing steps) therefore ends with NC0 = 0. Machine-checked
for symbolic K and d twice: as an identity of matrix expressions (W, grad L K x d
``MatrixSymbol`` s, Lemma 1 as the hypothesis ``1^T grad L = 0``), and with index sums for a
minibatch of symbolic size N whose per-sample logit gradients sum to 0 (Lemma 1, proved
for every K in :mod:`nctheory.theorems.softmax_sums` for the loss at hand).

**Finite instance (a cross-check).** A symbolic minibatch with K = 3, d = 2 (symbolic W,
b, features; several labels). The negative controls show where the argument breaks:
with squared error the row sum of ``grad L`` does not vanish (for every K), and a
ridge-regression stationary point has a nonzero row sum; with decoupled decay and a sign
step the fixed-point equation is ``lambda W = -sign(G)``, whose row sum is
``-S^T 1 / lambda != 0``.

Reference: Zhao et al., arXiv:2602.16642; for sign descent: Bernstein et al. (2018).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from nctheory.theory.losses import LOSSES
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, distinct, fact, identity
from nctheory.theorems.index_sums import sums_identity
from nctheory.theorems.lemma1 import last_layer, minibatch_gradient
from nctheory.theorems.softmax_sums import D, K, N, WEIGHTS, general_k_verdict, minibatch_column_sum, r, t

LAMBDA_POSITIVE = sp.Symbol("lambda", positive=True)


def ridge_stationary_point(features: sp.Matrix, targets: sp.Matrix, weight_decay) -> sp.Matrix:
    """The unique stationary point of ``1/2 ||W H - Y||^2 + lambda/2 ||W||^2``: ``Y H^T (H H^T + lambda I)^{-1}``."""
    dim = features.shape[0]
    return targets * features.T * (features * features.T + weight_decay * sp.eye(dim)).inv()


class StationarityForcesCentring(Theorem):
    """Theorem 2 for the loss ``loss`` (a registered name); a non-invariant loss must fail."""

    name = "theorem2"
    title = "Stationarity under coupled L2 decay forces NC0 = 0"
    statement = ("For every K >= 2 and every d: if W* is a stationary point of L(W) + lambda/2 ||W||_F^2 with "
                 "lambda > 0 and L a shift-invariant loss, then 1^T(grad L + lambda W*) = lambda W*^T 1 = 0, so "
                 "NC0(W*) = 0.")
    statement_latex = (r"For every $K \ge 2$ and every $d$: "
                       r"$\nabla L(W^\star) + \lambda W^\star = 0,\ \lambda > 0,\ \ell \text{ shift invariant}"
                       r"\ \Longrightarrow\ \mathbf 1_K^\top(\nabla L + \lambda W^\star) = \lambda W^{\star\top}"
                       r"\mathbf 1_K = 0$.")
    hypotheses = ("K >= 2 classes, any dimension d and number of samples N",
                  "the loss is invariant under z -> z + c 1_K (Lemma 1)", "lambda > 0 (coupled L2 decay)",
                  "W* is a stationary point of the regularised objective")
    reference = "Zhao et al., arXiv:2602.16642 (THEORY.md section 2)"
    status = ("proved symbolically for every K >= 2, d and N (matrix expressions and index sums of symbolic size); "
              "the symbolic minibatch with K = 3, d = 2 is a finite instance")

    def __init__(self, loss: str = "cross_entropy", labels=(0, 1, 2, 0), num_classes: int = 3, dim: int = 2):
        self.loss = loss
        self.labels = tuple(labels)
        self.num_classes = num_classes
        self.dim = dim

    environment = "theorem"

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_foundations`)."""
        from nctheory.theorems.prose_foundations import theorem2_tex

        return theorem2_tex(self)

    def steps(self):
        verdict, lemma1_steps = general_k_verdict(self.loss)
        yield from lemma1_steps
        yield fact(f"Lemma 1 for {self.loss}, every K >= 2: its gradient sums to 0 (shift invariant)", (),
                   verdict is True)
        weights, grad, ones = sp.MatrixSymbol("W", K, D), sp.MatrixSymbol("G", K, D), sp.OneMatrix(K, 1)
        rest = sp.expand(ones.T * (grad + LAMBDA_POSITIVE * weights)) - LAMBDA_POSITIVE * (weights.T * ones).T
        yield fact("every K, d: 1^T (G + lambda W) - lambda (W^T 1)^T = 1^T G (G = grad L, W: K x d MatrixSymbols)",
                   (rest,), rest == ones.T * grad)
        yield fact("every K, d: with Lemma 1 (1^T G = 0), 1^T (G + lambda W) = lambda W^T 1",
                   (rest.subs(ones.T * grad, sp.ZeroMatrix(1, D)),),
                   rest.subs(ones.T * grad, sp.ZeroMatrix(1, D)) in (0, sp.ZeroMatrix(1, D)))
        yield sums_identity("every N, K, d (index sums): for a minibatch whose per-sample logit gradients sum to 0, "
                            "column t of 1^T ((1/N) sum_s g_s h_s^T + lambda W) is lambda sum_r W_rt",
                            minibatch_column_sum(LAMBDA_POSITIVE * WEIGHTS[r, t] / N),
                            LAMBDA_POSITIVE * sp.Sum(WEIGHTS[r, t], (r, 1, K)))
        entry = sp.Symbol("s_t")
        yield fact("every d: stationarity gives lambda (W*^T 1)_t = 0 for each t, and with lambda > 0 the only "
                   "solution is (W*^T 1)_t = 0", (entry,), sp.solve(LAMBDA_POSITIVE * entry, entry) == [0])
        k, d = self.num_classes, self.dim
        weights = last_layer(k, d)[0]
        grad = minibatch_gradient(LOSSES[self.loss].build, self.labels, k, d, weights)
        ones = sp.ones(1, k)
        yield identity(f"instance K = {k}, d = {d}: Lemma 1 for {self.loss}, 1^T grad L = 0 for a symbolic "
                       f"minibatch (labels {self.labels})", ones * grad, sp.zeros(1, d), "cancel")
        row_sum = weights.T * sp.ones(k, 1)
        yield identity(f"instance K = {k}, d = {d}: 1^T (grad L + lambda W) = lambda W^T 1",
                       (ones * (grad + LAMBDA_POSITIVE * weights)).T, LAMBDA_POSITIVE * row_sum, "cancel")
        unknowns = sp.symbols(f"s_1:{d + 1}")
        solutions = sp.solve([LAMBDA_POSITIVE * s for s in unknowns], unknowns, dict=True)
        yield fact(f"instance d = {d}: lambda W*^T 1 = 0 with lambda > 0 has the single solution W*^T 1 = 0",
                   (sp.Matrix(unknowns),), solutions == [{s: 0 for s in unknowns}])
        # Negative controls: where the argument breaks.
        yield fact("negative control, every K >= 2: for squared error Lemma 1 fails (an exact witness for every K; "
                   "see lemma1), so the first step above cannot be taken", (), general_k_verdict("mse")[0] is False)
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

    def check(self, seed: int = 0, weight_decay: float = 0.05, num_classes: int = 5, dim: int = 16,
              samples_per_class: int = 8) -> NumericalCheck:
        """A stationary point of the regularised UFM, found by L-BFGS in float64.

        ``F(W, H) = L(W H^T) + (lambda/2)(||W||^2 + ||H||^2)`` from the seeded UFM start.
        The proof's identity ``lambda W^T 1 = 1^T grad_W F - 1^T grad_W L`` gives, with
        Lemma 1 and Cauchy-Schwarz, the quantitative form ``NC0(W) <= sqrt(K) ||grad_W F||_F /
        lambda`` at *any* point: the prediction compared with the measured NC0. Rounding of
        the computed gradient ``g``: ``||g - grad_W F||_F <= 8 (K + N) eps (|| |dL/dZ|^T |H|
        ||_F + lambda ||W||_F)`` (each entry: a sum of N products and K-term softmax
        normalisations, <= 8 roundings per term), added to ``||g||``. Control: the same run
        with squared error (Lemma 1 fails) ends at NC0 of order ||W||, far above the bound.
        """
        from nctheory.errors import HyperparameterError
        from nctheory.runs.ufm import init_ufm

        if not weight_decay > 0:
            raise HyperparameterError(f"{self.name}: weight_decay must be > 0 (the hypothesis lambda > 0), "
                                      f"got {weight_decay!r}")
        rows = []
        for loss, role in ((self.loss, "claim"), ("mse", "control")):
            if role == "control" and self.loss == "mse":
                continue
            start, y = init_ufm(num_classes, samples_per_class, dim, seed=seed)
            point, grad_w, rounding, grad_norm = _stationary_point(start, y, loss, weight_decay)
            W = point["W"]
            nc0 = float(np.linalg.norm(W.sum(0)))
            bound = math.sqrt(num_classes) * (float(np.linalg.norm(grad_w)) + rounding) / weight_decay
            rel = nc0 / (math.sqrt(num_classes) * float(np.linalg.norm(W)))
            rel0 = float(np.linalg.norm(start["W"].sum(0)) / (math.sqrt(num_classes) * np.linalg.norm(start["W"])))
            rows.append(Comparison(f"{loss}: ||grad F|| at the point L-BFGS reached", "0 (stationary)", grad_norm,
                                   None, role="info"))
            rows.append(Comparison(f"{loss}: NC0_rel at the start -> at the stationary point", rel0, rel, None,
                                   role="info"))
            if role == "claim":
                rows.append(Comparison(f"{loss}: NC0(W*) <= sqrt(K) ||grad_W F|| / lambda", f"<= {bound:.3g}", nc0,
                                       nc0 <= bound, "the bound includes the float64 rounding of the gradient"))
            else:
                rows.append(Comparison(f"{loss} (Lemma 1 fails): NC0(W*) vs the same bound", f"<= {bound:.3g}", nc0,
                                       nc0 > 1e3 * bound, "must violate the bound a thousand-fold: the loss "
                                                           "hypothesis is needed", role="control"))
        setting = (f"UFM K = {num_classes}, d = {dim}, n = {samples_per_class} per class, lambda = {weight_decay} "
                   f"on W and H, seed {seed}; L-BFGS to a stationary point, float64")
        return NumericalCheck(self.name, setting, tuple(rows))


def _stationary_point(start: dict, y, loss: str, weight_decay: float):
    """L-BFGS on the regularised UFM: ``(point, grad_W F, rounding bound of it, ||grad F||)``."""
    from scipy.optimize import minimize

    from nctheory.runs.ufm import loss_and_gradients

    shapes = [(name, start[name].shape) for name in ("W", "H")]
    sizes = [int(np.prod(shape)) for _, shape in shapes]

    def unpack(x):
        parts = np.split(x, np.cumsum(sizes)[:-1])
        return {name: part.reshape(shape) for (name, shape), part in zip(shapes, parts)}

    def objective(x):
        p = unpack(x)
        value, grads = loss_and_gradients(p, y, loss)
        total = float(value) + weight_decay / 2 * sum(float(np.sum(v * v)) for v in p.values())
        return total, np.concatenate([(grads[name] + weight_decay * p[name]).ravel() for name, _ in shapes])

    x0 = np.concatenate([start[name].ravel() for name, _ in shapes])
    result = minimize(objective, x0, jac=True, method="L-BFGS-B",
                      options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 20000, "maxcor": 30})
    point = unpack(result.x)
    _, grad = objective(result.x)
    grad_w = unpack(grad)["W"]
    K, N = point["W"].shape[0], point["H"].shape[0]
    logits = point["H"] @ point["W"].T
    dlogits = 2.0 * (np.abs(logits) + 1) / N  # |dL/dZ| <= 2 (|Z| + 1) / N (MSE), <= 1 / N (CE): majorises both
    eps = np.finfo(np.float64).eps
    rounding = 8 * (K + N) * eps * (float(np.linalg.norm(dlogits.T @ np.abs(point["H"])))
                                    + weight_decay * float(np.linalg.norm(point["W"])))
    return point, grad_w, rounding, float(np.linalg.norm(grad))


THEOREM2 = StationarityForcesCentring()
