"""torch optimizers from nctheory specs.

* :class:`SpecOptimizer` is a ``torch.optim.Optimizer`` generated from ANY
  :class:`~nctheory.theory.spec.OptimizerSpec`: its ``step`` runs the spec's own update
  (``spec.step`` with :func:`nctheory.theory.ops.for_array` on torch tensors), so the update rule
  is written once (ARCHITECTURE.md). Hyperparameters are read from each parameter group at
  every step, so ``torch.optim.lr_scheduler`` works; the chain's state is kept per
  parameter in ``self.state[p]`` under the buffer names torch uses (``momentum_buffer``,
  ``exp_avg``, ``exp_avg_sq``, ``step``), which is what :func:`nctheory.from_torch` reads;
  the attribute ``nctheory_spec`` tells ``from_torch`` which spec it is.
* :func:`make_optimizer` returns the real ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` where
  the spec names a ``torch_class`` (so a run exercises the implementation users run), and
  a SpecOptimizer otherwise (signgd, signgd_decoupled, sgdw_momentum, qhm, lion).

Example::

    opt = make_optimizer(nctheory.optimizer("lion", lr=1e-4, weight_decay=0.5), model.parameters())
    nctheory.from_torch(opt, param=model.fc.weight)   # -> the lion spec
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


def _torch_sgd(params, hp, nesterov):
    return torch.optim.SGD(params, lr=hp["lr"], momentum=hp.get("momentum", 0.0),
                           dampening=hp.get("dampening", 0.0), weight_decay=hp["weight_decay"],
                           nesterov=nesterov)


def _torch_adam(cls):
    def build(params, hp, nesterov):
        return cls(params, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                   weight_decay=hp["weight_decay"])

    return build


# spec name -> (builder, nesterov). The SGD entries pin the exact torch semantics:
# sgd has momentum=0 (torch keeps no buffer), sgd_nesterov has nesterov=True.
_TORCH_BUILDERS = {
    "sgd": (_torch_sgd, False),
    "sgd_momentum": (_torch_sgd, False),
    "sgd_nesterov": (_torch_sgd, True),
    "adam": (_torch_adam(torch.optim.Adam), False),
    "adamw": (_torch_adam(torch.optim.AdamW), False),
}


def make_optimizer(spec: OptimizerSpec, params, prefer_torch: bool = True) -> torch.optim.Optimizer:
    """A torch optimizer for ``spec`` over ``params``.

    With ``prefer_torch`` and a spec whose ``torch_class`` is set, the real
    ``torch.optim`` class with exactly the spec's hyperparameters: ``SGD(momentum=0)`` for
    ``sgd``; ``SGD(momentum, dampening)`` for ``sgd_momentum``; ``SGD(nesterov=True)`` for
    ``sgd_nesterov``; ``Adam`` / ``AdamW`` with ``betas=(beta1, beta2)``, ``eps`` and
    ``weight_decay``. Otherwise a :class:`SpecOptimizer`.
    """
    if not isinstance(spec, OptimizerSpec):
        raise NCTheoryError(f"spec must be an nctheory OptimizerSpec, got {type(spec).__name__}")
    spec.require_values()
    if prefer_torch and spec.torch_class is not None:
        if spec.name not in _TORCH_BUILDERS:
            raise NCTheoryError(
                f"{spec.name}: torch_class={spec.torch_class!r} but make_optimizer has no mapping "
                f"for it; use prefer_torch=False")
        builder, nesterov = _TORCH_BUILDERS[spec.name]
        return builder(params, spec.float_hp(), nesterov)
    return SpecOptimizer(params, spec)
