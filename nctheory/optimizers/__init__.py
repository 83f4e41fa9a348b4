"""The registry: one module per optimizer, each defining ``SPEC``.

Adding an optimizer means adding one small module here -- and nothing else: modules are
discovered, registered under their module name (which must equal ``SPEC.name``) in
alphabetical order, and everything else (recurrence, family, verdict, check protocol,
torch mapping, command-line options, LaTeX) is derived from the spec.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

from nctheory.errors import NCTheoryError, UnknownOptimizerError
from nctheory.theory.spec import OptimizerSpec


def _discover() -> dict:
    registry = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
        spec = getattr(import_module(f"{__name__}.{module}"), "SPEC", None)
        if not isinstance(spec, OptimizerSpec):
            raise NCTheoryError(f"nctheory.optimizers.{module} must define SPEC, an OptimizerSpec")
        if spec.name != module:
            raise NCTheoryError(f"nctheory.optimizers.{module}: SPEC.name is {spec.name!r}, not the module's name")
        registry[module] = spec
    return registry


REGISTRY: dict[str, OptimizerSpec] = _discover()


def names() -> list[str]:
    """The registered optimizer names, in a fixed order."""
    return list(REGISTRY)


def get_spec(name: str) -> OptimizerSpec:
    """The unbound spec (all hyperparameters symbolic) registered under ``name``."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise UnknownOptimizerError(
            f"unknown optimizer {name!r}; known optimizers: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def optimizer(name: str, **hparams) -> OptimizerSpec:
    """The spec of ``name`` with the given hyperparameters (torch.optim's names).

    Hyperparameters not given take torch.optim's default where it has one
    (``dampening=0``, ``weight_decay=0``, ``betas=(0.9, 0.999)``, ``eps=1e-8``; QHM's
    ``nu=0.7`` from Ma & Yarats); ``lr`` and ``momentum`` stay symbolic until given. Use
    :func:`get_spec` for the spec with every hyperparameter symbolic.

    >>> optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3).rate()  # doctest: +ELLIPSIS
    0.99475069...
    """
    spec = get_spec(name)
    given = set(hparams) | ({"beta1", "beta2"} if "betas" in hparams else set())
    defaults = {name: value for name, value in spec.default_values().items() if name not in given}
    return spec.with_hparams(**defaults, **hparams)
