"""NC1..NC4 (Papyan, Han & Donoho 2020) on constructed configurations with known values."""

import math

import numpy as np
import pytest
import torch

from nctheory.errors import NCTheoryError
from nctheory.runs.collapse_metrics import (centred_means, class_means, equiangularity, equinorm, nc1, nc2, nc3, nc4,
                                 nc_metrics, simplex_etf)

K, N_PER, D = 4, 8, 7


def collapsed(seed=0, offset=True):
    """Features equal to a simplex ETF's rows (plus a common offset), W = that ETF."""
    etf = simplex_etf(K, D, scale=2.5, seed=seed)
    y = np.repeat(np.arange(K), N_PER)
    mu_g = np.random.default_rng(seed).standard_normal(D) if offset else 0.0
    return etf, etf[y] + mu_g, y


def random_config(seed=1):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N_PER)
    return rng.standard_normal((K, D)), rng.standard_normal((K * N_PER, D)), y


def test_simplex_etf_is_an_etf():
    for seed in (None, 3):
        etf = simplex_etf(5, 9, scale=2.0, seed=seed)
        gram = etf @ etf.T
        np.testing.assert_allclose(np.diag(gram), 4.0, rtol=1e-14)
        off = gram[~np.eye(5, dtype=bool)] / 4.0
        np.testing.assert_allclose(off, -1 / 4, rtol=1e-13)
        np.testing.assert_allclose(etf.sum(0), 0.0, atol=1e-14)


def test_collapsed_configuration_has_every_metric_zero():
    W, H, y = collapsed()
    m = nc_metrics(W, H, y)
    # float64 rounding of the class means is the only error: O(eps) in the features,
    # O(eps^2) in NC1 (a ratio of squared deviations), O(eps) in NC0, NC2, NC3.
    assert m["nc1"] <= 1e-25
    assert m["nc2_norm"] <= 1e-14 and m["nc2_angle"] <= 1e-14
    assert m["nc3"] <= 1e-14
    assert m["nc4"] == 0.0
    assert m["nc0"] <= 1e-14 and m["nc0_rel"] <= 1e-14
    # self-duality does not care about the scale of W
    assert nc3(7.0 * W, H, y) <= 1e-14


def test_non_collapsed_configuration_is_far_from_zero():
    W, H, y = random_config()
    m = nc_metrics(W, H, y)
    assert m["nc1"] > 0.5 and m["nc2_norm"] > 0.05 and m["nc2_angle"] > 0.05
    assert m["nc3"] > 0.5 and m["nc4"] > 0.1 and m["nc0_rel"] > 0.05


def test_nc1_is_papyans_trace_formula():
    """tr(Sigma_W Sigma_B^+)/K against a direct evaluation with numpy's pinv (rank K-1)."""
    W, H, y = random_config(5)
    means = np.stack([H[y == k].mean(0) for k in range(K)])
    M = means - H.mean(0)
    sigma_w = sum(np.outer(h - means[c], h - means[c]) for h, c in zip(H, y)) / len(H)
    sigma_b = M.T @ M / K
    direct = np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-10, hermitian=True)) / K
    assert nc1(H, y) == pytest.approx(direct, rel=1e-10)
    # features in fewer dimensions than K - 1: Sigma_B has rank d
    H2 = H[:, :2]
    M2 = M[:, :2]
    sigma_w2 = sum(np.outer(h - means[c, :2], h - means[c, :2]) for h, c in zip(H2, y)) / len(H)
    direct2 = np.trace(sigma_w2 @ np.linalg.inv(M2.T @ M2 / K)) / K
    assert nc1(H2, y) == pytest.approx(direct2, rel=1e-10)


def test_nc1_is_translation_invariant_and_never_inverts_the_null_direction():
    """Centred class means satisfy sum_k n_k (mu_k - mu_G) = 0, so Sigma_B has rank <= K-1
    and its K-th eigenvalue is rounding noise; Papyan et al.'s code inverts only the top
    K-1 pairs (``svds(Sb, k=C-1)``). A large common offset makes that noise large: NC1 must
    not change (it is invariant under h -> h + c)."""
    W, H, y = random_config(6)
    offset = 1e7 * np.random.default_rng(7).standard_normal(D)
    assert nc1(H + offset, y) == pytest.approx(nc1(H, y), rel=1e-6)


def test_nc1_scales_with_within_class_noise():
    """NC1 of ETF means plus noise of variance s^2 grows like s^2 (a ratio of covariances)."""
    W, H, y = collapsed(offset=False)
    noise = np.random.default_rng(2).standard_normal(H.shape)
    small, large = nc1(H + 1e-3 * noise, y), nc1(H + 1e-2 * noise, y)
    assert large / small == pytest.approx(100.0, rel=1e-2)


def test_nc1_degenerate_cases():
    y = np.repeat(np.arange(3), 2)
    assert math.isnan(nc1(np.ones((6, 2)), y))  # no between- and no within-class spread
    H = np.ones((6, 2))
    H[::2] += 1.0  # within-class spread, all class means equal
    assert nc1(H, y) == math.inf


def test_equinorm_and_equiangularity_by_hand():
    M = np.array([[1.0, 0.0], [0.0, 3.0]])
    assert equinorm(M) == pytest.approx(1.0 / 2.0)  # norms 1, 3: std 1, mean 2
    # K = 2: cos = 0, target -1/(K-1) = -1
    assert equiangularity(M) == pytest.approx(1.0)
    # three unit vectors at 0, 90, 180 degrees: cosines 0, -1, 0 against -1/2
    M3 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assert equiangularity(M3) == pytest.approx(0.5)
    assert equinorm(M3) == 0.0


def test_nc2_of_centred_means():
    W, H, y = collapsed()
    M = centred_means(H, y)
    np.testing.assert_allclose(M, W, atol=1e-14)  # centring removes the offset
    norm, angle = nc2(H, y)
    assert norm <= 1e-14 and angle <= 1e-14
    _, H_rand, _ = random_config()
    assert min(nc2(H_rand, y)) > 0.05


def test_nc3_opposite_classifier_is_two():
    W, H, y = collapsed()
    assert nc3(-W, H, y) == pytest.approx(2.0, rel=1e-14)


def test_nc4_counts_disagreements_with_nearest_class_centre():
    W, H, y = collapsed()
    assert nc4(W, None, H, y) == 0.0
    shifted = np.roll(W, 1, axis=0)  # the classifier predicts class k+1 where NCC says k
    assert nc4(shifted, None, H, y) == 1.0
    # a bias that makes class 0 win everywhere: disagreement on the other K-1 classes
    b = np.array([1e6, 0, 0, 0])
    assert nc4(W, b, H, y) == pytest.approx((K - 1) / K)


def test_torch_and_numpy_inputs_agree():
    W, H, y = random_config()
    a = nc_metrics(W, H, y)
    b = nc_metrics(torch.from_numpy(W), torch.from_numpy(H), torch.from_numpy(y), b=torch.zeros(K, dtype=torch.float64))
    assert a == b
    means, mu_g = class_means(torch.from_numpy(H), torch.from_numpy(y))
    np.testing.assert_allclose(mu_g, H.mean(0), rtol=1e-15)


def test_bad_inputs():
    W, H, y = random_config()
    with pytest.raises(NCTheoryError, match="no sample"):
        nc1(H, np.where(y == 3, 0, y), num_classes=4)
    with pytest.raises(NCTheoryError, match="H must be a 2-D"):
        nc1(H[0], y)
    with pytest.raises(NCTheoryError, match="y must be a vector"):
        nc1(H, y[:-1])
    with pytest.raises(NCTheoryError, match="integer labels"):
        nc1(H, y.astype(float))
    with pytest.raises(NCTheoryError, match="W must"):
        nc3(W[:, :3], H, y)
    with pytest.raises(NCTheoryError, match="W must"):
        nc_metrics(W[:3], H, y, num_classes=4)


def test_nc0_and_nc0_rel_on_a_known_matrix():
    """Pinned values: rows (1, 2), (3, 4), (5, 6) sum to (9, 12), so NC0 = 15 exactly and
    NC0_rel = 15 / (sqrt(3) sqrt(91)); a squared norm (225) or a mean of rows (5) is caught.
    float64: every operation here is exact or one correctly rounded sqrt/division away."""
    import math

    from nctheory import nc0, nc0_rel

    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert nc0(W) == 15.0
    assert math.isclose(nc0_rel(W), 15.0 / (math.sqrt(3.0) * math.sqrt(91.0)), rel_tol=4 * np.finfo(float).eps)
    assert nc0(torch.tensor(W)) == 15.0
    centred = W - W.mean(0)  # rows summing to zero: NC0 = 0 (Lemma 0's centred frame)
    assert nc0(centred) <= 8 * np.finfo(float).eps * np.abs(centred).sum()
    equal_rows = np.tile([[2.0, -1.0]], (4, 1))  # all rows equal: NC0_rel = 1 (Cauchy-Schwarz equality)
    assert math.isclose(nc0_rel(equal_rows), 1.0, rel_tol=4 * np.finfo(float).eps)


# ---------------------------------------------------------------------- undefined cases (issue 8)
def test_nc4_with_non_finite_inputs_is_nan():
    W, H, y = random_config()
    bad_h = H.copy()
    bad_h[3, 2] = np.nan
    bad_w = W.copy()
    bad_w[0, 0] = np.inf
    assert math.isnan(nc4(W, None, bad_h, y)) and math.isnan(nc4(bad_w, None, H, y))
    assert math.isnan(nc4(W, np.array([0.0, np.nan, 0.0, 0.0]), H, y))
    values = nc_metrics(W, bad_h, y)
    assert all(math.isnan(values[k]) for k in ("nc1", "nc2_norm", "nc2_angle", "nc3", "nc4"))
    # negative control: finite inputs still give the number
    assert 0 <= nc4(W, None, H, y) <= 1


def test_one_class_is_undefined():
    W, H, y = random_config()
    zeros = np.zeros(len(y), dtype=int)
    assert math.isnan(nc3(W[:1], H, zeros, 1)) and math.isnan(nc1(H, zeros, 1))
    assert math.isnan(equinorm(W[:1])) and math.isnan(equiangularity(W[:1]))
    assert all(math.isnan(v) for v in nc2(H, zeros, 1))
    # two classes are defined
    assert equinorm(W[:2]) >= 0 and not math.isnan(nc3(W[:2], H[y < 2], y[y < 2], 2))


@pytest.mark.parametrize("scale", [0.0, 3.7, 1e6])
def test_equal_features_are_nan_not_rounding_noise(scale):
    """All features equal (zero or not): the centred means are rounding noise, not a frame."""
    W, H, y = random_config()
    equal = np.tile(np.random.default_rng(4).standard_normal(D) * scale, (len(y), 1))
    assert math.isnan(nc1(equal, y))
    assert all(math.isnan(v) for v in nc2(equal, y)) and math.isnan(nc3(W, equal, y))
    # equal class means but spread within classes: Sigma_B = 0, Sigma_W != 0 -> inf
    spread = equal + np.random.default_rng(5).standard_normal(equal.shape)
    spread -= centred_means(spread, y)[y]
    assert nc1(spread, y) == math.inf
    # negative control: an exactly collapsed frame (NC1 = 0) is not mistaken for degenerate
    etf, collapsed_h, cy = collapsed()
    assert nc1(collapsed_h, cy) == pytest.approx(0.0, abs=1e-20)
    assert nc2(collapsed_h, cy)[0] == pytest.approx(0.0, abs=1e-12)


def test_torch_half_precision_inputs():
    W, H, y = random_config()
    values = nc_metrics(torch.tensor(W, dtype=torch.bfloat16), torch.tensor(H, dtype=torch.bfloat16), torch.tensor(y))
    exact = nc_metrics(torch.tensor(W, dtype=torch.bfloat16).double(), torch.tensor(H, dtype=torch.bfloat16).double(),
                       torch.tensor(y))
    assert values == pytest.approx(exact, rel=1e-12)  # widened exactly, then computed in float64
    from nctheory.runs.nc0 import nc0

    half = torch.tensor(W, dtype=torch.float16)
    assert nc0(half) == pytest.approx(float(half.double().sum(0).norm()), rel=1e-15)


def test_empty_inputs_are_named():
    W, H, y = random_config()
    with pytest.raises(NCTheoryError, match="at least one sample"):
        nc_metrics(W, np.empty((0, D)), np.empty(0, dtype=int))
    with pytest.raises(NCTheoryError, match="non-empty"):
        nc_metrics(np.empty((0, D)), H, y)
    with pytest.raises(NCTheoryError, match="M must be"):
        equinorm(np.empty((0, D)))
    from nctheory.runs.nc0 import nc0_rel

    with pytest.raises(NCTheoryError, match="non-empty"):
        nc0_rel(np.empty((0, 3)))
