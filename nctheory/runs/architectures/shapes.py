"""Input shapes and the layer types that go with them.

A model is built for the shape of one sample, ``input_shape``:

* ``(dim,)`` -- a plain vector (the Gaussian mixture). Convolutional models read it as a
  one-channel sequence ``(1, dim)``; a convolution over coordinates that have no order is
  still a (weight-shared, sparse) linear map, so the models run, but it has no locality to
  exploit.
* ``(channels, length)`` -- a sequence (MNIST-1D: (1, 40)): ``Conv1d``, ``BatchNorm1d``, ...
* ``(channels, height, width)`` -- an image ((1, 8, 8), (1, 28, 28), (3, 32, 32)):
  ``Conv2d``, ``BatchNorm2d``, ...

Every model accepts its inputs either flattened, (N, prod(input_shape)) -- the layout of
:class:`nctheory.runs.data.Dataset` -- or shaped, (N, *input_shape).
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from nctheory.errors import NCTheoryError

_LAYERS = {
    1: {"conv": nn.Conv1d, "bn": nn.BatchNorm1d, "maxpool": nn.MaxPool1d, "avgpool": nn.AdaptiveAvgPool1d},
    2: {"conv": nn.Conv2d, "bn": nn.BatchNorm2d, "maxpool": nn.MaxPool2d, "avgpool": nn.AdaptiveAvgPool2d},
}


def check_input_shape(input_shape) -> tuple:
    """``input_shape`` as a tuple of 1 to 3 positive integers; an integer n means (n,)."""
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if not shape or len(shape) > 3 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                                          for s in shape):
        raise NCTheoryError(f"input_shape must be (dim,), (channels, length) or (channels, height, width) with "
                            f"positive integers, got {input_shape!r}")
    return tuple(int(s) for s in shape)


def check_sizes(**sizes) -> None:
    """Each keyword ``name=(value, low)``: ``value`` must be an integer >= ``low``."""
    for name, (value, low) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise NCTheoryError(f"{name} must be an integer >= {low}, got {value!r}")


def conv_view(input_shape) -> tuple:
    """The shape a convolutional model reads: ``(1, dim)`` for a vector, else ``input_shape``."""
    shape = check_input_shape(input_shape)
    return (1, shape[0]) if len(shape) == 1 else shape


def layers(view: tuple) -> dict:
    """The conv / batch-norm / pooling classes for a view (C, L) or (C, H, W)."""
    return _LAYERS[len(view) - 1]


def check_torch_dtype(dtype):
    """A torch floating dtype; "float64" / "float32" are accepted too."""
    named = {"float64": torch.float64, "float32": torch.float32}
    if isinstance(dtype, str) and dtype in named:
        return named[dtype]
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    raise NCTheoryError(f"dtype must be a torch floating dtype, 'float64' or 'float32', got {dtype!r}")


def as_input(x, view: tuple, model: str, also: tuple = ()):
    """``x`` reshaped to (N, *view): accepts (N, prod(view)), (N, *view) and (N, *shape) for
    each per-sample shape in ``also`` (e.g. the data set's (C, L) for a view (C, 1, L))."""
    features = 1
    for s in view:
        features *= s
    if x.ndim >= 2 and tuple(x.shape[1:]) == view:
        return x
    if (x.ndim == 2 and x.shape[1] == features) or (x.ndim >= 2 and tuple(x.shape[1:]) in also):
        return x.reshape(x.shape[0], *view)
    pretty = "x".join(map(str, view))
    raise NCTheoryError(f"{model} was built for inputs of shape {view} ({pretty}): it takes (N, {features}) or "
                        f"(N, {', '.join(map(str, view))}), got {tuple(x.shape)}")


class ViewAs:
    """A forward pre-hook that reshapes a model's flat input to (N, *view) (for models, such
    as torchvision's, whose ``forward`` cannot be changed); picklable and deep-copyable."""

    def __init__(self, view: tuple, model: str, also: tuple = ()):
        self.view, self.model, self.also = tuple(view), model, tuple(also)

    def __call__(self, module, args):
        return (as_input(args[0], self.view, self.model, self.also), *args[1:])


def count_parameters(model: nn.Module) -> int:
    """The number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
