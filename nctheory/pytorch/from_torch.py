"""``from_torch``: the spec of a real ``torch.optim`` optimizer, its state included.

Mapping (semantics read from torch/optim/sgd.py, adam.py, adamw.py):

* ``SGD`` with ``momentum == 0`` -> ``sgd`` (torch keeps no buffer then);
  ``momentum > 0`` -> ``sgd_momentum``, or ``sgd_nesterov`` with ``nesterov=True``.
* ``Adam`` -> ``adam`` (coupled L2 decay; ``decoupled_weight_decay=True`` -> ``adamw``).
* ``AdamW`` -> ``adamw``.
* An optimizer built by :mod:`nctheory` itself carries its spec (``nctheory_spec``).

``maximize=True`` negates the gradient only; its row sum still vanishes (Lemma 1) and the
decay is not negated, so the row-sum dynamics are unchanged. ``amsgrad`` has no spec and
is refused. The momentum buffer of the last layer becomes ``initial_buffers`` (its row
sums), so that ``predict`` continues from where training is.
"""

from __future__ import annotations

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.optimizers import get_spec


def _group_for(torch_optimizer, param, group):
    groups = torch_optimizer.param_groups
    if group is not None:
        if not isinstance(group, int) or not 0 <= group < len(groups):
            raise NCTheoryError(f"group must be an index in [0, {len(groups) - 1}], got {group!r}")
        return groups[group]
    if param is not None:
        for g in groups:
            if any(p is param for p in g["params"]):
                return g
        raise NCTheoryError("param is not in any parameter group of this optimizer")
    if len(groups) > 1:
        raise NCTheoryError(
            f"the optimizer has {len(groups)} parameter groups with possibly different "
            f"hyperparameters; say which holds the last layer: from_torch(opt, param=model.fc.weight) "
            f"or from_torch(opt, group=INDEX)")
    return groups[0]


def _scalar(value) -> float:
    return float(value.item() if hasattr(value, "item") else value)


def _spec_and_hparams(torch_optimizer, group):
    kind = type(torch_optimizer).__name__
    spec = getattr(torch_optimizer, "nctheory_spec", None)
    if spec is not None:
        return spec, {name: _scalar(group[name]) for name in spec.hyperparameter_names}
    if kind == "SGD":
        hp = {"lr": _scalar(group["lr"]), "weight_decay": _scalar(group["weight_decay"])}
        if group["momentum"] == 0:
            return "sgd", hp
        hp.update(momentum=_scalar(group["momentum"]), dampening=_scalar(group["dampening"]))
        return ("sgd_nesterov" if group["nesterov"] else "sgd_momentum"), hp
    if kind in ("Adam", "AdamW"):
        if group.get("amsgrad", False):
            raise NCTheoryError(f"torch.optim.{kind} with amsgrad=True has no nctheory spec")
        beta1, beta2 = (_scalar(b) for b in group["betas"])
        hp = {"lr": _scalar(group["lr"]), "beta1": beta1, "beta2": beta2,
              "eps": _scalar(group["eps"]), "weight_decay": _scalar(group["weight_decay"])}
        decoupled = kind == "AdamW" or group.get("decoupled_weight_decay", False)
        return ("adamw" if decoupled else "adam"), hp
    raise NCTheoryError(
        f"from_torch knows torch.optim.SGD, Adam, AdamW and nctheory's own optimizers; "
        f"got {type(torch_optimizer).__module__}.{kind}")


def from_torch(torch_optimizer, param=None, group=None):
    """The :class:`~nctheory.theory.spec.OptimizerSpec` matching ``torch_optimizer``.

    Args:
        torch_optimizer: a ``torch.optim.Optimizer``.
        param: the last layer's weight (a parameter of the optimizer). Needed to read
            its momentum buffer once the optimizer has stepped, and to pick its group.
        group: alternatively, the index of the parameter group holding the last layer.
    """
    g = _group_for(torch_optimizer, param, group)
    spec, hparams = _spec_and_hparams(torch_optimizer, g)
    spec = (get_spec(spec) if isinstance(spec, str) else spec).with_hparams(**hparams)
    buffer_names = [b for t in spec.chain for b in t.buffers]
    if not spec.is_linear or not buffer_names:
        return spec
    states = [torch_optimizer.state.get(p, {}) for p in g["params"]]
    started = [s for s in states if s.get(buffer_names[0]) is not None]
    if not started:
        return spec
    if param is None:
        raise NCTheoryError(
            "the optimizer has stepped, so its momentum buffers hold state; pass param= "
            "(the last layer's weight) so that its buffer's row sums can be read")
    state = torch_optimizer.state.get(param, {})
    if state.get(buffer_names[0]) is None:
        return spec
    buffers = np.stack([state[b].detach().double().sum(0).cpu().numpy() for b in buffer_names])
    from dataclasses import replace

    return replace(spec, initial_buffers=buffers)
