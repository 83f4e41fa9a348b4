"""torch optimizers from nctheory specs.

* :class:`SpecOptimizer` is a ``torch.optim.Optimizer`` generated from ANY
  :class:`~nctheory.theory.spec.OptimizerSpec`: its ``step`` runs the spec's own update
  (``spec.step`` with :func:`nctheory.theory.ops.for_array` on torch tensors), so the update rule
  is written once (ARCHITECTURE.md). Hyperparameters are read from each parameter group at
  every step, so ``torch.optim.lr_scheduler`` works; the chain's state is kept per
  parameter in ``self.state[p]`` under the buffer names torch uses (``momentum_buffer``,
  ``exp_avg``, ``exp_avg_sq``, ``step``), which is what :func:`nctheory.from_torch` reads;
  the attribute ``nctheory_spec`` tells ``from_torch`` which spec it is.
* :func:`make_optimizer` returns the real optimizer class the spec declares (``spec.torch``:
  ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` / ...), so a run exercises the implementation
  users run, and a SpecOptimizer for specs that declare none.

Example::

    opt = make_optimizer(spec.with_hparams(lr=1e-4, weight_decay=0.5), model.parameters())
    nctheory.from_torch(opt, param=model.fc.weight)   # -> that spec, its buffers included
"""

from __future__ import annotations

import torch

from nctheory.theory import ops as ops_module
from nctheory.errors import NCTheoryError
from nctheory.theory.spec import OptimizerSpec


def _scalar(value) -> float:
    return float(value.item() if hasattr(value, "item") else value)


class SpecOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that runs ``spec.step`` on every parameter.

    Args:
        params: parameters or parameter groups, as for any torch optimizer; a group may
            override hyperparameters by their torch names (``lr``, ``momentum``, ...).
        spec: an OptimizerSpec; every hyperparameter must be set (keyword overrides
            given here are applied first with validation).
    """

    def __init__(self, params, spec: OptimizerSpec, **hparams):
        if not isinstance(spec, OptimizerSpec):
            raise NCTheoryError(f"spec must be an nctheory OptimizerSpec, got {type(spec).__name__}")
        spec = spec.with_hparams(**hparams) if hparams else spec
        spec.require_values()
        self.nctheory_spec = spec
        # (transform index, chain key, flat key) of every state entry of the chain
        self._layout = self._flat_layout(spec.init_state(torch.zeros(()), ops_module.for_array(torch.zeros(()))))
        super().__init__(params, spec.float_hp())

    def add_param_group(self, param_group: dict) -> None:
        """As torch's, and the group's hyperparameters are validated against the spec."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        names = self.nctheory_spec.hyperparameter_names
        self.nctheory_spec.with_hparams(**{n: _scalar(group[n]) for n in names})

    def _flat_layout(self, chain_state) -> list[tuple[int, str, str]]:
        keys = [(i, key) for i, sub in enumerate(chain_state) for key in sub]
        counts = {}
        for _, key in keys:
            counts[key] = counts.get(key, 0) + 1
        return [(i, key, key if counts[key] == 1 else f"{i}.{key}") for i, key in keys]

    def _unpack(self, state: dict) -> tuple:
        chain = [dict() for _ in self.nctheory_spec.chain]
        for index, key, flat in self._layout:
            chain[index][key] = state[flat]
        return tuple(chain)

    def _pack(self, state: dict, chain_state) -> None:
        for index, key, flat in self._layout:
            state[flat] = chain_state[index][key]

    @torch.no_grad()
    def step(self, closure=None):
        """One step of the spec on every parameter with a gradient; returns closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        spec = self.nctheory_spec
        names = spec.hyperparameter_names
        for group in self.param_groups:
            hp = {name: _scalar(group[name]) for name in names}
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise NCTheoryError("SpecOptimizer does not support sparse gradients")
                ops = ops_module.for_array(p.grad)
                state = self.state[p]
                if not state:
                    chain_state = spec.init_state(p.detach(), ops)
                else:
                    chain_state = self._unpack(state)
                new_p, new_state = spec.step(p.detach(), p.grad, chain_state, hp=hp, ops=ops)
                p.copy_(new_p)
                self._pack(state, new_state)
        return loss

    def __repr__(self) -> str:
        return f"SpecOptimizer({self.nctheory_spec!r})"


def make_optimizer(spec: OptimizerSpec, params, prefer_torch: bool = True) -> torch.optim.Optimizer:
    """A torch optimizer for ``spec`` over ``params``.

    With ``prefer_torch``, the spec's reference implementation (``spec.reference_class``:
    an implementation not written here -- ``torch.optim.SGD(momentum=0)`` for plain SGD,
    ``SGD(nesterov=True)`` for Nesterov, ``Adam``/``AdamW``, qhoptim's QHM, lion-pytorch's
    Lion, Adam with betas 0 for sign descent, ...) with exactly the spec's hyperparameters,
    when its library is installed. Otherwise a :class:`SpecOptimizer`, which runs the
    spec's own update rule: then a check measures the package against itself, and
    :func:`implementation_name` says so.
    """
    if not isinstance(spec, OptimizerSpec):
        raise NCTheoryError(f"spec must be an nctheory OptimizerSpec, got {type(spec).__name__}")
    spec.require_values()
    reference = spec.reference_class
    if prefer_torch and reference is not None and reference.resolve() is not None:
        return reference.build(spec, params)
    return SpecOptimizer(params, spec)


#: What a run records as its implementation when the package ran its own update rule.
OWN_RULE = "nctheory.SpecOptimizer"


def implementation_name(optimizer) -> str:
    """What ran: ``torch.optim.SGD``, ``qhoptim.pyt.qhm.QHM``, ... -- or :data:`OWN_RULE`
    for a :class:`SpecOptimizer` (the package measured against its own update rule)."""
    if isinstance(optimizer, SpecOptimizer):
        return OWN_RULE
    cls = type(optimizer)
    module = "torch.optim" if cls.__module__.startswith("torch.optim.") else cls.__module__
    return f"{module}.{cls.__name__}"
