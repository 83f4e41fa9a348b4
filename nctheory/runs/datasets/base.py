"""The :class:`Dataset` container and what every loader shares: argument checks, the
seeded class-balanced subset and standardisation with training statistics.
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
        X: training inputs, shape (N, p) -- every sample flattened to ``p`` features, as the
            loaders return them -- or (N, *input_shape).
        y: training labels in [0, K), shape (N,), int64.
        num_classes: K.
        X_test, y_test: held-out inputs and labels, or None.
        input_shape: the shape of one sample before flattening, ``prod(input_shape) = p``:
            (channels, height, width) for images -- (1, 8, 8) digits, (1, 28, 28) MNIST,
            (3, 32, 32) CIFAR-10 --, (channels, length) for sequences -- (1, 40) MNIST-1D --
            and (dim,) for plain vectors. Default ``X.shape[1:]``. Models are built for it
            (:func:`nctheory.runs.architectures.build_model`) and view a row of ``X`` as
            ``x.reshape(input_shape)``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    num_classes: int
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    input_shape: tuple | None = None

    def __post_init__(self):
        sample = tuple(int(s) for s in np.shape(self.X)[1:])
        shape = sample if self.input_shape is None else self.input_shape
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError) as exc:
            raise NCTheoryError(f"input_shape must be a tuple of positive integers, got {self.input_shape!r}") from exc
        if not shape or any(s < 1 for s in shape) or int(np.prod(shape)) != int(np.prod(sample)):
            raise NCTheoryError(f"input_shape {shape} does not hold the {int(np.prod(sample))} features of a "
                                f"sample of X (shape {tuple(np.shape(self.X))})")
        object.__setattr__(self, "input_shape", shape)

    @property
    def num_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_features(self) -> int:
        return int(np.prod(self.X.shape[1:]))


def check_dtype(dtype):
    """The numpy dtype of ``"float64"`` / ``"float32"``; NCTheoryError otherwise."""
    if dtype not in _DTYPES:
        raise NCTheoryError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return _DTYPES[dtype]


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise NCTheoryError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def balanced_subset(y: np.ndarray, samples_per_class, num_classes: int, seed: int, name: str) -> np.ndarray:
    """Sorted indices of a class-balanced subset: ``samples_per_class`` rows of every class.

    For each class k in turn, a permutation of its rows is drawn from
    ``numpy.random.default_rng(seed)`` and its first ``samples_per_class`` rows kept; the
    permutation does not depend on the size, so the subsets of one seed are nested (the
    subset of size n is contained in that of size n' > n). None keeps every row.
    """
    if samples_per_class is None:
        return np.arange(y.size)
    if isinstance(samples_per_class, bool) or not isinstance(samples_per_class, numbers.Integral) \
            or samples_per_class < 1:
        raise NCTheoryError(f"samples_per_class must be a positive integer or None, got {samples_per_class!r}")
    counts = np.bincount(y, minlength=num_classes)
    if counts.min() < samples_per_class:
        raise NCTheoryError(f"samples_per_class={samples_per_class} exceeds the training samples of {name}: its "
                            f"smallest class has {int(counts.min())} (class counts {counts.tolist()})")
    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(y == k)[rng.permutation(int(counts[k]))[:samples_per_class]] for k in range(num_classes)]
    return np.sort(np.concatenate(rows))


def standardise(X, X_test, axes, np_dtype):
    """``(X - mean) / std`` with the mean and standard deviation of the training array ``X``
    over ``axes`` (0: every feature on its own; (0, 2, 3): every image channel), applied to
    both arrays. Entries with zero training spread are only centred. Computed in float64."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=axes, keepdims=True)
    std = X.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)

    def apply(a):
        return None if a is None else ((np.asarray(a, dtype=np.float64) - mean) / std).astype(np_dtype)

    return apply(X), apply(X_test)
