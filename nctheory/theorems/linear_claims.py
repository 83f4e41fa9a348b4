"""The claims of THEORY.md section 3, typed from its table: one :class:`RecurrenceClaim` per
linear spec (SGD, heavy ball, Nesterov, SGDW, QHM). These are the independent statements
that :mod:`nctheory.theorems.linear_recurrences` checks the engine against -- typed by
hand on purpose, never derived from the specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from nctheory.optimizers import qhm, sgd, sgd_momentum, sgd_nesterov, sgdw_momentum
from nctheory.theorems.algebra import A_, ETA, LAMBDA, MU, NU, OPEN_UNIT_A, TAU, Region
from nctheory.theory.hyperparams import SYMBOLS
from nctheory.theory.symbolic.rowsum import STEP, X

S, U = sp.symbols("s u")
S0 = sp.Symbol("s_0")
SQRT_A = sp.sqrt(A_)


@dataclass(frozen=True)
class RecurrenceClaim:
    """What THEORY.md claims about one linear optimizer, typed from its table.

    ``update`` / ``first_update``: the new state ``(s', u')`` as expressions in the old
    ``(s, u)`` (just ``(s',)`` without a buffer), for a regular step and for the first
    step from a fresh optimizer. ``charpoly`` in ``x``; regions in ``a = eta lambda``;
    ``optimal`` = ``(momentum or None, rate)`` at dampening 0; ``closed_form`` an
    explicit ``s_t`` in ``t`` and ``s_0`` when THEORY.md implies one, else None (then the
    claim is the two-root form ``c_1 r_1^t + c_2 r_2^t``); ``references`` =
    ``((hyperparameters, rate as a decimal string), ...)``; ``contrast`` the spec with
    the opposite placement of momentum / decay, whose polynomial must differ.
    """

    spec_name: str
    title: str
    recurrence_text: str
    update: tuple
    first_update: tuple
    charpoly: sp.Expr
    stability: Region
    accelerations: tuple
    optimal: tuple | None = None
    closed_form: sp.Expr | None = None
    references: tuple = ()
    contrast: str | None = None
    sample_values: dict = field(default_factory=dict)

    @property
    def state(self) -> tuple:
        return (S, U)[:len(self.update)]

    def matrix(self) -> sp.Matrix:
        return sp.Matrix(list(self.update)).jacobian(list(self.state))

    def first_matrix(self) -> sp.Matrix:
        return sp.Matrix(list(self.first_update)).jacobian(list(self.state))


a = ETA * LAMBDA
_POSITIVE_ETA_LAMBDA = ("lambda >= 0, eta > 0 (a = eta lambda >= 0)",)
_ACC_HYPOTHESES = ("0 < a = eta lambda < 1, where SGD's rate is 1 - a > 0",)
_MOMENTUM_HYPOTHESES = ("momentum mu >= 0, dampening tau >= 0, nu >= 0 (declared ranges)",)

SGD = RecurrenceClaim(
    sgd.SPEC.name, "SGD with coupled weight decay", "s' = (1 - a) s",
    update=((1 - a) * S,), first_update=((1 - a) * S,),
    charpoly=X - (1 - a),
    stability=Region("0 < a < 2", (A_, 2 - A_), _POSITIVE_ETA_LAMBDA),
    accelerations=(Region("never (SGD is the baseline: rate 1 - a)", (), _ACC_HYPOTHESES,
                          parametrisation=OPEN_UNIT_A, never=True),),
    closed_form=(1 - a) ** STEP * S0,
    references=(({"lr": 0.1, "weight_decay": 5e-3}, "0.9995"),),
    sample_values={"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20)},
)

HEAVY_BALL = RecurrenceClaim(
    sgd_momentum.SPEC.name, "heavy-ball momentum with dampening, coupled decay",
    "u' = mu u + (1 - tau) lambda s;  s' = s - eta u'  (first step: u' = lambda s)",
    update=(S - ETA * (MU * U + (1 - TAU) * LAMBDA * S), MU * U + (1 - TAU) * LAMBDA * S),
    first_update=(S - ETA * LAMBDA * S, LAMBDA * S),
    charpoly=X ** 2 - (1 + MU - ETA * (1 - TAU) * LAMBDA) * X + MU,
    stability=Region("0 <= mu < 1 and 0 < eta (1 - tau) lambda < 2 (1 + mu)",
                     (1 - MU, A_ * (1 - TAU), 2 * (1 + MU) - A_ * (1 - TAU)),
                     _POSITIVE_ETA_LAMBDA + _MOMENTUM_HYPOTHESES),
    accelerations=(
        Region("(tau = 0) 0 < mu < (1 - a)^2", ((1 - A_) ** 2 - MU, MU),
               _ACC_HYPOTHESES + ("tau = 0",) + _MOMENTUM_HYPOTHESES, {"dampening": 0}, OPEN_UNIT_A),
        Region("(any tau) tau (1 - a) < mu < (1 - a)^2", ((1 - A_) ** 2 - MU, MU - TAU * (1 - A_)),
               _ACC_HYPOTHESES + _MOMENTUM_HYPOTHESES, {}, OPEN_UNIT_A, source="derived here"),
    ),
    optimal=((1 - SQRT_A) ** 2, 1 - SQRT_A),
    references=(({"lr": 0.1, "weight_decay": 5e-3, "momentum": 0.9}, "0.99475069"),
                ({"lr": 0.05, "weight_decay": 1e-2, "momentum": 0.8}, "0.99747442")),
    contrast=sgdw_momentum.SPEC.name,
    sample_values={"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20),
                   "momentum": sp.Rational(9, 10), "dampening": sp.Rational(3, 10)},
)

NESTEROV = RecurrenceClaim(
    sgd_nesterov.SPEC.name, "Nesterov momentum (torch's nesterov=True), coupled decay",
    "u' = mu u + (1 - tau) lambda s;  s' = s - eta (lambda s + mu u')  (first step: u' = lambda s)",
    update=(S - ETA * (LAMBDA * S + MU * (MU * U + (1 - TAU) * LAMBDA * S)), MU * U + (1 - TAU) * LAMBDA * S),
    first_update=(S - ETA * (LAMBDA * S + MU * LAMBDA * S), LAMBDA * S),
    charpoly=X ** 2 - (1 + MU - a * (1 + MU * (1 - TAU))) * X + MU * (1 - a),
    stability=Region("|mu (1 - a)| < 1, a (1 - mu tau) > 0, a (1 + mu (2 - tau)) < 2 (1 + mu)",
                     (1 - MU * (1 - A_), 1 + MU * (1 - A_), A_ * (1 - MU * TAU),
                      2 * (1 + MU) - A_ * (1 + MU * (2 - TAU))),
                     _POSITIVE_ETA_LAMBDA + _MOMENTUM_HYPOTHESES, source="derived here"),
    accelerations=(
        Region("(tau = 0) 0 < mu < 1 - a", (1 - A_ - MU, MU),
               _ACC_HYPOTHESES + ("tau = 0 (torch requires it)",) + _MOMENTUM_HYPOTHESES,
               {"dampening": 0}, OPEN_UNIT_A),
    ),
    optimal=((1 - SQRT_A) / (1 + SQRT_A), 1 - SQRT_A),
    references=(({"lr": 0.1, "weight_decay": 5e-3, "momentum": 0.9}, "0.99477680"),
                ({"lr": 0.05, "weight_decay": 1e-2, "momentum": 0.8}, "0.99747958")),
    contrast=sgd_momentum.SPEC.name,
    sample_values={"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20),
                   "momentum": sp.Rational(9, 10), "dampening": 0},
)

SGDW = RecurrenceClaim(
    sgdw_momentum.SPEC.name, "SGD momentum with decoupled weight decay (SGDW)",
    "u' = mu u;  s' = (1 - a) s - eta u'  (first step: u' = 0, the gradient's row sum)",
    update=((1 - a) * S - ETA * MU * U, MU * U),
    first_update=((1 - a) * S, sp.Integer(0) * S),
    charpoly=(X - (1 - a)) * (X - MU),
    stability=Region("|mu (1 - a)| < 1, a (1 - mu) > 0, a < 2 (for mu >= 0: mu < 1 and 0 < a < 2; "
                     "the roots are mu and 1 - a)",
                     (1 - MU * (1 - A_), 1 + MU * (1 - A_), A_ * (1 - MU), 2 - A_),
                     _POSITIVE_ETA_LAMBDA + _MOMENTUM_HYPOTHESES, source="derived here"),
    accelerations=(Region("never: rate max(1 - a, mu) >= 1 - a", (), _ACC_HYPOTHESES,
                          parametrisation=OPEN_UNIT_A, never=True),),
    optimal=(None, 1 - A_),
    closed_form=(1 - a) ** STEP * S0,
    references=(({"lr": 0.1, "weight_decay": 5e-3, "momentum": 0.9}, "0.9995"),),
    contrast=sgd_momentum.SPEC.name,
    sample_values={"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20),
                   "momentum": sp.Rational(9, 10), "dampening": sp.Rational(3, 10)},
)

QHM = RecurrenceClaim(
    qhm.SPEC.name, "quasi-hyperbolic momentum, coupled decay",
    "u' = mu u + (1 - mu) lambda s;  s' = s - eta ((1 - nu) lambda s + nu u')  (b_0 = 0)",
    update=(S - ETA * ((1 - NU) * LAMBDA * S + NU * (MU * U + (1 - MU) * LAMBDA * S)),
            MU * U + (1 - MU) * LAMBDA * S),
    first_update=(S - ETA * ((1 - NU) * LAMBDA * S + NU * (1 - MU) * LAMBDA * S), (1 - MU) * LAMBDA * S),
    charpoly=X ** 2 - (1 + MU - a * (1 - MU * NU)) * X + MU * (1 - a * (1 - NU)),
    stability=Region("|mu (1 - a (1 - nu))| < 1, a (1 - mu) > 0, a (1 + mu - 2 mu nu) < 2 (1 + mu)",
                     (1 - MU * (1 - A_ * (1 - NU)), 1 + MU * (1 - A_ * (1 - NU)), A_ * (1 - MU),
                      2 * (1 + MU) - A_ * (1 + MU - 2 * MU * NU)),
                     _POSITIVE_ETA_LAMBDA + _MOMENTUM_HYPOTHESES, source="derived here"),
    accelerations=(
        Region("0 < nu and 0 < mu < (1 - a)^2 / (1 - a (1 - nu))",
               ((1 - A_) ** 2 - MU * (1 - A_ * (1 - NU)), MU * NU),
               _ACC_HYPOTHESES + _MOMENTUM_HYPOTHESES, {}, OPEN_UNIT_A, source="derived here"),
    ),
    contrast=sgd_momentum.SPEC.name,
    sample_values={"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20),
                   "momentum": sp.Rational(9, 10), "nu": sp.Rational(7, 10)},
)

def _iterate_claim(claim: RecurrenceClaim, s0, steps: int) -> np.ndarray:
    """THEORY.md's recurrence as typed in ``claim``, at its sample values, iterated in float64
    from ``(s_0, 0)`` (first step: ``first_matrix``): row sums of shape (steps + 1, d)."""
    values = {SYMBOLS[name]: value for name, value in claim.sample_values.items()}
    first = np.array(claim.first_matrix().subs(values).tolist(), dtype=np.float64)
    regular = np.array(claim.matrix().subs(values).tolist(), dtype=np.float64)
    state = np.zeros((first.shape[0], len(s0)))
    state[0] = s0
    out = [state[0].copy()]
    for step in range(steps):
        state = (first if step == 0 else regular) @ state
        out.append(state[0].copy())
    return np.array(out)


CLAIMS = {claim.spec_name: claim for claim in (SGD, HEAVY_BALL, NESTEROV, SGDW, QHM)}
