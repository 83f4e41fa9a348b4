"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024),
generated locally by the ``mnist1d`` package -- never downloaded.

``mnist1d.data.make_dataset(get_dataset_args())`` builds the standard set from ten
hand-written 12-point templates (one per digit) by padding, random translation, scaling,
shear and correlated plus i.i.d. noise, with the package's fixed generator seed 42: 5,000
sequences of length 40, split 4,000 / 1,000. (``mnist1d.data.get_dataset`` would fetch a
pickle over the network instead; it is never called.)
"""

from __future__ import annotations

import functools
import random

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.datasets.base import (
    Dataset,
    balanced_subset,
    check_dtype,
    check_seed,
    standardise,
)

INPUT_SHAPE = (1, 40)


@functools.lru_cache(maxsize=1)
def _generated():
    """The package's standard arrays, made once per process (about 1.5 s on one core).

    ``make_dataset`` seeds Python's and numpy's global generators (``random.seed(42)``,
    ``np.random.seed(42)``); their states are saved and restored, so loading MNIST-1D leaves
    the caller's global random streams as they were.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise NCTheoryError("dataset='mnist1d' needs the mnist1d package (pip install mnist1d); "
                            "it generates the data locally, nothing is downloaded") from exc
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = (d["x"], d["y"], d["x_test"], d["y_test"])
    arrays = tuple(np.asarray(a, dtype=np.float64 if i % 2 == 0 else np.int64) for i, a in enumerate(arrays))
    for a in arrays:
        a.setflags(write=False)
    return arrays


def load_mnist1d(dtype: str = "float64", seed: int = 0, samples_per_class: int | None = None) -> Dataset:
    """MNIST-1D: 4,000 training and 1,000 test sequences of length 40, 10 classes.

    The data are always the package's standard set (generator seed 42); ``seed`` only
    chooses the optional balanced subset of ``samples_per_class`` training sequences per
    class. Each of the 40 positions is standardised with the mean and standard deviation of
    the training sequences kept, and the test set with the same statistics. ``X`` is
    (N, 40); ``input_shape`` is (1, 40) (one channel).
    """
    np_dtype, seed = check_dtype(dtype), check_seed(seed)
    X, y, X_test, y_test = _generated()
    keep = balanced_subset(y, samples_per_class, 10, seed, "mnist1d")
    X, X_test = standardise(X[keep], X_test, 0, np_dtype)
    return Dataset("mnist1d", X, y[keep].copy(), 10, X_test, y_test.copy(), INPUT_SHAPE)
