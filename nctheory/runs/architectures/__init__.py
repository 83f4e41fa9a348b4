"""Networks by name: :func:`build_model` and :data:`ARCHITECTURES`.

Every network ends in the linear classifier ``fc``: ``z = W h + b`` with ``W = fc.weight``
(K x d) and ``h`` the penultimate features, the layer that
:func:`nctheory.runs.models.classifier_from_output` (the tracker's search through the
autograd graph) and :func:`nctheory.runs.models.find_last_linear` both find.

* ``mlp`` -- 3 hidden ReLU layers of ``width`` units (64), :class:`MLP`; any input.
* ``cnn`` -- two convolutions, pooling, a hidden layer of ``width`` units (64),
  :class:`SmallCNN`; 1-D and 2-D inputs.
* ``resnet`` -- the CIFAR ResNet-8 with basic blocks and ``width`` base channels (16),
  :class:`SmallResNet`; 1-D and 2-D inputs.
* ``resnet18`` -- torchvision's ``resnet18(num_classes=K)`` with its stem fitted to the input
  (no ``width``); 1-D and 2-D inputs.
* ``vgg`` -- VGG-style with batch norm and ``width`` base channels (16), :class:`SmallVGG`;
  1-D and 2-D inputs.

("1-D": (C, L) sequences, and (dim,) vectors read as (1, dim); "2-D": (C, H, W) images.)
``gaussian_mlp`` is the MLP under its older name.

Batch norm (``resnet``, ``resnet18``, ``vgg``): training steps normalise with the statistics
of the minibatch; the collapse metrics are taken with the network in evaluation mode
(:meth:`nctheory.runs.training.runners.TorchNetworkRunner.features_and_logits`), i.e. with
the running averages (momentum 0.1): the features the network computes at inference, the
same for every sample whatever batch it comes in. Early in a run those averages still carry
their initial values (mean 0, variance 1) with weight 0.9^t after t steps (0.59 after 5
steps, below 1e-4 after 90), so short runs measure features normalised partly by them.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from nctheory.errors import NCTheoryError
from nctheory.runs.architectures.cnn import DigitsCNN, SmallCNN
from nctheory.runs.architectures.mlp import MLP
from nctheory.runs.architectures.resnet import (
    BasicBlock,
    SmallResNet,
    import_torchvision_resnet18,
    torchvision_resnet18,
)
from nctheory.runs.architectures.shapes import (
    check_input_shape,
    check_torch_dtype,
    count_parameters,
)
from nctheory.runs.architectures.vgg import SmallVGG

ARCHITECTURES = ("mlp", "cnn", "resnet", "resnet18", "vgg")
#: older names still accepted by build_model
ALIASES = {"gaussian_mlp": "mlp"}
DEFAULT_WIDTHS = {"mlp": 64, "cnn": 64, "resnet": 16, "vgg": 16}


def build_model(name: str, input_shape, num_classes: int, width: int | None = None,
                dtype=torch.float64) -> nn.Module:
    """The network ``name`` (one of :data:`ARCHITECTURES`, or ``"gaussian_mlp"``) for inputs of
    per-sample shape ``input_shape`` and ``num_classes`` classes.

    ``input_shape``: (dim,), (channels, length) or (channels, height, width) -- usually
    ``Dataset.input_shape``. An integer is the older ``in_features`` argument: (n,), except
    that ``"cnn"`` with 64 means the 8x8 digits (the digits CNN it always built).
    ``width``: see the table above (None: the default; an error for ``"resnet18"``).
    ``dtype``: a torch floating dtype (or "float64" / "float32"). Construct under
    ``torch.manual_seed`` for a reproducible initialisation.
    """
    if name not in ARCHITECTURES and name not in ALIASES:
        raise NCTheoryError(f"unknown model {name!r}; networks: {', '.join(map(repr, ARCHITECTURES))} "
                            f"(and {', '.join(map(repr, ALIASES))})")
    name = ALIASES.get(name, name)
    dtype = check_torch_dtype(dtype)
    if name == "cnn" and isinstance(input_shape, numbers.Integral) and input_shape == 64:
        input_shape = (1, 8, 8)
    shape = check_input_shape(input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise NCTheoryError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    num_classes = int(num_classes)
    if name == "resnet18":
        if width is not None:
            raise NCTheoryError("width does not apply to model='resnet18' (torchvision's fixed 64..512 channels)")
        return torchvision_resnet18(shape, num_classes, dtype=dtype)
    width = DEFAULT_WIDTHS[name] if width is None else width
    if name == "mlp":
        features = 1
        for s in shape:
            features *= s
        return MLP(features, num_classes, width=width, dtype=dtype)
    cls = {"cnn": SmallCNN, "resnet": SmallResNet, "vgg": SmallVGG}[name]
    return cls(shape, num_classes, width=width, dtype=dtype)


__all__ = [
    "ALIASES",
    "ARCHITECTURES",
    "DEFAULT_WIDTHS",
    "MLP",
    "BasicBlock",
    "DigitsCNN",
    "SmallCNN",
    "SmallResNet",
    "SmallVGG",
    "build_model",
    "check_input_shape",
    "count_parameters",
    "import_torchvision_resnet18",
    "torchvision_resnet18",
]
