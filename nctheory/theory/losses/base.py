"""A loss of the registry: its sympy expression, its array forms and its parameters.

A :class:`Loss` holds one per-sample loss ``l(z; y)`` three times, as functions of the
logits ``z in R^K`` of one sample:

* ``sympy_form(z, **values)``: the exact expression for true class index 0 -- the object
  of Lemma 1's shift-invariance test and the reference for the two others;
* ``array_form(Z, y, xp, **values)`` for numpy / cupy arrays: the per-sample values
  ``l(z_i; y_i)`` (shape B) and gradients ``dl/dz_i`` (shape B x K), written by hand;
* ``torch_form(Z, y, reduction, **values)`` for torch tensors: the values (autograd
  gives the gradient), with torch's own functions where torch has the loss.

``tests/test_losses.py`` checks, for every registered loss, that both array gradients
equal the lambdified gradient of the sympy expression. The loss's parameters (label
smoothing's eps, focal's gamma, soft labels' targets) are declared once, as
:class:`Parameter` objects with the default value runs use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.losses.symbolic import logits
from nctheory.theory.ops import array_namespace


@dataclass(frozen=True)
class Parameter:
    """A parameter of a loss.

    ``default``: the value used when none is given (None: it must be given, e.g. the
    per-sample soft targets). ``symbol``: the sympy expression keeps the parameter as this
    symbol unless a value is given, so Lemma 1's test covers every value of it; without a
    symbol the sympy form introduces its own symbols (soft labels' ``q``).
    """

    name: str
    default: object = None
    symbol: sp.Symbol | None = None
    doc: str = ""


@dataclass(frozen=True)
class Loss:
    """A per-sample loss ``l(z; y)`` of the logits, any K >= 2 (see the module docstring)."""

    name: str
    description: str
    sympy_form: Callable
    array_form: Callable | None = None
    torch_form: Callable | None = None
    parameters: tuple = ()
    reference: str = ""

    # -- parameters
    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise NCTheoryError(f"loss {self.name!r} has no parameter {name!r} (its parameters: {known})")

    def default(self, name: str):
        """The declared default of the parameter ``name``."""
        return self.parameter(name).default

    def values(self, **given) -> dict:
        """Every parameter's value: ``given`` over the declared defaults; raises on an unknown
        name or a parameter without default left out."""
        for name in given:
            self.parameter(name)
        values = {p.name: given.get(p.name, p.default) for p in self.parameters}
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise NCTheoryError(f"loss {self.name!r} needs {', '.join(missing)} (no default)")
        return values

    @property
    def runnable(self) -> bool:
        """Whether a training run can use it: both array forms, every parameter with a default."""
        return (self.array_form is not None and self.torch_form is not None
                and all(p.default is not None for p in self.parameters))

    # -- the three forms
    def build(self, z, **given):
        """The sympy expression in the logit symbols ``z`` (true class index 0). A parameter
        not given stays symbolic (its ``symbol``, or the sympy form's own symbols)."""
        for name in given:
            self.parameter(name)
        values = {p.name: given[p.name] if p.name in given else p.symbol
                  for p in self.parameters if p.name in given or p.symbol is not None}
        return self.sympy_form(list(z), **values)

    def expression(self, num_classes: int = 3, **given):
        """``(l(z), (z_1, .., z_K))``."""
        z = logits(num_classes)
        return self.build(z, **given), z

    def value_and_grad(self, Z, y, **given):
        """Per-sample ``(l(z_i; y_i), dl/dz_i)`` for a numpy / cupy array ``Z`` (B x K) and
        integer labels ``y`` (B): shapes ``(B,)`` and ``(B, K)``."""
        if self.array_form is None:
            raise NCTheoryError(f"loss {self.name!r} has no numpy/cupy form")
        return self.array_form(Z, y, array_namespace(Z), **self.values(**given))

    def torch_value(self, Z, y, reduction: str = "none", **given):
        """The loss of a torch tensor ``Z`` (B x K): per sample (``reduction="none"``), or
        their ``"mean"`` or ``"sum"``; differentiable by autograd."""
        if self.torch_form is None:
            raise NCTheoryError(f"loss {self.name!r} has no torch form")
        if reduction not in ("none", "mean", "sum"):
            raise NCTheoryError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        return self.torch_form(Z, y, reduction, **self.values(**given))

    def __str__(self) -> str:
        values = ", ".join(f"{p.name}={p.default}" for p in self.parameters if p.default is not None)
        return f"{self.name}({values})" if values else self.name
