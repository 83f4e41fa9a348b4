"""Lemma 0 (THEORY.md section 1): NC0 -> 0 is necessary for Neural Collapse.

**Statement.** If the rows ``w_1, ..., w_K`` of the last-layer weights W form a simplex
equiangular tight frame -- equal norms a and pairwise cosines ``-1/(K-1)`` -- then
``W^T 1_K = sum_k w_k = 0``, i.e. NC0(W) = 0. Likewise, if W is proportional to the
transpose of the globally centred class means of a balanced data set (NC3), then
``W^T 1_K`` is proportional to ``sum_k (mu_k - mu_G) = 0``.

**Proof (every K >= 2, any dimension d).** ``||sum_k w_k||^2 = 1^T (W W^T) 1 = sum_k ||w_k||^2
+ sum_{k != l} <w_k, w_l> = K a^2 + K (K - 1) (-a^2 / (K - 1)) = 0`` -- with K and d symbols:
the Gram form is an identity of matrix expressions of symbolic size (``MatrixSymbol``), and
``1^T G 1 = a^2 K (1 + (K - 1) c)`` is computed by sympy for the Gram matrix
``G = a^2 ((1 - c) I_K + c 1 1^T)`` of symbolic size, then vanishes at ``c = -1/(K-1)``.
The NC3 part: ``sum_k mu_k - K mu_G = 0`` with ``mu_G = (1/K) sum_k mu_k`` as index sums
over ``k = 1..K`` (balanced classes), and ``(M - mu_G 1^T) 1 = 0`` for a d x K matrix M of
symbolic size.

**Finite instances (cross-checks, not the proof).** Explicit exact simplex ETFs for
K = 2..6, rotated by an exact rational orthogonal matrix (a Cayley transform) so that
centring is not built in: their Gram matrices are those of an ETF, and their row sums
are 0; NC3 with symbolic means for K = 2..6.

Reference: Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
phase of deep learning training", PNAS 117 (2020); Zhao et al., arXiv:2602.16642.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

import numpy as np

from nctheory.runs.nc0 import nc0
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, distinct, fact, identity
from nctheory.theorems.index_sums import sums_identity

K_SYMBOL = sp.Symbol("K", integer=True, positive=True)
DIM = sp.Symbol("d", integer=True, positive=True)
NORM = sp.Symbol("a", positive=True)
COSINE = sp.Symbol("c", real=True)


def etf_cosine(k):
    """The simplex ETF's pairwise cosine -1/(K-1)."""
    return -sp.Integer(1) / (k - 1)


def cayley_orthogonal(n: int) -> sp.Matrix:
    """An exact rational orthogonal matrix ``(I - S)(I + S)^{-1}`` (S skew-symmetric)."""
    skew = sp.zeros(n, n)
    for i in range(n):
        for j in range(i + 1, n):
            skew[i, j] = sp.Rational(i + 2 * j + 1, 3 + i + j)
            skew[j, i] = -skew[i, j]
    return (sp.eye(n) - skew) * (sp.eye(n) + skew).inv()


def simplex_etf(k: int, norm=1) -> sp.Matrix:
    """An exact K x K simplex ETF with row norm ``norm``, rotated by a rational orthogonal matrix."""
    centred = sp.eye(k) - sp.ones(k, k) / k
    scale = norm * sp.sqrt(sp.Rational(k, k - 1))
    return (scale * centred * cayley_orthogonal(k)).applyfunc(sp.radsimp)


def etf_gram(k: int, norm=1, cosine: Callable = etf_cosine) -> sp.Matrix:
    """``a^2 ((1 - c) I + c 1 1^T)``: the Gram matrix of equal norms a and cosines c."""
    c = cosine(sp.Integer(k))
    return norm ** 2 * ((1 - c) * sp.eye(k) + c * sp.ones(k, k))


class SimplexETFRowSum(Theorem):
    """Lemma 0; ``cosine`` is the claimed pairwise cosine (a wrong one makes the proof fail)."""

    name = "lemma0"
    title = "NC0 is necessary: a simplex ETF has zero row sum"
    statement = ("For every K >= 2 and every dimension d: if the rows of W have equal norms a and pairwise "
                 "cosines -1/(K-1) (a simplex ETF), then W^T 1_K = 0, so NC0(W) = 0; if W is proportional to "
                 "the globally centred class means of balanced classes (NC3), W^T 1_K = 0 as well.")
    statement_latex = (r"For every $K \ge 2$ and every $d$: "
                       r"$\|w_k\| = a,\ \cos\angle(w_k, w_l) = -\tfrac{1}{K-1}\ (k \ne l)"
                       r"\ \Longrightarrow\ W^\top \mathbf 1_K = 0$.")
    hypotheses = ("K >= 2 classes", "rows of W: equal norms a > 0, pairwise cosines -1/(K-1) (simplex ETF)",
                  "for the NC3 part: balanced classes, W proportional to (M - mu_G 1^T)^T")
    reference = ("Papyan, Han & Donoho, PNAS 117 (2020); Zhao et al., arXiv:2602.16642")
    status = ("proved symbolically for every K >= 2 and every d (symbolic K and d: matrix expressions and index "
              "sums); exact rotated ETFs for K = 2..6 are finite instances")

    def __init__(self, cosine: Callable = etf_cosine, sizes=(2, 3, 4, 5, 6)):
        self.cosine = cosine
        self.sizes = tuple(sizes)

    environment = "lemma"

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_foundations`)."""
        from nctheory.theorems.prose_foundations import lemma0_tex

        return lemma0_tex(self)

    def steps(self):
        k, a = K_SYMBOL, NORM
        squared_norm = k * a ** 2 + k * (k - 1) * a ** 2 * self.cosine(k)
        yield identity("every K: ||sum_k w_k||^2 = K a^2 + K(K-1) a^2 cos = 0 for symbolic K", squared_norm, 0,
                       "cancel")
        weights, ones = sp.MatrixSymbol("W", k, DIM), sp.OneMatrix(k, 1)
        gram_form = ((weights.T * ones).T * (weights.T * ones)).doit()
        yield fact("every K, d: ||W^T 1||^2 = (W^T 1)^T (W^T 1) = 1^T (W W^T) 1 (W a K x d MatrixSymbol)",
                   (gram_form,), gram_form == ones.T * weights * weights.T * ones)
        gram = a ** 2 * ((1 - COSINE) * sp.Identity(k) + COSINE * ones * ones.T)
        summed = (ones.T * gram * ones).expand().doit()
        summed = summed[0, 0] if isinstance(summed, (sp.MatrixBase, sp.MatrixExpr)) else summed
        yield identity("every K: for G = a^2 ((1 - c) I_K + c 1 1^T) (equal norms a, cosines c), sympy's "
                       "1^T G 1 = a^2 K (1 + (K - 1) c)", summed, a ** 2 * k * (1 + (k - 1) * COSINE))
        yield identity("every K: at the claimed cosine, 1^T G 1 = 0", summed.subs(COSINE, self.cosine(k)), 0, "cancel")
        means, kk, ll, t = sp.IndexedBase("mu", real=True), *sp.symbols("k l t", integer=True)
        global_mean = sp.Sum(means[ll, t], (ll, 1, k)) / k
        yield sums_identity("NC3, every K, d: sum_{k=1}^K (mu_k - mu_G)_t = 0 with mu_G = (1/K) sum_l mu_l "
                            "(balanced classes)", sp.Sum(means[kk, t] - global_mean, (kk, 1, k)), 0)
        class_means = sp.MatrixSymbol("M", DIM, k)
        centred = ((class_means - class_means * ones * ones.T / k) * ones).expand().doit()
        yield fact("NC3, every K, d: W^T 1 = alpha (M - mu_G 1^T) 1 = alpha (M 1 - M 1 (1^T 1)/K) = 0 (M a d x K "
                   "MatrixSymbol)", (centred,), centred == sp.ZeroMatrix(DIM, 1) or centred == 0)
        yield from self._instances()
        yield distinct("negative control: an orthonormal frame (cosines 0) is not centred: ||sum_k e_k||^2 = K",
                       (sp.ones(1, 3) * sp.eye(3) * sp.ones(3, 1))[0], 0)
        yield fact("negative control: equal norms with cosines -1/K (instead of -1/(K-1)) leave "
                   "||sum_k w_k||^2 = a^2 != 0", (sp.simplify(k * a ** 2 + k * (k - 1) * a ** 2 * (-1 / k)),),
                   sp.simplify(k * a ** 2 + k * (k - 1) * a ** 2 * (-1 / k)) == a ** 2)

    def _instances(self):
        """Exact frames of fixed size: cross-checks of the general-K proof."""
        generic = sp.Matrix(3, 2, sp.symbols("w_1:4_1:3", real=True))
        ones = sp.ones(3, 1)
        yield identity("instance K = 3, d = 2: ||W^T 1||^2 = 1^T (W W^T) 1 entrywise",
                       (generic.T * ones).dot(generic.T * ones), (ones.T * generic * generic.T * ones)[0])
        for size in self.sizes:
            frame = simplex_etf(size)
            yield identity(f"instance K = {size}: the exact rotated frame has the claimed Gram matrix "
                           f"(norms 1, cosines {self.cosine(sp.Integer(size))})",
                           (frame * frame.T).applyfunc(sp.radsimp), etf_gram(size, 1, self.cosine), "radsimp")
            yield identity(f"instance K = {size}: its row sum W^T 1 is exactly 0", frame.T * sp.ones(size, 1),
                           sp.zeros(size, 1), "radsimp")
            yield identity(f"instance K = {size}: 1^T G 1 = 0 for the claimed Gram matrix G",
                           (sp.ones(1, size) * etf_gram(size, NORM, self.cosine) * sp.ones(size, 1))[0], 0)
        for size in self.sizes:
            means = [sp.Matrix(sp.symbols(f"m_{i}_1:4", real=True)) for i in range(1, size + 1)]
            global_mean = sum(means, sp.zeros(3, 1)) / size
            yield identity(f"instance K = {size}: NC3, sum_k (mu_k - mu_G) = 0 for balanced classes",
                           sum((m - global_mean for m in means), sp.zeros(3, 1)), sp.zeros(3, 1))

    def check(self, seed: int = 0, sizes=(3, 5, 10), norm: float = 2.5) -> NumericalCheck:
        """Rows built in float64 from the *claimed* geometry (norms ``norm``, cosines
        ``self.cosine(K)``), rotated at random: their NC0 must vanish up to rounding.

        ``G = norm^2 ((1 - c) I + c 1 1^T)``; ``G = V diag(l) V^T`` (``numpy.linalg.eigh``);
        eigenvalues below ``4 K eps max(l)`` are set to 0 (Weyl: eigh's backward error is
        ``O(K eps ||G||)``, so smaller ones are rounding of a zero eigenvalue);
        ``W = V diag(sqrt(l)) Q`` with Q (K x d, d = K + 3) orthonormal rows from a seeded QR.
        Tolerance (not tuned): the eigenvectors of the nonzero eigenvalues are orthogonal
        to ``1`` up to ``16 K eps ||G|| / gap`` (Davis-Kahan; for the ETF the gap is
        ``||G||``), so ``||1^T V diag(sqrt l)|| <= 16 K^2 eps sqrt(max l)``; the product and
        the column sum add ``gamma_K (|A||Q| + |W|)`` (Higham 3.5). With a wrong cosine the
        rows do not sum to zero (``||W^T 1||^2 = 1^T G 1``) and the check is refuted.
        Control: orthonormal rows (cosines 0) have ``NC0 = norm sqrt(K)``.
        """
        from nctheory.errors import NCTheoryError

        if not sizes or any(not isinstance(k, int) or k < 2 for k in sizes):
            raise NCTheoryError(f"sizes must be class counts K >= 2, got {sizes!r}")
        rng = np.random.default_rng([seed, 10])
        eps = np.finfo(np.float64).eps
        rows = []
        for k in sizes:
            cosine = float(self.cosine(sp.Integer(k)))
            gram = norm ** 2 * ((1 - cosine) * np.eye(k) + cosine * np.ones((k, k)))
            values, vectors = np.linalg.eigh(gram)
            values = np.where(values < 4 * k * eps * values.max(), 0.0, values)
            A = vectors * np.sqrt(values)
            q, _ = np.linalg.qr(rng.standard_normal((k + 3, k + 3)))
            frame = q[:k]
            W = A @ frame
            gamma = k * eps / (1 - k * eps)
            bound = float(16 * k ** 2 * eps * np.sqrt(values.max())
                          + np.linalg.norm(gamma * ((np.abs(A) @ np.abs(frame)).sum(axis=0) + np.abs(W).sum(axis=0))))
            measured = nc0(W)
            cosines = (W @ W.T) / norm ** 2
            off = float(np.max(np.abs(cosines[~np.eye(k, dtype=bool)] - cosine)))
            rows.append(Comparison(f"K = {k}: max |cos(w_k, w_l) - ({cosine:.4g})| of the rows built", 0.0, off, None,
                                   role="info"))
            rows.append(Comparison(f"K = {k}: NC0 of the rotated rows", 0.0, measured, measured <= bound,
                                   f"tolerance {bound:.2e}: float64 bound (eigh, product, sum)"))
            control = nc0(norm * frame)
            rows.append(Comparison(f"K = {k}: NC0 of orthonormal rows (not an ETF)", "> tolerance", control,
                                   control > 1e6 * bound, f"exact value norm sqrt(K) = {norm * np.sqrt(k):.6g}",
                                   role="control"))
        return NumericalCheck(self.name, f"rows with the claimed norms and cosines, seeded random rotations (seed "
                                         f"{seed}), K in {tuple(sizes)}, row norm {norm}, float64", tuple(rows))


LEMMA0 = SimplexETFRowSum()
