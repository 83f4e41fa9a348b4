"""Networks whose last layer is ``z = W h + b``, and access to that layer.

* :func:`build_model` / :data:`ARCHITECTURES` and the networks :class:`MLP` (the setting of
  THEORY.md: a 3-layer ReLU MLP), :class:`SmallCNN` / :class:`DigitsCNN`,
  :class:`SmallResNet`, torchvision's ResNet-18 and :class:`SmallVGG`: defined in
  :mod:`nctheory.runs.architectures`, re-exported here.
* :func:`find_last_linear`: the last ``torch.nn.Linear`` of a module (or a named one).
* :func:`classifier_from_output`: the parameter that produces the logits, found by
  following the forward pass (the autograd graph of the model's output) -- an
  ``nn.Linear``, a 1x1 ``nn.Conv2d`` or a bare ``nn.Parameter`` head; used by the tracker.
* :class:`FeatureHook` / :func:`penultimate_features`: the features ``h`` feeding the last
  layer, read with a forward pre-hook on it, so any architecture works unchanged.

Construct models under ``torch.manual_seed`` and with ``dtype=`` for reproducible float64
initialisation (torch.nn's default Kaiming-uniform initialisation).
"""

from __future__ import annotations

import torch
from torch import nn

from nctheory.errors import NCTheoryError
from nctheory.runs.architectures import (ARCHITECTURES, MLP, DigitsCNN, SmallCNN, SmallResNet, SmallVGG,  # noqa: F401
                                         build_model, count_parameters)


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


# ---------------------------------------------------------------------- the classifier of any model
def logits_of(output):
    """The logits tensor in a model's output: the tensor itself, the first tensor of a tuple
    or list, or the ``logits`` entry / attribute of a dict-like output; None if none."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) or hasattr(output, "logits"):
        value = output.get("logits") if isinstance(output, dict) else output.logits
        return value if isinstance(value, torch.Tensor) else None
    if isinstance(output, (tuple, list)):
        return next((o for o in output if isinstance(o, torch.Tensor)), None)
    return None


def parameter_names(model: nn.Module) -> dict:
    """``id(parameter) -> qualified name`` (the first name of a shared parameter)."""
    out = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        out.setdefault(id(p), name)
    return out


def owning_module(model: nn.Module, param) -> nn.Module | None:
    """The submodule that holds ``param`` directly (None if none)."""
    return next((m for m in model.modules() if any(q is param for q in m.parameters(recurse=False))), None)


def classifier_matrix(param):
    """The classifier as a K x d matrix: a Linear weight as is, a 1x1 convolution's
    ``(K, d, 1, 1)`` weight flattened to ``(K, d)``; NCTheoryError otherwise."""
    if param.ndim == 2:
        return param
    if param.ndim == 4 and param.shape[2:] == (1, 1):
        return param.reshape(param.shape[0], param.shape[1])
    raise NCTheoryError(f"the classifier must be a K x d matrix (nn.Linear, a 1x1 nn.Conv2d or a 2-D "
                        f"nn.Parameter), got a parameter of shape {tuple(param.shape)}")


def classifier_from_output(model: nn.Module, output, allowed=None):
    """``(name, parameter)``: the parameter ``W`` that produces the logits ``z = W h (+ b)``.

    Follows the forward pass backwards: a breadth-first walk of the autograd graph from
    the logits (``output``, or its tensor per :func:`logits_of`; K = its last dimension)
    to the leaves. The classifier is the parameter with K rows nearest to the logits --
    an ``nn.Linear`` weight, a 1x1 ``nn.Conv2d`` weight (``(K, d, 1, 1)``) or a bare
    ``nn.Parameter`` used as ``h @ W.T`` -- so hidden layers, and parameters declared but
    not used (an unused projection), are never taken. Raises NCTheoryError, naming the
    candidates and their shapes, when two such parameters are equally near (say which
    with ``last_layer=``), when none is found, and when the one found is used more than once
    in the forward pass (weight tying: its gradient then has row sums that Lemma 1 does
    not make vanish). ``allowed``: the parameters that may be chosen (the optimizer's).
    """
    logits = logits_of(output)
    if logits is None or logits.grad_fn is None:
        raise NCTheoryError("the model's output has no autograd graph (a forward pass under torch.no_grad or "
                            "an output that is not a tensor): the classifier cannot be found from it")
    if logits.ndim < 2:
        raise NCTheoryError(f"the model's output must be logits of shape (N, K), got shape {tuple(logits.shape)}")
    K = int(logits.shape[-1])
    allowed_ids = None if allowed is None else {id(p) for p in allowed}
    names = parameter_names(model)
    uses: dict = {}  # id(param) -> (param, depth of first use, number of uses)
    frontier, seen, depth = [logits.grad_fn], {logits.grad_fn}, 0
    while frontier:
        following = []
        for node in frontier:
            for child, _ in getattr(node, "next_functions", ()):
                if child is None:
                    continue
                variable = getattr(child, "variable", None)
                if variable is not None:  # AccumulateGrad: a leaf parameter
                    param, first, count = uses.get(id(variable), (variable, depth, 0))
                    uses[id(variable)] = (param, first, count + 1)
                elif child not in seen:
                    seen.add(child)
                    following.append(child)
        frontier, depth = following, depth + 1

    def shaped(p):
        return (p.ndim == 2 or (p.ndim == 4 and tuple(p.shape[2:]) == (1, 1))) and p.shape[0] == K

    candidates = [(first, p, count) for p, first, count in uses.values()
                  if shaped(p) and (allowed_ids is None or id(p) in allowed_ids)]
    if not candidates:
        raise NCTheoryError(f"no parameter with K = {K} rows (nn.Linear, 1x1 nn.Conv2d or a 2-D nn.Parameter) "
                            f"produces the model's logits; pass last_layer= (a submodule or parameter name)")
    nearest = min(c[0] for c in candidates)
    chosen = [c for c in candidates if c[0] == nearest]

    def label(p):
        return f"{names.get(id(p), '<not a parameter of the model>')} {tuple(p.shape)}"

    if len(chosen) > 1:
        raise NCTheoryError("the logits come from several parameters with K = "
                            f"{K} rows, equally near the output: {', '.join(label(p) for _, p, _ in chosen)}; "
                            f"say which is the classifier with last_layer=NAME")
    _, param, count = chosen[0]
    if count > 1:
        raise NCTheoryError(f"the classifier {label(param)} is used {count} times in the forward pass (tied "
                            f"weights?): its gradient is not only the classifier's, so Lemma 1's row-sum identity "
                            f"need not hold; pass last_layer= to track it anyway")
    return names.get(id(param), "<unnamed>"), param


def named_classifier(model: nn.Module, name: str):
    """``(name, parameter)`` of ``last_layer=name``: a submodule with a ``weight`` (Linear,
    1x1 Conv2d) or a parameter's qualified name (a bare ``nn.Parameter`` head)."""
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    if name in modules and name != "" and isinstance(getattr(modules[name], "weight", None), torch.Tensor):
        return f"{name}.weight", modules[name].weight
    if name in params:
        return name, params[name]
    heads = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    raise NCTheoryError(f"last_layer={name!r} is not a submodule with a weight, nor a parameter of the model; "
                        f"its Linear/Conv2d layers: {', '.join(map(repr, heads)) or 'none'}; its 2-D parameters: "
                        + (", ".join(repr(n) for n, p in params.items() if p.ndim == 2) or "none"))
