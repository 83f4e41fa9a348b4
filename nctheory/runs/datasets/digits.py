"""scikit-learn's bundled 8x8 digits (no download).

1,797 grey-level images of the digits 0-9, 8x8 pixels with values 0..16 (Alpaydin & Kaynak,
UCI "Optical Recognition of Handwritten Digits"), as shipped by
``sklearn.datasets.load_digits``.
"""

from __future__ import annotations

import numbers

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.datasets.base import (
    Dataset,
    balanced_subset,
    check_dtype,
    check_seed,
    standardise,
)

INPUT_SHAPE = (1, 8, 8)


def load_digits_data(dtype: str = "float64", seed: int = 0, test_fraction: float = 0.2,
                     samples_per_class: int | None = None) -> Dataset:
    """scikit-learn's 8x8 digits, stratified train/test split, standardised features.

    ``seed`` fixes the stratified split (``train_test_split(..., random_state=seed)``) and
    the optional balanced subset of ``samples_per_class`` training images per class
    (:func:`~nctheory.runs.datasets.base.balanced_subset`); the same seed gives the same
    arrays. Each of the 64 pixels is then standardised with the mean and standard deviation
    of the training images kept (pixels constant on them are only centred). ``X`` is
    (N, 64); ``input_shape`` is (1, 8, 8).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    np_dtype, seed = check_dtype(dtype), check_seed(seed)
    if not isinstance(test_fraction, numbers.Real) or not 0 <= test_fraction < 1:
        raise NCTheoryError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    digits = load_digits()
    X, y = digits.data.astype(np.float64), digits.target.astype(np.int64)
    if test_fraction > 0:
        X, X_test, y, y_test = train_test_split(X, y, test_size=test_fraction, stratify=y,
                                                random_state=seed)
    else:
        X_test = y_test = None
    keep = balanced_subset(y, samples_per_class, 10, seed, "digits")
    X, y = X[keep], y[keep]
    X, X_test = standardise(X, X_test, 0, np_dtype)
    return Dataset("digits", X, y, 10, X_test, y_test, INPUT_SHAPE)
