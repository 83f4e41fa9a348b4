"""Data available without a network, and the checks applied to tensors a user passes in.

The implementation lives in :mod:`nctheory.runs.datasets` (one module per source); this
module keeps the import path ``nctheory.runs.data`` that the rest of the package and its
users rely on.

* :func:`load_dataset` / :data:`DATASETS`: a data set by name (digits, MNIST-1D, a Gaussian
  mixture, and MNIST / Fashion-MNIST / CIFAR-10 from a local folder).
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

from nctheory.runs.datasets import (
                                    DATASETS,
                                    GAUSSIAN_SIZES,
                                    IMAGE_SETS,
                                    Dataset,
                                    check_user_tensors,
                                    gaussian_mixture,
                                    load_dataset,
                                    load_digits_data,
                                    load_image_folder,
                                    load_mnist1d,
                                    read_cifar_batch,
                                    read_idx,
)

__all__ = ["DATASETS", "GAUSSIAN_SIZES", "IMAGE_SETS", "Dataset", "check_user_tensors", "gaussian_mixture",
           "load_dataset", "load_digits_data", "load_image_folder", "load_mnist1d", "read_cifar_batch", "read_idx"]
