"""Hyperparameter declarations: torch.optim names, symbols, allowed ranges.

Each optimizer spec declares its hyperparameters with the names ``torch.optim`` uses
(``lr``, ``weight_decay``, ``momentum``, ``dampening``, ``betas``, ``eps``) plus ``nu``
for quasi-hyperbolic momentum (Ma & Yarats, ICLR 2019). A declaration carries the sympy
symbol used in the symbolic engine and the interval of allowed values; values given by a
user are checked against it and converted to exact rationals (``Rational('0.1') = 1/10``),
so that everything the symbolic engine derives from them is exact.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import sympy as sp

from nctheory.errors import HyperparameterError


@dataclass(frozen=True)
class Hyperparameter:
    """A real hyperparameter constrained to an interval.

    ``low``/``high`` are the interval's ends (None for unbounded) and ``low_open``/
    ``high_open`` say whether the end itself is excluded. ``example`` is the value the
    command-line check uses when the user gives none; ``default`` is torch.optim's default,
    which :func:`nctheory.optimizer` fills in (None where torch's default is no useful
    theory value: ``lr`` and ``momentum`` stay symbolic until given).
    """

    name: str
    description: str
    example: float
    default: float | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    symbol: sp.Symbol | None = None
    torch_key: str | None = None
    torch_index: int | None = None
    #: an integer count (Newton-Schulz's ``ns_steps``): non-integers are refused and torch
    #: gets an ``int``
    integer: bool = False

    def __post_init__(self):
        if self.symbol is None:  # a declaration's own symbol: real, nonnegative when the range says so
            nonneg = self.low is not None and self.low >= 0
            object.__setattr__(self, "symbol", sp.Symbol(self.name, real=True, nonnegative=nonneg or None))

    @property
    def torch_name(self) -> str:
        """The keyword torch.optim uses (``betas`` for beta1 and beta2, which are its items 0 and 1)."""
        return self.torch_key or self.name

    def from_torch_group(self, group: dict):
        """This hyperparameter's value in a live torch ``param_group`` (None if absent)."""
        value = group.get(self.torch_name)
        if value is not None and self.torch_index is not None:
            value = value[self.torch_index]
        return None if value is None else float(value.item() if hasattr(value, "item") else value)

    def allowed(self) -> str:
        """The allowed range in interval notation, e.g. ``[0, 1)``."""
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return f"{left}{low}, {high}{right}"

    def validate(self, value, optimizer: str) -> sp.Rational:
        """Check ``value`` and return it as an exact sympy Rational.

        Floats are read as the decimal they print as (``0.1 -> 1/10``); integers,
        ``Fraction`` and sympy rationals are kept exactly (``Fraction(1, 3) -> 1/3``).
        """
        if isinstance(value, (sp.Rational, numbers.Rational)) and not isinstance(value, bool):
            exact = sp.Rational(int(value.numerator), int(value.denominator))
            self._check_range(float(exact), optimizer)
            return exact
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise HyperparameterError(
                f"{optimizer}: {self.name} must be a real number in {self.allowed()}, "
                f"got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise HyperparameterError(
                f"{optimizer}: {self.name} must be finite, in {self.allowed()}, got {value!r}")
        self._check_range(value, optimizer)
        return to_rational(value)

    def _check_range(self, value: float, optimizer: str) -> None:
        if self.integer and not float(value).is_integer():
            raise HyperparameterError(f"{optimizer}: {self.name} must be an integer in {self.allowed()}, "
                                      f"got {value!r} ({self.description})")
        too_low = self.low is not None and (value < self.low or (self.low_open and value == self.low))
        too_high = self.high is not None and (value > self.high or (self.high_open and value == self.high))
        if too_low or too_high:
            raise HyperparameterError(
                f"{optimizer}: {self.name}={value!r} is outside the allowed range "
                f"{self.allowed()} ({self.description})")


def to_rational(value: float) -> sp.Rational:
    """The exact rational a user means by a float: ``0.1 -> 1/10`` (shortest repr)."""
    return sp.Rational(repr(float(value)))


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


#: ``lr = 0`` is allowed: schedules pass through it (a linear warm-up from 0, cosine annealing
#: to 0, ``from_torch`` after a finished schedule). Every chain's step is then
#: ``W' = W`` with its buffers still updated (torch's semantics), a valid transition: for
#: linear chains ``A(eta = 0)`` (identity on ``s``, the buffers keep their own dynamics);
#: eta's symbol stays positive, so the symbolic analysis (rates, regions) is the one of a
#: moving optimizer and ``eta = 0`` enters only by substitution into the polynomial entries.
LR = Hyperparameter("lr", "learning rate eta (0 allowed: a step that moves nothing)", 0.1, low=0.0,
                    symbol=sp.Symbol("eta", positive=True))
WEIGHT_DECAY = Hyperparameter("weight_decay", "weight decay lambda", 5e-3, default=0.0, low=0.0,
                              symbol=sp.Symbol("lambda", nonnegative=True))
MOMENTUM = Hyperparameter("momentum", "momentum mu; 0 is plain SGD, where torch keeps no buffer",
                          0.9, low=0.0, high=1.0, low_open=True, high_open=True,
                          symbol=sp.Symbol("mu", nonnegative=True))
DAMPENING = Hyperparameter("dampening", "dampening tau of the momentum buffer", 0.0, default=0.0,
                           low=0.0, high=1.0, symbol=sp.Symbol("tau", nonnegative=True))
NU = Hyperparameter("nu", "quasi-hyperbolic interpolation nu between plain step (0) and momentum (1)",
                    0.7, default=0.7, low=0.0, high=1.0, symbol=sp.Symbol("nu", nonnegative=True))
BETA1 = Hyperparameter("beta1", "first-moment decay beta1 (betas[0])", 0.9, default=0.9, low=0.0, high=1.0,
                       high_open=True, symbol=sp.Symbol("beta_1", nonnegative=True), torch_key="betas",
                       torch_index=0)
BETA2 = Hyperparameter("beta2", "second-moment decay beta2 (betas[1])", 0.999, default=0.999,
                       low=0.0, high=1.0, high_open=True, symbol=sp.Symbol("beta_2", nonnegative=True),
                       torch_key="betas", torch_index=1)
EPS = Hyperparameter("eps", "denominator offset epsilon", 1e-8, default=1e-8, low=0.0,
                     symbol=sp.Symbol("epsilon", nonnegative=True))

#: The shared declarations' symbols by name, so that expressions derived from different
#: optimizers can be compared and combined (read off the declarations above).
SYMBOLS = {h.name: h.symbol for h in (LR, WEIGHT_DECAY, MOMENTUM, DAMPENING, NU, BETA1, BETA2, EPS)}
