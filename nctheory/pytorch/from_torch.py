"""``from_torch``: the spec of a real ``torch.optim`` optimizer, its state included.

Every registered spec declares the classes that implement it exactly
(:mod:`nctheory.theory.torch_mapping`): ``SGD`` with ``momentum == 0`` is plain SGD (torch
keeps no buffer then), with ``momentum > 0`` heavy ball or, with ``nesterov=True``,
Nesterov; ``Adam`` is coupled L2 decay (``decoupled_weight_decay=True``: AdamW's spec);
``AdamW`` decoupled; and whatever a spec added later declares. ``from_torch`` asks every
registered spec whether the live optimizer is one of its classes (its torch classes and its
reference implementation), so nothing here knows an optimizer by name; where several match,
the most specific mapping (the most conditions) wins -- ``Adam(betas=(0, 0), eps=1e-300)``
is SignGD's reference, any other ``Adam`` is Adam. An optimizer built by :mod:`nctheory` itself carries its spec
(``nctheory_spec``).

``maximize=True`` negates the gradient only; its row sum still vanishes (Lemma 1) and the
decay is not negated, so the row-sum dynamics are unchanged. Settings that change the
semantics and have no spec (``amsgrad``) match nothing and are refused with the reason.
The buffers of the last layer become ``initial_buffers`` (their row sums), so that
``predict`` continues from where training is.
"""

from __future__ import annotations

import numpy as np

from nctheory.errors import NCTheoryError


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
    """The registered spec whose declared torch classes match, and its hyperparameters."""
    from nctheory.optimizers import REGISTRY
    from nctheory.theory.torch_mapping import hyperparameters_from_group

    spec = getattr(torch_optimizer, "nctheory_spec", None)
    if spec is not None:
        return spec, {name: _scalar(group[name]) for name in spec.hyperparameter_names}
    matches, near = [], []
    for candidate in REGISTRY.values():
        classes = candidate.torch + ((candidate.reference_implementation,)
                                     if candidate.reference_implementation is not None else ())
        for torch_class in classes:
            missing = torch_class.mismatches(torch_optimizer, group)
            if not missing:
                matches.append((torch_class.specificity, candidate))
            elif missing != [f"not {torch_class.path}"]:
                near.append(f"{candidate.name} needs {', '.join(missing)}")
    # the most specific mapping wins: Adam with betas (0, 0) and eps 1e-300 is sign descent
    if matches:
        top = max(s for s, _ in matches)
        matches = list({c.name: c for s, c in matches if s == top}.values())
    kind = f"{type(torch_optimizer).__module__}.{type(torch_optimizer).__name__}"
    if len(matches) > 1:
        raise NCTheoryError(f"{kind} matches several specs ({', '.join(m.name for m in matches)}); "
                            f"their torch mappings overlap")
    if matches:
        return matches[0], hyperparameters_from_group(matches[0], group)
    if near:
        raise NCTheoryError(f"{kind} with these settings matches no spec: {'; '.join(near)}")
    known = sorted({tc.path for s in REGISTRY.values() for tc in s.torch})
    raise NCTheoryError(f"from_torch knows {', '.join(known)} and nctheory's own optimizers; got {kind}")


def matching_spec(torch_optimizer, group: int = 0):
    """The registered spec (without values) whose torch mapping matches parameter group
    ``group`` of ``torch_optimizer``; NCTheoryError naming the reason when none does. Reads no
    state (``from_torch`` also reads the buffers)."""
    return _spec_and_hparams(torch_optimizer, _group_for(torch_optimizer, None, group))[0]


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
    spec = spec.with_hparams(**hparams)
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
