"""Data available without a network, and the checks applied to tensors a user passes in.

* :func:`load_digits_data`: scikit-learn's bundled ``load_digits`` (1,797 8x8 grey-level
  images of the digits 0-9; Alpaydin & Kaynak, UCI "Optical Recognition of Handwritten
  Digits"), split once with a seeded stratified split and standardised with the training
  statistics.
* :func:`gaussian_mixture`: K isotropic Gaussian classes ``x = m_k + N(0, I)`` with class
  means ``m_k = separation * u_k``, ``u_k`` uniform on the unit sphere.
* :func:`check_user_tensors`: rejects NaN/inf, wrong shapes and labels outside [0, K)
  with an :class:`~nctheory.errors.NCTheoryError` that names the argument.

Arrays are numpy; the training layer moves them to the backend.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from nctheory.errors import NCTheoryError

_DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Dataset:
    """A classification data set: training arrays and optional held-out arrays.

    Attributes:
        name: a short description ("digits", "gaussian_mixture(K=5, dim=20)", "user").
        X: training inputs, shape (N, p).
        y: training labels in [0, K), shape (N,), int64.
        num_classes: K.
        X_test, y_test: held-out inputs and labels, or None.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    num_classes: int
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_features(self) -> int:
        return int(np.prod(self.X.shape[1:]))


def _dtype(dtype):
    if dtype not in _DTYPES:
        raise NCTheoryError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return _DTYPES[dtype]


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise NCTheoryError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def load_digits_data(dtype: str = "float64", seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8x8 digits, stratified train/test split, standardised features.

    Each of the 64 pixels is standardised with the training mean and standard deviation
    (pixels that are constant on the training set are only centred). ``seed`` fixes the
    split; the same seed gives the same arrays.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    np_dtype, seed = _dtype(dtype), _seed(seed)
    if not isinstance(test_fraction, numbers.Real) or not 0 <= test_fraction < 1:
        raise NCTheoryError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    digits = load_digits()
    X, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    if test_fraction > 0:
        X, X_test, y, y_test = train_test_split(X, y, test_size=test_fraction, stratify=y,
                                                random_state=seed)
    else:
        X_test = y_test = None
    mean, std = X.mean(0), X.std(0)
    std = np.where(std > 0, std, 1.0)

    def standardise(a):
        return None if a is None else ((a - mean) / std).astype(np_dtype)

    return Dataset("digits", standardise(X), y, 10, standardise(X_test), y_test)


def _class_counts(num_classes, samples_per_class, class_proportions, num_samples):
    if class_proportions is not None:
        if samples_per_class is not None:
            raise NCTheoryError("give samples_per_class or class_proportions, not both")
        p = np.asarray(class_proportions, dtype=np.float64).ravel()
        if p.size != num_classes or not np.all(np.isfinite(p)) or np.any(p <= 0):
            raise NCTheoryError(
                f"class_proportions must hold {num_classes} finite positive numbers, got {class_proportions!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) \
                or num_samples < num_classes:
            raise NCTheoryError(
                f"num_samples must be an integer >= num_classes={num_classes} with class_proportions, "
                f"got {num_samples!r}")
        exact = p / p.sum() * num_samples
        counts = np.floor(exact).astype(int)
        # largest remainders get the samples left over (Hamilton's method)
        for k in np.argsort(-(exact - counts), kind="stable")[: num_samples - counts.sum()]:
            counts[k] += 1
        if np.any(counts < 1):
            raise NCTheoryError(
                f"class_proportions={class_proportions!r} with num_samples={num_samples} leave a class empty")
        return counts
    if samples_per_class is None:
        samples_per_class = 50
    if isinstance(samples_per_class, numbers.Integral) and not isinstance(samples_per_class, bool):
        counts = np.full(num_classes, int(samples_per_class))
    else:
        counts = np.asarray(samples_per_class).ravel()
        if counts.size != num_classes or not np.issubdtype(counts.dtype, np.integer):
            raise NCTheoryError(
                f"samples_per_class must be a positive integer or {num_classes} positive integers, "
                f"got {samples_per_class!r}")
    if np.any(counts < 1):
        raise NCTheoryError(f"samples_per_class must be >= 1, got {samples_per_class!r}")
    return counts.astype(int)


def gaussian_mixture(num_classes: int = 5, dim: int = 20, samples_per_class=None, *,
                     class_proportions=None, num_samples: int | None = None, seed: int = 0,
                     separation: float = 4.0, dtype: str = "float64") -> Dataset:
    """K isotropic Gaussian classes: ``x = separation * u_k + N(0, I_dim)``.

    Args:
        num_classes: K >= 2.
        dim: input dimension >= 1.
        samples_per_class: an integer (balanced; default 50) or one count per class.
        class_proportions: alternatively, K positive weights; with ``num_samples`` the
            counts are the largest-remainder rounding of ``num_samples * p / sum(p)``.
        seed: the numpy Generator seed (means, noise and order).
        separation: the norm of every class mean (> 0); the noise has unit variance per
            coordinate, so larger is easier.
    """
    np_dtype, seed = _dtype(dtype), _seed(seed)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise NCTheoryError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise NCTheoryError(f"dim must be a positive integer, got {dim!r}")
    if not isinstance(separation, numbers.Real) or not np.isfinite(separation) or separation <= 0:
        raise NCTheoryError(f"separation must be a finite number > 0, got {separation!r}")
    counts = _class_counts(num_classes, samples_per_class, class_proportions, num_samples)
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((num_classes, dim))
    means = separation * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), counts)
    X = means[y] + rng.standard_normal((y.size, dim))
    order = rng.permutation(y.size)
    return Dataset(f"gaussian_mixture(K={num_classes}, dim={dim}, separation={separation})",
                   X[order].astype(np_dtype), y[order], int(num_classes))


def check_user_tensors(X, y, num_classes: int | None = None):
    """Validate inputs ``X`` and labels ``y`` a user passes in; returns ``(X, y, K)``.

    ``X``: a numpy array or torch tensor of floating type, shape (N, ...) with N >= 2,
    all finite. ``y``: integer labels, shape (N,), in [0, K) with every class present
    (NC1..NC4 need every class mean). ``K`` is ``num_classes`` or ``max(y) + 1`` (>= 2).
    Returns torch tensors (X unchanged in dtype, y as int64) and K.
    """
    import torch

    def as_tensor(value, name):
        if isinstance(value, torch.Tensor):
            return value.detach()
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists etc.
            raise NCTheoryError(f"{name} must be an array or tensor, got {type(value).__name__}") from exc
        if arr.dtype == object:
            raise NCTheoryError(f"{name} must be a numeric array or tensor, got dtype object")
        return torch.from_numpy(np.ascontiguousarray(arr))

    X, y = as_tensor(X, "X"), as_tensor(y, "y")
    if not X.is_floating_point():
        raise NCTheoryError(f"X must hold floating-point inputs, got dtype {X.dtype}")
    if X.ndim < 2 or X.shape[0] < 2:
        raise NCTheoryError(f"X must have shape (N, ...) with N >= 2 samples, got shape {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        bad = int((~torch.isfinite(X)).sum())
        raise NCTheoryError(f"X contains {bad} NaN or inf value(s)")
    if y.ndim != 1:
        raise NCTheoryError(f"y must be a 1-D vector of labels, got shape {tuple(y.shape)}")
    if y.shape[0] != X.shape[0]:
        raise NCTheoryError(f"y has {y.shape[0]} labels but X has {X.shape[0]} samples")
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise NCTheoryError(f"y must hold integer class labels, got dtype {y.dtype}")
    y = y.long()
    if num_classes is None:
        num_classes = int(y.max()) + 1
        if num_classes < 2:
            raise NCTheoryError(f"y must contain at least 2 classes, got labels up to {int(y.max())}")
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise NCTheoryError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    num_classes = int(num_classes)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_classes:
        raise NCTheoryError(f"y must hold labels in [0, {num_classes}), got labels in [{lo}, {hi}]")
    counts = torch.bincount(y, minlength=num_classes)
    missing = [k for k in range(num_classes) if int(counts[k]) == 0]
    if missing:
        raise NCTheoryError(
            f"y has no sample of class(es) {missing}; NC1..NC4 need every class in [0, {num_classes})")
    return X, y, num_classes
