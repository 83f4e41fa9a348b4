"""Data sets, user-tensor checks, models and access to their last layer."""

import numpy as np
import pytest
import torch
from torch import nn

from nctheory.runs.data import Dataset, check_user_tensors, gaussian_mixture, load_digits_data
from nctheory.errors import NCTheoryError
from nctheory.runs.models import DigitsCNN, MLP, FeatureHook, find_last_linear, penultimate_features


# ---------------------------------------------------------------------- digits
def test_digits_split_is_standardised_stratified_and_seeded():
    d = load_digits_data()
    assert isinstance(d, Dataset) and d.num_classes == 10
    assert d.X.shape[1] == 64 and d.X.dtype == np.float64 and d.y.dtype == np.int64
    assert d.X.shape[0] + d.X_test.shape[0] == 1797
    np.testing.assert_allclose(d.X.mean(0), 0.0, atol=1e-12)
    std = d.X.std(0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))  # constant pixels are only centred
    from sklearn.datasets import load_digits

    full = np.bincount(load_digits().target, minlength=10)
    # stratified: every class keeps its share of the training split, up to rounding
    assert np.all(np.abs(np.bincount(d.y, minlength=10) - 0.8 * full) <= 1)
    again = load_digits_data()
    np.testing.assert_array_equal(d.X, again.X)
    other = load_digits_data(seed=1)
    assert not np.array_equal(d.y, other.y)
    assert load_digits_data(dtype="float32").X.dtype == np.float32


def test_digits_bad_arguments_are_named():
    with pytest.raises(NCTheoryError, match="dtype"):
        load_digits_data(dtype="float16")
    with pytest.raises(NCTheoryError, match="seed"):
        load_digits_data(seed=-1)
    with pytest.raises(NCTheoryError, match="test_fraction"):
        load_digits_data(test_fraction=1.5)


# ---------------------------------------------------------------------- gaussian mixture
def test_gaussian_mixture_balanced_and_seeded():
    d = gaussian_mixture(4, 6, 30, seed=3, separation=5.0)
    assert d.X.shape == (120, 6) and d.num_classes == 4
    np.testing.assert_array_equal(np.bincount(d.y), [30] * 4)
    np.testing.assert_array_equal(d.X, gaussian_mixture(4, 6, 30, seed=3, separation=5.0).X)
    assert not np.array_equal(d.X, gaussian_mixture(4, 6, 30, seed=4, separation=5.0).X)
    # the class means have norm `separation` (up to the noise of 30 samples)
    means = np.stack([d.X[d.y == k].mean(0) for k in range(4)])
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 5.0, atol=1.0)


def test_gaussian_mixture_proportions_and_counts():
    d = gaussian_mixture(3, 2, class_proportions=[0.5, 0.3, 0.2], num_samples=101)
    np.testing.assert_array_equal(np.bincount(d.y), [51, 30, 20])  # largest remainders
    d = gaussian_mixture(3, 2, [5, 1, 2])
    np.testing.assert_array_equal(np.bincount(d.y), [5, 1, 2])


@pytest.mark.parametrize("kwargs, name", [
    ({"num_classes": 1}, "num_classes"), ({"dim": 0}, "dim"), ({"separation": -1.0}, "separation"),
    ({"samples_per_class": 0}, "samples_per_class"), ({"samples_per_class": [1, 2]}, "samples_per_class"),
    ({"class_proportions": [1, -1, 1, 1, 1], "num_samples": 10}, "class_proportions"),
    ({"class_proportions": [1] * 5}, "num_samples"), ({"seed": 1.5}, "seed")])
def test_gaussian_mixture_bad_arguments_are_named(kwargs, name):
    with pytest.raises(NCTheoryError, match=name):
        gaussian_mixture(**kwargs)


# ---------------------------------------------------------------------- user tensors
def test_check_user_tensors_accepts_numpy_and_torch():
    X = np.random.default_rng(0).standard_normal((6, 3))
    y = np.array([0, 1, 2, 0, 1, 2])
    Xt, yt, K = check_user_tensors(X, y)
    assert K == 3 and yt.dtype == torch.int64 and torch.equal(Xt, torch.from_numpy(X))
    assert check_user_tensors(torch.from_numpy(X), torch.from_numpy(y), num_classes=3)[2] == 3


@pytest.mark.parametrize("X, y, K, name", [
    (np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]), None, "X contains"),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), np.array([0, 1]), None, "X contains"),
    (np.zeros(4), np.array([0, 1, 0, 1]), None, "X must have shape"),
    (np.zeros((4, 2), dtype=np.int64), np.array([0, 1, 0, 1]), None, "X must hold floating"),
    (np.zeros((4, 2)), np.array([[0, 1, 0, 1]]), None, "y must be a 1-D"),
    (np.zeros((4, 2)), np.array([0, 1, 0]), None, "y has 3 labels but X has 4"),
    (np.zeros((4, 2)), np.array([0.0, 1.0, 0.0, 1.0]), None, "y must hold integer"),
    (np.zeros((4, 2)), np.array([0, 1, 0, 3]), 3, r"y must hold labels in \[0, 3\)"),
    (np.zeros((4, 2)), np.array([0, -1, 0, 1]), None, r"y must hold labels"),
    (np.zeros((4, 2)), np.array([0, 2, 0, 2]), None, r"no sample of class"),
    (np.zeros((4, 2)), np.array([0, 0, 0, 0]), None, "at least 2 classes"),
    (np.zeros((4, 2)), np.array([0, 1, 0, 1]), 1, "num_classes"),
])
def test_check_user_tensors_rejects_bad_input(X, y, K, name):
    with pytest.raises(NCTheoryError, match=name):
        check_user_tensors(X, y, K)


# ---------------------------------------------------------------------- models
def test_mlp_and_cnn_shapes_and_seeded_init():
    torch.manual_seed(0)
    mlp = MLP(64, 10, width=16, dtype=torch.float64)
    torch.manual_seed(0)
    again = MLP(64, 10, width=16, dtype=torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(mlp.parameters(), again.parameters()))
    assert sum(isinstance(m, nn.ReLU) for m in mlp.modules()) == 3
    X = torch.randn(5, 64, dtype=torch.float64)
    assert mlp(X).shape == (5, 10)
    cnn = DigitsCNN(10, width=16, dtype=torch.float64)
    assert cnn(X).shape == (5, 10)
    assert torch.allclose(cnn(X), cnn(X.view(5, 1, 8, 8)))
    with pytest.raises(NCTheoryError, match="8x8"):
        cnn(torch.randn(2, 10, dtype=torch.float64))
    with pytest.raises(NCTheoryError, match="width"):
        MLP(4, 3, width=0)


def test_find_last_linear():
    mlp = MLP(4, 3, width=5)
    assert find_last_linear(mlp) is mlp.fc
    assert find_last_linear(mlp, "features.0") is mlp.features[0]
    with pytest.raises(NCTheoryError, match=r"last_layer='head' is not a submodule.*'features.0'"):
        find_last_linear(mlp, "head")
    with pytest.raises(NCTheoryError, match="is a ReLU, not a torch.nn.Linear"):
        find_last_linear(mlp, "features.1")
    with pytest.raises(NCTheoryError, match="no torch.nn.Linear"):
        find_last_linear(nn.Sequential(nn.ReLU()))
    with pytest.raises(NCTheoryError, match="torch.nn.Module"):
        find_last_linear("fc")


def test_penultimate_features_are_the_input_of_the_last_layer():
    torch.manual_seed(1)
    mlp = MLP(4, 3, width=5, dtype=torch.float64)
    X = torch.randn(7, 4, dtype=torch.float64)
    H, Z = penultimate_features(mlp, X)
    assert torch.equal(H, mlp.features(X))
    assert torch.allclose(Z, H @ mlp.fc.weight.T + mlp.fc.bias, rtol=0, atol=1e-14)
    H2, Z2 = penultimate_features(mlp, X, batch_size=3)
    assert torch.allclose(H2, H, rtol=0, atol=1e-15) and torch.allclose(Z2, Z, rtol=0, atol=1e-14)
    # the hook is removed afterwards
    assert not mlp.fc._forward_pre_hooks
    with FeatureHook(mlp.features[0]) as hook:
        mlp(X)
    assert torch.equal(hook.features, X)
    # a layer that the forward pass never calls
    with pytest.raises(NCTheoryError, match="not called"):
        penultimate_features(mlp, X, nn.Linear(5, 3))
