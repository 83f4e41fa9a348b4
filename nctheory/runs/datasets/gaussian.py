"""K isotropic Gaussian classes, generated from a seed.

``x = m_k + N(0, I_dim)`` with class means ``m_k = separation * u_k``, ``u_k`` uniform on the
unit sphere (a normalised standard normal vector). The features are not standardised: the
noise already has unit variance per coordinate.
"""

from __future__ import annotations

import numbers

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.datasets.base import Dataset, check_dtype, check_seed


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
    np_dtype, seed = check_dtype(dtype), check_seed(seed)
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
                   X[order].astype(np_dtype), y[order], int(num_classes), input_shape=(int(dim),))
