"""How a run is set up: :class:`RunConfig`, one frozen and validated object instead of two
dozen keywords.

Every check that does not need the optimizer or the data happens when the configuration is
built, with an error naming the argument and what it allows; what needs them (the
learning-rate schedule against the spec, ``batch_size`` against the number of samples, the
user's tensors) is checked when the run starts (:func:`nctheory.runs.training.run`).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, replace

from nctheory.errors import NCTheoryError
from nctheory.runs.backends import Backend, resolve_backend
from nctheory.runs.ufm import check_loss

MODELS = ("ufm", "mlp", "cnn", "resnet", "resnet18", "vgg", "gaussian_mlp", "user")
#: The models trained on a data set (``dataset=``): every model but the UFM and the user's.
NETWORK_MODELS = ("mlp", "cnn", "resnet", "resnet18", "vgg", "gaussian_mlp")
UFM_RECORD_EVERY = 200
NETWORK_RECORD_EVERY_EPOCHS = 20
#: Default sizes: K, d (UFM feature dimension / Gaussian input dimension), n per class.
UFM_DEFAULTS = {"num_classes": 5, "dim": 16, "samples_per_class": 8}
GAUSSIAN_DEFAULTS = {"num_classes": 5, "dim": 20, "samples_per_class": 50}
DEFAULT_WIDTH = 64
DIGITS_CLASSES = 10


def default_record_every(model: str, num_samples: int, batch_size: int | None) -> int:
    """The metric interval used when ``record_every=None``: metric overhead below 10%.

    Measured on a 2-core CPU with one thread (numerics/bench_ufm.py for the UFM):

    * UFM: one metric evaluation (NC0..NC4 on the host and the full loss) costs about as
      much as 7 numpy UFM steps (0.25 ms vs 37 us; torch-cpu: 0.43 ms vs 190 us), so the UFM
      records every ``UFM_RECORD_EVERY = 200`` steps: 2-6% overhead.
    * networks: one evaluation is a forward pass over all N training samples plus the same
      statistics, i.e. about a third of a full-batch step and ``N / (3 B)`` minibatch steps,
      plus about 1 ms; measured 1.4-155 ms per evaluation (Gaussian MLP to the digits CNN).
      Networks record every ``20`` epochs' worth of steps, ``20 * ceil(N / batch_size)``
      (20 for full batch): 2-7% overhead in the measured cases (mlp, cnn, gaussian_mlp,
      full batch and minibatch), where every 10 epochs' worth gave up to 17%.
    """
    if model == "ufm":
        return UFM_RECORD_EVERY
    if batch_size is None:
        return NETWORK_RECORD_EVERY_EPOCHS
    return NETWORK_RECORD_EVERY_EPOCHS * -(-num_samples // batch_size)


def _integer(value, name, low, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
        raise NCTheoryError(f"{name} must be {kind}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _flag(value, name):
    if not isinstance(value, bool):
        raise NCTheoryError(f"{name} must be True or False, got {value!r}")
    return value


def _loaded_for(data, dataset: str) -> bool:
    """Whether ``data`` is a :class:`~nctheory.runs.data.Dataset` loaded for ``dataset`` (its
    name: the data set's, or "gaussian_mixture(...)" for "gaussian"), as a sweep passes the
    data it loaded once for many runs."""
    from nctheory.runs.data import Dataset

    if not isinstance(data, Dataset):
        return False
    return data.name == dataset or (dataset == "gaussian" and data.name.startswith("gaussian_mixture("))


@dataclass(frozen=True)
class RunConfig:
    """Everything about a training run except the optimizer.

    Attributes:
        model: one of :data:`MODELS`: "ufm" (free features H, N = K n, and W; decay on
            both), the networks of :func:`nctheory.runs.architectures.build_model` --
            "mlp" (3 hidden ReLU layers of ``width``), "cnn" (a small CNN), "resnet" (a
            CIFAR ResNet-8), "resnet18" (torchvision's) and "vgg" (VGG-style, batch norm) --,
            "gaussian_mlp" (the MLP on the Gaussian mixture: ``model="mlp",
            dataset="gaussian"``), "user" (``user_model`` on ``data``).
        dataset: for the networks, one of :data:`nctheory.runs.data.DATASETS` ("digits",
            "mnist1d", "gaussian", "mnist", "fashion_mnist", "cifar10"), loaded by
            :func:`nctheory.runs.data.load_dataset`; None: "gaussian" for "gaussian_mlp",
            "digits" for the others. The Gaussian mixture is drawn from ``seed``; the
            other sets (and their subsets) are the same for every run seed (data seed 0).
        data_root: the local folder holding "mnist", "fashion_mnist" or "cifar10" in
            torchvision's layout (required for them; nothing is downloaded).
        data: instead of ``dataset``, a :class:`nctheory.runs.data.Dataset` or ``(X, y)``
            (with ``dataset`` only the Dataset loaded for it, which is then used as is).
            Not used by the UFM.
        num_classes, dim, samples_per_class: sizes (UFM defaults K=5, d=16, n=8; Gaussian
            K=5, dim=20, n=50). For the other data sets ``samples_per_class`` takes a
            seeded class-balanced training subset (None: all of it), ``num_classes`` can
            only be their 10 and ``dim`` does not apply. width: the hidden width of the
            MLP / CNN (64) or the base channels of the ResNet / VGG (16).
        steps: optimizer steps (> 0); seed: seeds torch and numpy Generators (>= 0).
        backend, device, dtype: see :func:`nctheory.runs.backends.resolve_backend`.
        record_every: metric interval (0: none); metrics also at step 0 and the last step.
            None: :func:`default_record_every` (overhead below 10%).
        lr_schedule: None (the spec's lr), a sequence of >= steps learning rates or a
            callable ``step -> lr``; with torch it is applied by setting
            ``param_group["lr"]`` before each step.
        loss: a runnable name of :data:`nctheory.theory.losses.LOSSES` ("cross_entropy",
            "label_smoothing" -- with the eps declared on the loss unless given -- "mse", ...);
            label_smoothing: eps of cross-entropy's label smoothing, in [0, 1). Both are
            stored normalised (:func:`nctheory.runs.ufm.check_loss`): the loss actually used.
        batch_size: minibatch size (None: full batch); minibatches are seeded permutations.
        progress: optional ``callable(step, steps)`` called after every step.
        user_model, last_layer: the module for model="user" (a deep copy is trained and
            returned as ``record.trained_model``) and the name of its classifier layer
            (default: its last ``nn.Linear``).
        bias: give the UFM a bias b (decayed like W and H).
        prefer_torch: with torch, use torch.optim's class where the spec has one (else the
            spec's own ``SpecOptimizer``).
        num_threads: torch's intra-op threads and numpy's BLAS threads during a CPU run
            (restored afterwards); None keeps the current settings. The default 1 is
            deliberate: the models here are too small for intra-op parallelism to help,
            and on a busy machine (more runnable processes than cores) the threads'
            barriers made a 2-thread torch run of the UFM about 300 times slower than a
            1-thread run (measured: 300 steps in 33 s versus 0.09 s).
    """

    model: str = "ufm"
    data: object = None
    dataset: str | None = None
    data_root: str | None = None
    num_classes: int | None = None
    dim: int | None = None
    width: int | None = None
    samples_per_class: int | None = None
    steps: int = 300
    seed: int = 0
    backend: str = "auto"
    device: str = "auto"
    dtype: str = "float64"
    record_every: int | None = None
    lr_schedule: object = None
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    batch_size: int | None = None
    progress: object = None
    user_model: object = None
    last_layer: str | None = None
    bias: bool = False
    prefer_torch: bool = True
    num_threads: int | None = 1

    def __post_init__(self):
        if self.model not in MODELS:
            raise NCTheoryError(f"model must be one of {', '.join(map(repr, MODELS))}, got {self.model!r}")
        normalised = {
            "steps": _integer(self.steps, "steps", 1),
            "seed": _integer(self.seed, "seed", 0),
            "record_every": _integer(self.record_every, "record_every", 0, allow_none=True),
            "batch_size": _integer(self.batch_size, "batch_size", 1, allow_none=True),
            "num_classes": _integer(self.num_classes, "num_classes", 2, allow_none=True),
            "dim": _integer(self.dim, "dim", 1, allow_none=True),
            "width": _integer(self.width, "width", 1, allow_none=True),
            "samples_per_class": _integer(self.samples_per_class, "samples_per_class", 1, allow_none=True),
            "num_threads": _integer(self.num_threads, "num_threads", 1, allow_none=True),
        }
        if self.progress is not None and not callable(self.progress):
            raise NCTheoryError("progress must be a callable(step, steps) or None")
        normalised["loss"], normalised["label_smoothing"] = check_loss(self.loss, self.label_smoothing)
        if isinstance(self.lr_schedule, (str, bytes)):
            raise NCTheoryError("lr_schedule must be None, a sequence of learning rates or a callable step -> lr")
        _flag(self.bias, "bias")
        _flag(self.prefer_torch, "prefer_torch")
        normalised["data_root"] = self._check_dataset()
        self.target()  # backend, device and dtype, and whether they can run this model here
        self._check_applies()
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def _check_applies(self) -> None:
        """Arguments that do not apply to the model are errors, not silently ignored."""
        model = self.model
        unused = {}
        if model != "user":
            unused.update(user_model=self.user_model, last_layer=self.last_layer)
        if model == "ufm":
            unused.update(data=self.data, width=self.width)
        if model == "user":
            unused.update(width=self.width, dim=self.dim, samples_per_class=self.samples_per_class)
        given = [name for name, value in unused.items() if value is not None]
        if given:
            raise NCTheoryError(f"{', '.join(given)} do(es) not apply to model={model!r}")
        if model != "ufm" and self.bias:
            raise NCTheoryError("bias applies to model='ufm' (networks have their own biases)")
        if model == "user":
            if self.user_model is None:
                raise NCTheoryError("model='user' needs user_model=<a torch.nn.Module>")
            import torch

            if not isinstance(self.user_model, torch.nn.Module):
                raise NCTheoryError(f"user_model must be a torch.nn.Module, got {type(self.user_model).__name__}")
            if self.data is None:
                raise NCTheoryError("model='user' needs data=(X, y): the inputs and integer labels to train on")
        dataset = self.dataset_name()
        if dataset not in (None, "gaussian"):
            if self.num_classes not in (None, DIGITS_CLASSES):
                raise NCTheoryError(f"num_classes: the {dataset} data have {DIGITS_CLASSES} classes, "
                                    f"got {self.num_classes!r}")
            if self.dim is not None:
                raise NCTheoryError(f"dim does not apply to dataset={dataset!r} (its inputs have a fixed shape); "
                                    f"it sets the input dimension of dataset='gaussian'")

    def _check_dataset(self):
        """``dataset`` and ``data_root``: known names, where they apply; returns data_root as a str."""
        from nctheory.runs.data import DATASETS, IMAGE_SETS

        dataset, root = self.dataset, self.data_root
        if dataset is not None:
            if dataset not in DATASETS:
                raise NCTheoryError(f"dataset must be one of {', '.join(map(repr, DATASETS))} or None, got {dataset!r}")
            if self.model not in NETWORK_MODELS:
                raise NCTheoryError(f"dataset does not apply to model={self.model!r}; it is for the networks "
                                    f"{', '.join(map(repr, NETWORK_MODELS))}")
            if self.data is not None and not _loaded_for(self.data, dataset):
                raise NCTheoryError(f"give dataset={dataset!r} or data=(X, y) / a Dataset, not both (data may be "
                                    f"given with dataset only as the Dataset loaded for it, named {dataset!r})")
            if self.model == "gaussian_mlp" and dataset != "gaussian":
                raise NCTheoryError(f"model='gaussian_mlp' is the MLP on dataset='gaussian', got dataset={dataset!r}; "
                                    f"use model='mlp' with dataset={dataset!r}")
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise NCTheoryError(f"data_root must be a folder path (str) or None, got {type(root).__name__}")
        name = self.dataset_name()
        if name in IMAGE_SETS and root is None:
            raise NCTheoryError(f"dataset={name!r} needs data_root=<a folder holding {IMAGE_SETS[name][0]}/ in "
                                f"torchvision's layout>; nothing is downloaded")
        if root is not None and name not in IMAGE_SETS:
            where = f"dataset={name!r}" if name is not None else (
                "data=" if self.data is not None else f"model={self.model!r}")
            raise NCTheoryError(f"data_root does not apply to {where}; it is the folder of the data sets "
                                f"{', '.join(map(repr, IMAGE_SETS))}")
        return None if root is None else os.fspath(root)

    def dataset_name(self) -> str | None:
        """The built-in data set the run trains on: ``dataset``, else "gaussian" for
        "gaussian_mlp" and "digits" for the other networks; None for the UFM, the user's
        model and runs given ``data`` (without ``dataset``)."""
        if self.model not in NETWORK_MODELS:
            return None
        if self.dataset is not None:
            return self.dataset
        if self.data is not None:
            return None
        return "gaussian" if self.model == "gaussian_mlp" else "digits"

    def target(self) -> Backend:
        """The resolved backend, device and dtype (``"auto"`` decided on this machine)."""
        return resolve_backend(self.backend, self.device, self.dtype, self.model)

    def ufm_sizes(self) -> dict:
        """``num_classes``, ``dim`` and ``samples_per_class`` of the UFM, defaults filled in."""
        return {name: getattr(self, name) or default for name, default in UFM_DEFAULTS.items()}

    def gaussian_sizes(self) -> dict:
        """The sizes of the default Gaussian mixture, defaults filled in."""
        return {name: getattr(self, name) or default for name, default in GAUSSIAN_DEFAULTS.items()}

    def replace(self, **changes) -> "RunConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
