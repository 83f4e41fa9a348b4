"""Lemma 0: NC0 -> 0 is necessary for Neural Collapse -- for every K >= 2 and every d.

Statement. If the rows w_1..w_K of W form a simplex equiangular tight frame -- equal
norms a > 0, pairwise cosines -1/(K-1) -- then W^T 1_K = 0 (NC0 = 0). If W is
proportional to the globally centred class means of balanced classes (NC3), then
W^T 1_K is proportional to sum_k (mu_k - mu_G) = 0.

Hypotheses. K >= 2; equal norms; cosines exactly -1/(K-1); balanced classes for NC3.

Proof, for symbolic K and d (tests ``test_general_K_*``), with index sums of symbolic length
(index_sums_by_hand.py): ||W^T 1||^2 = sum_t (sum_k W_kt)^2 = sum_k sum_l G_kl (G = W W^T);
for G_kl = a^2 ((1 - c) delta_kl + c), every row sums to a^2 (1 + (K - 1) c), so
1^T G 1 = K a^2 (1 + (K - 1) c), which is 0 exactly when c = -1/(K-1); NC3:
sum_k (mu_k - mu_G) = 0 with mu_G = (1/K) sum_l mu_l.
(Papyan, Han & Donoho, PNAS 2020; Zhao et al., arXiv:2602.16642.)

Finite instances (``test_instance_*`` and the properties: cross-checks, not the proof):
exact rotated frames for K = 2..6, random rotations, NC3 for K = 2..6.

Independence. The Gram matrix a^2 ((1 - c) I + c 1 1^T) and the frames (the centring
projector scaled by sqrt(K/(K-1)), rotated by a Cayley transform) are built here; only the
theorem object is imported, to check that its own proof holds and fails on a wrong cosine.
"""

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from index_sums_by_hand import index_in_range, vanishes
from nctheory.theorems.lemma0 import LEMMA0, SimplexETFRowSum

K = sp.Symbol("K", integer=True, positive=True)
a = sp.Symbol("a", positive=True)


def gram(k: int, norm, cosine) -> sp.Matrix:
    """Gram matrix of k vectors of norm ``norm`` with pairwise cosine ``cosine``: a^2 ((1 - c) I + c 1 1^T)."""
    return norm ** 2 * ((1 - cosine) * sp.eye(k) + cosine * sp.ones(k, k))


def etf_cosine(k: int):
    return sp.Rational(-1, k - 1)


def cayley(skew: sp.Matrix) -> sp.Matrix:
    """(I - S)(I + S)^{-1}: orthogonal and rational for a rational skew-symmetric S."""
    n = skew.shape[0]
    return (sp.eye(n) - skew) * (sp.eye(n) + skew).inv()


def rotated_etf(k: int, extra: int, norm, skew_entries) -> sp.Matrix:
    """Rows of the centring projector I - 1 1^T / K (norm sqrt((K-1)/K), cosines -1/(K-1)),
    scaled to ``norm``, embedded in R^(K + extra) and rotated."""
    dim = k + extra
    skew, values = sp.zeros(dim, dim), iter(skew_entries)
    for i in range(dim):
        for j in range(i + 1, dim):
            skew[i, j] = sp.Rational(next(values))
            skew[j, i] = -skew[i, j]
    rotation = cayley(skew)
    assert (rotation * rotation.T).applyfunc(sp.cancel) == sp.eye(dim)
    centred = sp.Matrix.hstack(sp.eye(k) - sp.ones(k, k) / k, sp.zeros(k, extra))
    return sp.sqrt(sp.Rational(k, k - 1)) * norm * centred * rotation


FIXED_SKEW = [sp.Rational(i + 2, 3 + i % 5) for i in range(28)]


def test_step1_squared_row_sum_of_an_etf_vanishes_for_symbolic_K():
    assert sp.cancel(K * a ** 2 + K * (K - 1) * (-a ** 2 / (K - 1))) == 0


k, l, t = sp.symbols("k l t", integer=True)
d = sp.Symbol("d", integer=True, positive=True)
c = sp.Symbol("c", real=True)
Wi, mu = sp.IndexedBase("W", real=True), sp.IndexedBase("mu", real=True)


def test_general_K_step2_squared_row_sum_is_the_sum_of_the_gram_matrix():
    """sum_t (sum_k W_kt)^2 = sum_k sum_l G_kl with G_kl = sum_t W_kt W_lt, for every K and d."""
    squared = sp.Sum(sp.Sum(Wi[k, t], (k, 1, K)) ** 2, (t, 1, d))
    gram_sum = sp.Sum(Wi[k, t] * Wi[l, t], (t, 1, d), (l, 1, K), (k, 1, K))
    reordered = gram_sum.reorder((0, 2))  # finite sums commute: the sum over t outermost
    assert reordered == sp.Sum(Wi[k, t] * Wi[l, t], (k, 1, K), (l, 1, K), (t, 1, d))
    assert vanishes(reordered - squared)
    assert not vanishes(reordered - 2 * squared)  # the comparison can fail


def test_general_K_step3_the_etf_gram_matrix_sums_to_zero_for_every_K():
    entry = a ** 2 * ((1 - c) * sp.KroneckerDelta(k, l) + c)
    row = sp.Sum(entry, (l, 1, K)).subs(index_in_range(k, K)).doit()  # every row k in 1..K
    m, n = sp.symbols("m n", integer=True, nonnegative=True)
    assert sp.expand(row - a ** 2 * (1 + (K - 1) * c).subs(K, 1 + m + n)) == 0
    total = sp.Sum(a ** 2 * (1 + (K - 1) * c), (k, 1, K)).doit()
    assert sp.expand(total - K * a ** 2 * (1 + (K - 1) * c)) == 0
    assert sp.cancel(total.subs(c, -1 / (K - 1))) == 0
    # and only then: with K >= 2 and a > 0, 1^T G 1 = 0 forces c = -1/(K-1)
    assert sp.solve(total, c) == [-1 / (K - 1)]


def test_general_K_step5_nc3_globally_centred_balanced_means_sum_to_zero():
    global_mean = sp.Sum(mu[l, t], (l, 1, K)) / K
    assert vanishes(sp.Sum(mu[k, t] - global_mean, (k, 1, K)))
    assert not vanishes(sp.Sum(mu[k, t] - global_mean / 2, (k, 1, K)))  # a wrong mean is caught


def test_instance_K4_d3_squared_row_sum_is_the_sum_of_the_gram_matrix():
    W = sp.Matrix(4, 3, sp.symbols("w0:12", real=True))
    ones = sp.ones(4, 1)
    assert sp.expand((W.T * ones).dot(W.T * ones) - (ones.T * W * W.T * ones)[0]) == 0


def test_instance_the_etf_gram_matrix_sums_to_zero_for_K_2_to_6():
    for k in range(2, 7):
        assert sp.expand((sp.ones(1, k) * gram(k, a, etf_cosine(k)) * sp.ones(k, 1))[0]) == 0


def test_instance_explicit_rotated_etfs_have_the_etf_gram_matrix_and_zero_row_sums():
    for k in range(2, 7):
        frame = rotated_etf(k, 0, 1, FIXED_SKEW)
        assert (frame * frame.T).applyfunc(sp.radsimp) == gram(k, 1, etf_cosine(k))
        assert (frame.T * sp.ones(k, 1)).applyfunc(sp.radsimp) == sp.zeros(k, 1)


def test_instance_nc3_globally_centred_balanced_means_sum_to_zero():
    for k in range(2, 7):
        means = [sp.Matrix(sp.symbols(f"m{i}_0:3", real=True)) for i in range(k)]
        global_mean = sum(means, sp.zeros(3, 1)) / k
        assert sum((m - global_mean for m in means), sp.zeros(3, 1)).applyfunc(sp.expand) == sp.zeros(3, 1)


@settings(max_examples=15)
@given(k=st.integers(2, 5), extra=st.integers(0, 2), norm=st.fractions(1, 9, max_denominator=7),
       entries=st.lists(st.fractions(-3, 3, max_denominator=5), min_size=28, max_size=28))
def test_property_any_exactly_rotated_etf_in_any_dimension_has_zero_row_sum(k, extra, norm, entries):
    """A simplex ETF embedded in R^(K + extra) and rotated by a random rational orthogonal matrix."""
    frame = rotated_etf(k, extra, sp.Rational(norm), entries)
    assert (frame * frame.T).applyfunc(sp.radsimp) == gram(k, sp.Rational(norm), etf_cosine(k))
    assert (frame.T * sp.ones(k, 1)).applyfunc(sp.radsimp) == sp.zeros(k + extra, 1)


@settings(max_examples=40)
@given(k=st.integers(2, 8), cosine=st.fractions(-1, 1, max_denominator=20))
def test_property_equal_norm_frames_are_centred_iff_the_cosine_is_minus_one_over_K_minus_1(k, cosine):
    centred = sp.expand((sp.ones(1, k) * gram(k, a, sp.Rational(cosine)) * sp.ones(k, 1))[0]) == 0
    assert centred == (sp.Rational(cosine) == sp.Rational(-1, k - 1))


def test_negative_control_a_wrong_cosine_leaves_a_nonzero_row_sum():
    assert sp.simplify(K * a ** 2 + K * (K - 1) * a ** 2 * (-1 / K)) == a ** 2
    for k in range(2, 7):  # equal norms, cosines -1/K or 0: 1^T G 1 = a^2 resp. K a^2, not 0
        assert sp.expand((sp.ones(1, k) * gram(k, a, sp.Rational(-1, k)) * sp.ones(k, 1))[0]) == a ** 2
        assert sp.expand((sp.ones(1, k) * gram(k, a, 0) * sp.ones(k, 1))[0]) == k * a ** 2
    wrong = SimplexETFRowSum(cosine=lambda k: -sp.Integer(1) / k).prove()
    assert not wrong.holds and wrong.failing_steps


def test_the_theorem_object_proves_every_step():
    proof = LEMMA0.prove()
    assert proof.holds, str(proof)
