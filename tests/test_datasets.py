"""Data sets by name: digits, MNIST-1D, the Gaussian mixture, and MNIST / Fashion-MNIST /
CIFAR-10 read from tiny files written here in each set's own on-disk format."""

import gzip
import os
import pickle
import random
import socket

import numpy as np
import pytest

from nctheory.errors import NCTheoryError
from nctheory.runs.data import (
    DATASETS,
    Dataset,
    gaussian_mixture,
    load_dataset,
    load_digits_data,
    read_cifar_batch,
    read_idx,
)
from nctheory.runs.datasets import mnist1d as mnist1d_module
from nctheory.runs.datasets.base import balanced_subset
from nctheory.runs.datasets.image_folders import read_image_arrays
from nctheory.runs.training import RunConfig, run

# ---------------------------------------------------------------------- writing tiny files in the real formats
PER_CLASS = 3  # training images per class in the tiny folders; the test sets hold one per class


def write_idx(path, array, compress=False):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    with (gzip.open if compress else open)(path + (".gz" if compress else ""), "wb") as f:
        f.write(data)


def tiny_images(rng, n_per_class, shape):
    y = np.repeat(np.arange(10), n_per_class).astype(np.uint8)
    order = rng.permutation(y.size)
    return rng.integers(0, 256, size=(y.size, *shape), dtype=np.uint8), y[order]


def write_mnist_like(root, folder, seed=0, compress=False):
    rng = np.random.default_rng(seed)
    raw = os.path.join(root, folder, "raw")
    os.makedirs(raw, exist_ok=True)
    arrays = {}
    for split, n in (("train", PER_CLASS), ("t10k", 1)):
        X, y = tiny_images(rng, n, (28, 28))
        write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"), X, compress)
        write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"), y, compress)
        arrays[split] = (X, y)
    return arrays


def write_cifar10(root, seed=0):
    """Five training batches (6 images each) and a test batch, as Krizhevsky's pickles."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    X, y = tiny_images(rng, PER_CLASS, (3, 32, 32))
    X[0, 0], X[0, 1], X[0, 2] = 255, 0, 128  # image 0: red plane 255, green 0, blue 128
    for i, rows in enumerate(np.array_split(np.arange(y.size), 5), start=1):
        entry = {"batch_label": f"training batch {i} of 5", "data": X[rows].reshape(len(rows), -1),
                 "labels": [int(v) for v in y[rows]], "filenames": [f"img{r}.png" for r in rows]}
        with open(os.path.join(folder, f"data_batch_{i}"), "wb") as f:
            pickle.dump(entry, f)
    Xt, yt = tiny_images(rng, 1, (3, 32, 32))
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        pickle.dump({"data": Xt.reshape(10, -1), "labels": [int(v) for v in yt]}, f)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:  # read by torchvision only
        pickle.dump({"label_names": [f"class{k}" for k in range(10)]}, f)
    return X, y, Xt, yt


# ---------------------------------------------------------------------- names and refusals
def test_dataset_names_and_refusals():
    assert DATASETS == ("digits", "mnist1d", "gaussian", "mnist", "fashion_mnist", "cifar10")
    with pytest.raises(NCTheoryError, match="dataset must be one of 'digits', 'mnist1d', 'gaussian'.*'cifar10'"):
        load_dataset("imagenet")
    with pytest.raises(NCTheoryError, match="dataset='cifar10' needs data_root=.*nothing is downloaded"):
        load_dataset("cifar10")
    with pytest.raises(NCTheoryError, match="data_root does not apply to dataset='digits'"):
        load_dataset("digits", data_root="/tmp")
    with pytest.raises(NCTheoryError, match="dim does not apply to dataset='digits'"):
        load_dataset("digits", dim=3)
    with pytest.raises(NCTheoryError, match="num_classes: dataset='digits' has 10 classes"):
        load_dataset("digits", num_classes=3)
    with pytest.raises(NCTheoryError, match="samples_per_class=200 exceeds .* smallest class has"):
        load_dataset("digits", samples_per_class=200)
    with pytest.raises(NCTheoryError, match="input_shape"):
        Dataset("x", np.zeros((4, 6)), np.zeros(4, dtype=np.int64), 2, input_shape=(1, 5))


def test_missing_files_name_data_root_and_the_expected_paths(tmp_path):
    for name, folder, first in (("mnist", "MNIST/raw", "train-images-idx3-ubyte"),
                                ("fashion_mnist", "FashionMNIST/raw", "train-images-idx3-ubyte"),
                                ("cifar10", "cifar-10-batches-py", "data_batch_1")):
        with pytest.raises(NCTheoryError) as info:
            load_dataset(name, data_root=str(tmp_path))
        message = str(info.value)
        assert f"data_root={str(tmp_path)!r}" in message and os.path.join(str(tmp_path), folder) in message
        assert first in message and "Nothing is downloaded" in message
    assert os.listdir(tmp_path) == []  # nothing written either


# ---------------------------------------------------------------------- digits and the balanced subset
def test_digits_by_name_and_a_seeded_nested_balanced_subset():
    full = load_dataset("digits")
    assert full.input_shape == (1, 8, 8) and full.X.shape == (1437, 64) and full.X_test.shape == (360, 64)
    np.testing.assert_array_equal(full.X, load_digits_data().X)
    small = load_dataset("digits", samples_per_class=7, seed=3)
    np.testing.assert_array_equal(np.bincount(small.y, minlength=10), [7] * 10)
    np.testing.assert_allclose(small.X.mean(0), 0.0, atol=1e-12)  # the subset's own statistics
    std = small.X.std(0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))
    assert small.X_test.shape == (360, 64)  # the test set is never subsampled
    np.testing.assert_array_equal(small.X, load_dataset("digits", samples_per_class=7, seed=3).X)
    assert not np.array_equal(small.y, load_dataset("digits", samples_per_class=7, seed=4).y)
    # the loader keeps the rows balanced_subset picks, standardised with their own statistics
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw = load_digits()
    train, _, y_train, _ = train_test_split(raw.data, raw.target, test_size=0.2, stratify=raw.target, random_state=3)
    rows = balanced_subset(y_train, 7, 10, 3, "digits")
    mean, std = train[rows].mean(0), train[rows].std(0)
    np.testing.assert_allclose(small.X, (train[rows] - mean) / np.where(std > 0, std, 1), rtol=0, atol=1e-12)


def test_balanced_subsets_are_balanced_seeded_and_nested():
    y = np.random.default_rng(0).integers(0, 4, size=200)
    small, big = balanced_subset(y, 5, 4, 9, "y"), balanced_subset(y, 12, 4, 9, "y")
    np.testing.assert_array_equal(np.bincount(y[small]), [5] * 4)
    assert set(small) <= set(big) and len(set(big)) == 48
    assert not set(small) <= set(balanced_subset(y, 12, 4, 10, "y"))  # another seed, other rows
    np.testing.assert_array_equal(balanced_subset(y, None, 4, 9, "y"), np.arange(200))
    with pytest.raises(NCTheoryError, match="samples_per_class must be a positive integer"):
        balanced_subset(y, 0, 4, 9, "y")


def test_gaussian_by_name_is_the_mixture_with_a_vector_shape():
    d = load_dataset("gaussian", num_classes=3, dim=7, samples_per_class=4, seed=2)
    ref = gaussian_mixture(3, 7, 4, seed=2)
    np.testing.assert_array_equal(d.X, ref.X)
    assert d.input_shape == (7,) and d.num_classes == 3 and d.X_test is None
    assert load_dataset("gaussian").X.shape == (250, 20)  # K=5, n=50, dim=20


# ---------------------------------------------------------------------- MNIST-1D
def test_mnist1d_is_generated_locally_and_leaves_global_random_state(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("MNIST-1D tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    mnist1d_module._generated.cache_clear()
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    d = load_dataset("mnist1d")
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)  # the package seeds 42 globally
    assert d.X.shape == (4000, 40) and d.X_test.shape == (1000, 40) and d.input_shape == (1, 40)
    np.testing.assert_array_equal(np.bincount(d.y, minlength=10) > 300, True)
    from mnist1d.data import get_dataset_args, make_dataset

    raw = make_dataset(get_dataset_args())
    mean, std = raw["x"].mean(0), raw["x"].std(0)
    np.testing.assert_allclose(d.X, (raw["x"] - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.X_test, (raw["x_test"] - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(d.y_test, raw["y_test"])
    small = load_dataset("mnist1d", samples_per_class=5, seed=1)
    np.testing.assert_array_equal(np.bincount(small.y, minlength=10), [5] * 10)


# ---------------------------------------------------------------------- MNIST, Fashion-MNIST, CIFAR-10 from files
@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_idx_folders_read_back_exactly_plain_or_gzipped(tmp_path, name, folder):
    written = write_mnist_like(str(tmp_path / "plain"), folder, seed=1)
    gzipped = write_mnist_like(str(tmp_path / "gz"), folder, seed=1, compress=True)
    for root in ("plain", "gz"):
        X, y, X_test, y_test = read_image_arrays(name, str(tmp_path / root))
        np.testing.assert_array_equal(X, written["train"][0][:, None])
        np.testing.assert_array_equal(y, written["train"][1])
        np.testing.assert_array_equal(X_test, gzipped["t10k"][0][:, None])
        np.testing.assert_array_equal(y_test, gzipped["t10k"][1])
    d = load_dataset(name, data_root=str(tmp_path / "gz"))
    assert d.input_shape == (1, 28, 28) and d.X.shape == (30, 784) and d.X_test.shape == (10, 784)
    # one channel: standardised with the mean and spread of all training pixels
    raw = written["train"][0].astype(np.float64)
    np.testing.assert_allclose(d.X, ((raw - raw.mean()) / raw.std()).reshape(30, -1), rtol=0, atol=1e-12)
    sub = load_dataset(name, data_root=str(tmp_path / "plain"), samples_per_class=2, seed=5, dtype="float32")
    np.testing.assert_array_equal(np.bincount(sub.y, minlength=10), [2] * 10)
    assert sub.X.dtype == np.float32 and sub.X.shape == (20, 784)


def test_cifar10_batches_read_back_in_channel_major_order(tmp_path):
    X, y, Xt, yt = write_cifar10(str(tmp_path))
    Xr, yr, Xtr, ytr = read_image_arrays("cifar10", str(tmp_path))
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)
    np.testing.assert_array_equal(Xtr, Xt)
    np.testing.assert_array_equal(ytr, yt)
    assert (Xr[0, 0] == 255).all() and (Xr[0, 1] == 0).all() and (Xr[0, 2] == 128).all()
    d = load_dataset("cifar10", data_root=str(tmp_path))
    assert d.input_shape == (3, 32, 32) and d.X.shape == (30, 3072) and d.X_test.shape == (10, 3072)
    images = d.X.reshape(30, 3, -1)
    np.testing.assert_allclose(images.mean(axis=(0, 2)), 0.0, atol=1e-12)  # per channel
    np.testing.assert_allclose(images.std(axis=(0, 2)), 1.0, rtol=1e-12)
    per_channel = X.reshape(30, 3, -1).astype(np.float64)
    mean, std = per_channel.mean(axis=(0, 2)), per_channel.std(axis=(0, 2))
    expected = (Xt.reshape(10, 3, -1) - mean[:, None]) / std[:, None]
    np.testing.assert_allclose(d.X_test, expected.reshape(10, -1), rtol=0, atol=1e-12)


def test_malformed_files_are_refused(tmp_path):
    write_mnist_like(str(tmp_path), "MNIST")
    images = str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte")
    with open(images, "rb") as f:
        good = f.read()
    with open(images, "wb") as f:
        f.write(b"\x00\x00\x0d\x03" + good[4:])  # float32 type code
    with pytest.raises(NCTheoryError, match="not an idx file of unsigned bytes"):
        load_dataset("mnist", data_root=str(tmp_path))
    with open(images, "wb") as f:
        f.write(good[:-5])
    with pytest.raises(NCTheoryError, match=r"header says shape \(30, 28, 28\).*but 23515 bytes follow"):
        read_idx(images)
    with open(images, "wb") as f:
        f.write(good)
    labels = str(tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte")
    write_idx(labels, np.arange(10) + 3)
    with pytest.raises(NCTheoryError, match=r"test labels must lie in \[0, 10\), got \[3, 12\]"):
        load_dataset("mnist", data_root=str(tmp_path))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = str(tmp_path / "batch")
    with open(path, "wb") as f:
        pickle.dump({"data": Payload(), "labels": [0]}, f)
    with pytest.raises(NCTheoryError, match="refusing to load"):
        read_cifar_batch(path)
    assert not marker.exists()
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((2, 10), dtype=np.uint8), "labels": [0, 1]}, f)
    with pytest.raises(NCTheoryError, match=r"uint8 data of shape \(n, 3072\)"):
        read_cifar_batch(path)
    # the real batches were pickled by Python 2 and numpy 1 (protocol 2, numpy.core.multiarray)
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    blob = pickle.dumps({b"data": data, b"labels": [3, 7]}, protocol=2)
    with open(path, "wb") as f:
        f.write(blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    X, y = read_cifar_batch(path)
    np.testing.assert_array_equal(X, data)
    np.testing.assert_array_equal(y, [3, 7])


def _torchvision_datasets():
    from nctheory.runs.architectures.torchvision_import import import_torchvision

    if not import_torchvision():  # registers torchvision's pure-Python package where needed
        pytest.skip("torchvision is not installed")
    from torchvision import datasets

    return datasets


@pytest.mark.parametrize("name, folder, cls", [("mnist", "MNIST", "MNIST"),
                                               ("fashion_mnist", "FashionMNIST", "FashionMNIST")])
def test_torchvision_reads_the_same_idx_arrays(tmp_path, name, folder, cls):
    datasets = _torchvision_datasets()
    write_mnist_like(str(tmp_path), folder, seed=2)
    ours = read_image_arrays(name, str(tmp_path))
    for train, (X, y) in ((True, ours[:2]), (False, ours[2:])):
        theirs = getattr(datasets, cls)(str(tmp_path), train=train, download=False)
        np.testing.assert_array_equal(theirs.data.numpy()[:, None], X)
        np.testing.assert_array_equal(theirs.targets.numpy(), y)


def test_torchvision_reads_the_same_cifar10_arrays(tmp_path, monkeypatch):
    datasets = _torchvision_datasets()
    from torchvision.datasets import cifar

    write_cifar10(str(tmp_path), seed=3)
    # torchvision checks the md5 sums of the real files; the tiny files here are not those
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    X, y, X_test, y_test = read_image_arrays("cifar10", str(tmp_path))
    for train, (ours, labels) in ((True, (X, y)), (False, (X_test, y_test))):
        theirs = datasets.CIFAR10(str(tmp_path), train=train, download=False)
        np.testing.assert_array_equal(theirs.data.transpose(0, 3, 1, 2), ours)  # theirs is (n, H, W, C)
        np.testing.assert_array_equal(np.asarray(theirs.targets), labels)


# ---------------------------------------------------------------------- RunConfig
def test_run_config_dataset_and_data_root_are_validated(tmp_path):
    assert RunConfig(model="mlp").dataset_name() == "digits"
    assert RunConfig(model="gaussian_mlp").dataset_name() == "gaussian"
    assert RunConfig(model="ufm").dataset_name() is None
    for kwargs, match in (
            ({"model": "mlp", "dataset": "svhn"}, "dataset must be one of 'digits', 'mnist1d'"),
            ({"model": "cnn", "dataset": "mnist"}, "dataset='mnist' needs data_root=.*nothing is downloaded"),
            ({"model": "mlp", "data_root": str(tmp_path)}, "data_root does not apply to dataset='digits'"),
            ({"model": "ufm", "dataset": "digits"}, "dataset does not apply to model='ufm'"),
            ({"model": "ufm", "data_root": str(tmp_path)}, "data_root does not apply to model='ufm'"),
            ({"model": "gaussian_mlp", "dataset": "mnist1d"}, "model='gaussian_mlp' is the MLP on dataset='gaussian'"),
            ({"model": "mlp", "dataset": "mnist1d", "dim": 3}, "dim does not apply to dataset='mnist1d'"),
            ({"model": "vgg", "dataset": "cifar10", "data_root": str(tmp_path), "num_classes": 4}, "num_classes"),
            ({"model": "mlp", "dataset": "digits", "data": (np.zeros((4, 2)), np.array([0, 1, 0, 1]))},
             "not both"),
            ({"model": "mlp", "dataset": "digits", "data": load_dataset("gaussian")}, "not both"),
            ({"model": "mlp", "dataset": "fashion_mnist", "data_root": 3}, "data_root must be a folder path")):
        with pytest.raises(NCTheoryError, match=match):
            RunConfig(**kwargs)
    # the Dataset loaded for the named data set may come with it (a sweep loads it once for many runs)
    loaded = load_dataset("mnist1d", samples_per_class=2)
    assert RunConfig(model="mlp", dataset="mnist1d", data=loaded).dataset_name() == "mnist1d"


def test_a_run_on_an_image_folder_records_its_data(tmp_path):
    import nctheory

    write_mnist_like(str(tmp_path), "FashionMNIST", seed=4)
    r = run(nctheory.optimizer("sgd", lr=0.05),
            RunConfig(model="cnn", dataset="fashion_mnist", data_root=str(tmp_path), samples_per_class=2,
                      steps=2, record_every=2, width=8))
    assert r.config["dataset"] == "fashion_mnist" and r.config["input_shape"] == [1, 28, 28]
    assert r.config["num_samples"] == 20 and list(r.metric_steps) == [0, 2]
    assert np.isfinite(r.metrics["nc1"]).all() and r.row_sums.shape == (3, 8)
