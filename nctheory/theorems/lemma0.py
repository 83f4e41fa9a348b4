"""Lemma 0 (THEORY.md section 1): NC0 -> 0 is necessary for Neural Collapse.

**Statement.** If the rows ``w_1, ..., w_K`` of the last-layer weights W form a simplex
equiangular tight frame -- equal norms a and pairwise cosines ``-1/(K-1)`` -- then
``W^T 1_K = sum_k w_k = 0``, i.e. NC0(W) = 0. Likewise, if W is proportional to the
transpose of the globally centred class means of a balanced data set (NC3), then
``W^T 1_K`` is proportional to ``sum_k (mu_k - mu_G) = 0``.

**Proof.** ``||sum_k w_k||^2 = 1^T (W W^T) 1 = sum_k ||w_k||^2 + sum_{k != l} <w_k, w_l>
= K a^2 + K (K - 1) (-a^2 / (K - 1)) = 0`` -- for symbolic K. The NC3 part is
``sum_k mu_k - K mu_G = 0`` with ``mu_G = (1/K) sum_k mu_k`` (balanced classes).

Besides the symbolic proof, explicit exact simplex ETFs for K = 2..6, rotated by an
exact rational orthogonal matrix (a Cayley transform) so that centring is not built in,
are checked: their Gram matrices are those of an ETF, and their row sums are 0.

Reference: Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
phase of deep learning training", PNAS 117 (2020); Zhao et al., arXiv:2602.16642.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from .base import Theorem, distinct, fact, identity

K_SYMBOL = sp.Symbol("K", integer=True, positive=True)
NORM = sp.Symbol("a", positive=True)


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
    statement = ("If the rows of W have equal norms a and pairwise cosines -1/(K-1) (a simplex ETF), "
                 "then W^T 1_K = 0, so NC0(W) = 0; if W is proportional to the globally centred class "
                 "means of balanced classes (NC3), W^T 1_K = 0 as well.")
    statement_latex = (r"$\|w_k\| = a,\ \cos\angle(w_k, w_l) = -\tfrac{1}{K-1}\ (k \ne l)"
                       r"\ \Longrightarrow\ W^\top \mathbf 1_K = 0$.")
    hypotheses = ("K >= 2 classes", "rows of W: equal norms a > 0, pairwise cosines -1/(K-1) (simplex ETF)",
                  "for the NC3 part: balanced classes, W proportional to (M - mu_G 1^T)^T")
    reference = ("Papyan, Han & Donoho, PNAS 117 (2020); Zhao et al., arXiv:2602.16642")
    status = "proved symbolically (general K), plus exact ETFs for K = 2..6"

    def __init__(self, cosine: Callable = etf_cosine, sizes=(2, 3, 4, 5, 6)):
        self.cosine = cosine
        self.sizes = tuple(sizes)

    def steps(self):
        k, a = K_SYMBOL, NORM
        squared_norm = k * a ** 2 + k * (k - 1) * a ** 2 * self.cosine(k)
        yield identity("||sum_k w_k||^2 = K a^2 + K(K-1) a^2 cos = 0 for symbolic K", squared_norm, 0, "cancel")
        generic = sp.Matrix(3, 2, sp.symbols("w_1:4_1:3", real=True))
        ones = sp.ones(3, 1)
        yield identity("||W^T 1||^2 = 1^T (W W^T) 1 (the Gram-matrix form used above)",
                       (generic.T * ones).dot(generic.T * ones), (ones.T * generic * generic.T * ones)[0])
        for size in self.sizes:
            frame = simplex_etf(size)
            yield identity(f"K = {size}: the exact rotated frame has the claimed Gram matrix "
                           f"(norms 1, cosines {self.cosine(sp.Integer(size))})",
                           (frame * frame.T).applyfunc(sp.radsimp), etf_gram(size, 1, self.cosine), "radsimp")
            yield identity(f"K = {size}: its row sum W^T 1 is exactly 0", frame.T * sp.ones(size, 1),
                           sp.zeros(size, 1), "radsimp")
            yield identity(f"K = {size}: 1^T G 1 = 0 for the claimed Gram matrix G",
                           (sp.ones(1, size) * etf_gram(size, NORM, self.cosine) * sp.ones(size, 1))[0], 0)
        for size in self.sizes:
            means = [sp.Matrix(sp.symbols(f"m_{i}_1:4", real=True)) for i in range(1, size + 1)]
            global_mean = sum(means, sp.zeros(3, 1)) / size
            yield identity(f"NC3, K = {size}: sum_k (mu_k - mu_G) = 0 for balanced classes",
                           sum((m - global_mean for m in means), sp.zeros(3, 1)), sp.zeros(3, 1))
        yield distinct("negative control: an orthonormal frame (cosines 0) is not centred: ||sum_k e_k||^2 = K",
                       (sp.ones(1, 3) * sp.eye(3) * sp.ones(3, 1))[0], 0)
        yield fact("negative control: equal norms with cosines -1/K (instead of -1/(K-1)) leave "
                   "||sum_k w_k||^2 = a^2 != 0", (sp.simplify(k * a ** 2 + k * (k - 1) * a ** 2 * (-1 / k)),),
                   sp.simplify(k * a ** 2 + k * (k - 1) * a ** 2 * (-1 / k)) == a ** 2)


LEMMA0 = SimplexETFRowSum()
