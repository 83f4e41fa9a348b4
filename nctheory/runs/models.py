"""Small networks whose last layer is ``z = W h + b``, and access to that layer.

* :class:`MLP`: ``depth`` hidden ReLU layers of ``width`` units, then the linear
  classifier ``fc`` (the setting of THEORY.md: a 3-layer ReLU MLP).
* :class:`DigitsCNN`: two 3x3 convolutions and a hidden linear layer for the 8x8 digits
  (inputs of shape (N, 64) or (N, 1, 8, 8)), then ``fc``.
* :func:`find_last_linear`: the last ``torch.nn.Linear`` of a module (or a named one).
* :class:`FeatureHook` / :func:`penultimate_features`: the features ``h`` feeding the last
  layer, read with a forward pre-hook on it, so any architecture works unchanged.

Construct models under ``torch.manual_seed`` and with ``dtype=`` for reproducible float64
initialisation (torch.nn's default Kaiming-uniform initialisation).
"""

from __future__ import annotations

import torch
from torch import nn

from nctheory.errors import NCTheoryError


class MLP(nn.Module):
    """``x -> [Linear(width), ReLU] x depth -> fc = Linear(num_classes)``."""

    def __init__(self, in_features: int, num_classes: int, width: int = 64, depth: int = 3,
                 dtype=None, device=None):
        super().__init__()
        for name, value, low in (("in_features", in_features, 1), ("num_classes", num_classes, 2),
                                 ("width", width, 1), ("depth", depth, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise NCTheoryError(f"{name} must be an integer >= {low}, got {value!r}")
        layers, previous = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(previous, width, dtype=dtype, device=device), nn.ReLU()]
            previous = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes, dtype=dtype, device=device)

    def forward(self, x):
        return self.fc(self.features(x.flatten(1)))


class DigitsCNN(nn.Module):
    """conv3x3(16) - ReLU - conv3x3(32) - ReLU - maxpool2 - Linear(width) - ReLU - fc.

    For 8x8 single-channel images; inputs (N, 64) are reshaped to (N, 1, 8, 8).
    """

    def __init__(self, num_classes: int = 10, width: int = 64, dtype=None, device=None):
        super().__init__()
        kw = {"dtype": dtype, "device": device}
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, **kw), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, **kw), nn.ReLU(),
            nn.MaxPool2d(2))
        self.hidden = nn.Sequential(nn.Linear(32 * 4 * 4, width, **kw), nn.ReLU())
        self.fc = nn.Linear(width, num_classes, **kw)

    def forward(self, x):
        if x.ndim == 2:
            if x.shape[1] != 64:
                raise NCTheoryError(f"DigitsCNN expects 8x8 images (N, 64) or (N, 1, 8, 8), got {tuple(x.shape)}")
            x = x.view(-1, 1, 8, 8)
        return self.fc(self.hidden(self.conv(x).flatten(1)))


def find_last_linear(model: nn.Module, name: str | None = None) -> nn.Linear:
    """The classifier layer ``W``: the last ``nn.Linear`` registered in ``model``, or ``name``.

    "Last" is the order of ``model.named_modules()`` (registration order), which is the
    order of the forward pass for sequential models. Raises NCTheoryError when the model
    has no Linear layer, when ``name`` is not a submodule (the Linear ones are listed) or
    when the named submodule is not ``nn.Linear``.
    """
    if not isinstance(model, nn.Module):
        raise NCTheoryError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    linear = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if name is None:
        if not linear:
            raise NCTheoryError(
                f"model ({type(model).__name__}) has no torch.nn.Linear layer: the NC metrics need "
                f"a linear classifier z = W h + b; pass last_layer=NAME of one")
        return linear[-1][1]
    modules = dict(model.named_modules())
    if name not in modules:
        names = ", ".join(repr(n) for n, _ in linear) or "none"
        raise NCTheoryError(f"last_layer={name!r} is not a submodule of the model; its Linear layers: {names}")
    module = modules[name]
    if not isinstance(module, nn.Linear):
        raise NCTheoryError(
            f"last_layer={name!r} is a {type(module).__name__}, not a torch.nn.Linear")
    return module


class FeatureHook:
    """Records the input of ``layer`` (the penultimate features h) at every forward call.

    Use as a context manager; ``features`` holds the input of the last call, detached.
    """

    def __init__(self, layer: nn.Module):
        self.layer = layer
        self.features = None
        self._handle = None

    def _hook(self, module, inputs):
        self.features = inputs[0].detach()

    def __enter__(self):
        self._handle = self.layer.register_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc):
        self._handle.remove()
        self._handle = None
        return False


@torch.no_grad()
def penultimate_features(model: nn.Module, X, layer: nn.Module | None = None,
                         batch_size: int | None = None):
    """``(H, logits)``: the inputs of ``layer`` (default: last Linear) and the model outputs.

    Runs ``model(X)`` without gradients, in chunks of ``batch_size`` rows if given.
    ``H`` has shape (N, d) (flattened after the batch dimension).
    """
    layer = find_last_linear(model) if layer is None else layer
    chunks = [X] if batch_size is None else list(torch.split(X, batch_size))
    features, outputs = [], []
    with FeatureHook(layer) as hook:
        for chunk in chunks:
            hook.features = None
            outputs.append(model(chunk))
            if hook.features is None:
                raise NCTheoryError("the last layer was not called in the model's forward pass")
            features.append(hook.features.flatten(1))
    return torch.cat(features), torch.cat(outputs)


def build_model(name: str, in_features: int, num_classes: int, width: int | None = None,
                dtype=torch.float64) -> nn.Module:
    """``"mlp"`` / ``"gaussian_mlp"`` -> :class:`MLP`; ``"cnn"`` -> :class:`DigitsCNN` (CPU)."""
    width = 64 if width is None else width
    if name in ("mlp", "gaussian_mlp"):
        return MLP(in_features, num_classes, width=width, dtype=dtype)
    if name == "cnn":
        return DigitsCNN(num_classes, width=width, dtype=dtype)
    raise NCTheoryError(f"unknown model {name!r}; networks: 'mlp', 'cnn', 'gaussian_mlp'")
