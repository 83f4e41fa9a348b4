"""The registry: one module per optimizer, each defining ``SPEC``.

Adding an optimizer means adding one small module here and its name to ``_MODULES``.
"""

from __future__ import annotations

from importlib import import_module

from nctheory.errors import UnknownOptimizerError
from nctheory.theory.spec import OptimizerSpec

_MODULES = ("sgd", "sgd_momentum", "sgd_nesterov", "sgdw_momentum", "qhm",
            "signgd", "signgd_decoupled", "adam", "adamw", "lion")

REGISTRY: dict[str, OptimizerSpec] = {
    name: import_module(f"{__name__}.{name}").SPEC for name in _MODULES}


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
