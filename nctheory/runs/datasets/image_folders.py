"""MNIST, Fashion-MNIST and CIFAR-10 read from a folder the user already has -- never downloaded.

The folder ``data_root`` is laid out as ``torchvision.datasets`` leaves it after a download:

* MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017):
  ``ROOT/MNIST/raw/`` and ``ROOT/FashionMNIST/raw/`` holding ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
  possibly gzipped (``.gz``). The idx format: a 4-byte magic ``0 0 0x08 ndim`` (unsigned
  bytes, ``ndim`` dimensions), ``ndim`` big-endian 32-bit sizes, then the bytes in C order.
* CIFAR-10 (Krizhevsky 2009): ``ROOT/cifar-10-batches-py/`` holding the pickles
  ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, each a dict with ``data`` (uint8,
  (n, 3072): the red, green and blue 32x32 planes of an image in turn) and ``labels``.
  The pickles are read with an unpickler that builds only dicts, lists, strings, numbers and
  numpy arrays, so a file from an untrusted source cannot run code.

Images are standardised per channel (the mean and standard deviation of each channel over
all pixels of the training images kept), as ``torchvision.transforms.Normalize`` is used,
rather than per pixel: per-pixel statistics of a small subset divide MNIST's almost-always-
black border pixels by spreads near zero and blow the test images' strokes there up.
"""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.datasets.base import (
    Dataset,
    balanced_subset,
    check_dtype,
    check_seed,
    standardise,
)

#: data set name -> (folder under data_root, input shape)
IMAGE_SETS = {"mnist": ("MNIST/raw", (1, 28, 28)), "fashion_mnist": ("FashionMNIST/raw", (1, 28, 28)),
              "cifar10": ("cifar-10-batches-py", (3, 32, 32))}
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
_NUM_CLASSES = 10


def read_idx(path: str) -> np.ndarray:
    """The uint8 array of an idx file (``.gz`` read through gzip); NCTheoryError if malformed."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise NCTheoryError(f"cannot read the idx file {path}: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] < 1:
        raise NCTheoryError(f"{path} is not an idx file of unsigned bytes (magic 00 00 08 ndim), "
                            f"starts with {raw[:4].hex()}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise NCTheoryError(f"{path}: the idx header is cut short")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise NCTheoryError(f"{path}: the header says shape {shape} ({int(np.prod(shape))} bytes) but "
                            f"{data.size} bytes follow")
    return data.reshape(shape)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds only what a CIFAR batch holds: numpy arrays (and plain Python values)."""

    _ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                          ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")})

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        if module == "numpy.core.multiarray":  # written by numpy 1.x; numpy 2 moved it
            try:
                from numpy._core import multiarray
            except ImportError:
                from numpy.core import multiarray
            return getattr(multiarray, name)
        return super().find_class(module, name)


def read_cifar_batch(path: str):
    """``(data, labels)`` of a CIFAR-10 batch pickle: uint8 (n, 3072) and int64 (n,)."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise NCTheoryError(f"cannot read the CIFAR-10 batch {path}: {exc}") from exc
    if not isinstance(entry, dict):
        raise NCTheoryError(f"{path}: a CIFAR-10 batch is a dict, got {type(entry).__name__}")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    if "data" not in entry or "labels" not in entry:
        raise NCTheoryError(f"{path}: a CIFAR-10 batch needs the keys 'data' and 'labels', has {sorted(entry)}")
    data, labels = np.asarray(entry["data"]), np.asarray(entry["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise NCTheoryError(f"{path}: expected uint8 data of shape (n, 3072) and n labels, got data "
                            f"{data.dtype} {data.shape} and labels of shape {labels.shape}")
    return data, labels.astype(np.int64)


def _missing_error(name, data_root, folder, missing):
    return NCTheoryError(
        f"data_root={data_root!r}: dataset {name!r} is read from {os.path.join(data_root, folder)} in "
        f"torchvision's layout, and these files are missing: {', '.join(missing)}. Nothing is downloaded: "
        f"put the files there (e.g. once with torchvision.datasets' download=True) or pass another data_root")


def _idx_path(folder, filename):
    """The file, or its gzipped copy; None if neither exists."""
    for candidate in (filename, filename + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_image_arrays(name: str, data_root: str):
    """``(X, y, X_test, y_test)``: the raw uint8 images, shape (n, C, H, W), and int64 labels."""
    if name not in IMAGE_SETS:
        raise NCTheoryError(f"dataset must be one of {', '.join(map(repr, IMAGE_SETS))}, got {name!r}")
    if not isinstance(data_root, (str, os.PathLike)):
        raise NCTheoryError(f"dataset {name!r} is read from a local folder: data_root must be a path, got "
                            f"{data_root!r} (nothing is downloaded)")
    data_root = os.fspath(data_root)
    folder, shape = IMAGE_SETS[name]
    where = os.path.join(data_root, folder)
    if name == "cifar10":
        files = CIFAR_TRAIN + (CIFAR_TEST,)
        missing = [f for f in files if not os.path.isfile(os.path.join(where, f))]
        if missing:
            raise _missing_error(name, data_root, folder, missing)
        train = [read_cifar_batch(os.path.join(where, f)) for f in CIFAR_TRAIN]
        X, y = np.concatenate([d for d, _ in train]), np.concatenate([lab for _, lab in train])
        X_test, y_test = read_cifar_batch(os.path.join(where, CIFAR_TEST))
    else:
        paths = [_idx_path(where, f) for f in IDX_FILES]
        missing = [f"{f}[.gz]" for f, p in zip(IDX_FILES, paths) if p is None]
        if missing:
            raise _missing_error(name, data_root, folder, missing)
        X, y, X_test, y_test = (read_idx(p) for p in paths)
        for images, labels, path in ((X, y, paths[0]), (X_test, y_test, paths[2])):
            if images.ndim != 3 or images.shape[1:] != shape[1:] or labels.shape != (images.shape[0],):
                raise NCTheoryError(f"{path}: expected images of shape (n, 28, 28) and n labels, got images "
                                    f"{images.shape} and labels {labels.shape}")
        y, y_test = y.astype(np.int64), y_test.astype(np.int64)
    for labels, split in ((y, "training"), (y_test, "test")):
        if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
            raise NCTheoryError(f"{where}: the {split} labels must lie in [0, {_NUM_CLASSES}), got "
                                f"[{labels.min()}, {labels.max()}]")
    return X.reshape(-1, *shape), y, X_test.reshape(-1, *shape), y_test


def load_image_folder(name: str, data_root: str, dtype: str = "float64", seed: int = 0,
                      samples_per_class: int | None = None) -> Dataset:
    """MNIST / Fashion-MNIST / CIFAR-10 from ``data_root``: the official train/test split,
    an optional seeded balanced subset of ``samples_per_class`` training images per class,
    per-channel standardisation with the training statistics. ``X`` is (N, C*H*W) in
    channel-major order; ``input_shape`` is (1, 28, 28) or (3, 32, 32)."""
    np_dtype, seed = check_dtype(dtype), check_seed(seed)
    X, y, X_test, y_test = read_image_arrays(name, data_root)
    for k in range(_NUM_CLASSES):
        if not np.any(y == k):
            raise NCTheoryError(f"data_root={data_root!r}: the {name} training files have no image of class {k}")
    keep = balanced_subset(y, samples_per_class, _NUM_CLASSES, seed, name)
    X, X_test = standardise(X[keep], X_test, (0, 2, 3), np_dtype)
    flat = lambda a: a.reshape(a.shape[0], -1)
    return Dataset(name, flat(X), y[keep], _NUM_CLASSES, flat(X_test), y_test, IMAGE_SETS[name][1])
