"""Lemma 0: NC0 -> 0 is necessary for Neural Collapse.

Statement. If the rows w_1..w_K of W form a simplex equiangular tight frame -- equal
norms a > 0, pairwise cosines -1/(K-1) -- then W^T 1_K = 0 (NC0 = 0). If W is
proportional to the globally centred class means of balanced classes (NC3), then
W^T 1_K is proportional to sum_k (mu_k - mu_G) = 0.

Hypotheses. K >= 2; equal norms; cosines exactly -1/(K-1); balanced classes for NC3.

Proof. ||W^T 1||^2 = 1^T (W W^T) 1 = K a^2 + K(K-1)(-a^2/(K-1)) = 0.
(Papyan, Han & Donoho, PNAS 2020; Zhao et al., arXiv:2602.16642.)

Independence. The Gram matrix a^2 ((1 - c) I + c 1 1^T) and the frames (the centring
projector scaled by sqrt(K/(K-1)), rotated by a Cayley transform) are built here; only the
theorem object is imported, to check that its own proof holds and fails on a wrong cosine.
"""

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_step2_squared_row_sum_is_the_sum_of_the_gram_matrix():
    W = sp.Matrix(4, 3, sp.symbols("w0:12", real=True))
    ones = sp.ones(4, 1)
    assert sp.expand((W.T * ones).dot(W.T * ones) - (ones.T * W * W.T * ones)[0]) == 0


def test_step3_the_etf_gram_matrix_sums_to_zero_for_each_K():
    for k in range(2, 7):
        assert sp.expand((sp.ones(1, k) * gram(k, a, etf_cosine(k)) * sp.ones(k, 1))[0]) == 0


def test_step4_explicit_rotated_etfs_have_the_etf_gram_matrix_and_zero_row_sums():
    for k in range(2, 7):
        frame = rotated_etf(k, 0, 1, FIXED_SKEW)
        assert (frame * frame.T).applyfunc(sp.radsimp) == gram(k, 1, etf_cosine(k))
        assert (frame.T * sp.ones(k, 1)).applyfunc(sp.radsimp) == sp.zeros(k, 1)


def test_step5_nc3_globally_centred_balanced_means_sum_to_zero():
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
