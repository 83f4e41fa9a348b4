"""What the row-sum recurrence says: stability, acceleration, optimal momentum, closed form.

Everything here starts from :func:`nctheory.theory.symbolic.rowsum.row_sum_dynamics` (derived
from the spec by Lemma 1) and stays exact: conditions are polynomial inequalities
(Schur-Cohn), optimal momenta are roots of the discriminant, the closed form is fitted in
exact arithmetic, and a schedule of any hyperparameter is a product of exact per-step
matrices ``A_t`` (:mod:`nctheory.theory.symbolic.schedules`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.hyperparams import SYMBOLS, to_rational
from nctheory.theory.symbolic.radicals import is_zero_with_square_root
from nctheory.theory.symbolic.rowsum import STEP, X, row_sum_dynamics
from nctheory.theory.symbolic.schedules import merge_lr_schedule, transitions
from nctheory.theory.symbolic.schur_cohn import Conditions, schur_cohn_inequalities

ETA, LAMBDA, MU = SYMBOLS["lr"], SYMBOLS["weight_decay"], SYMBOLS["momentum"]
A = sp.Symbol("a", positive=True)  # a = eta * lambda


def stability_conditions(spec) -> Conditions:
    """Schur-Cohn conditions for spectral radius < 1 (row sums converge to 0).

    Exact polynomial inequalities in the hyperparameters left symbolic; with every
    hyperparameter set, ``.evaluate()`` decides stability exactly.
    """
    poly = row_sum_dynamics(spec).charpoly(X)
    return Conditions(f"{spec.name}: every root of {poly} has |x| < 1",
                      tuple(schur_cohn_inequalities(poly, X)))


def sgd_rate_expression():
    """Rate of plain SGD with the same lr and weight decay: 1 - eta lambda."""
    return 1 - ETA * LAMBDA


def acceleration_conditions(spec) -> Conditions:
    """Conditions for ``rate(spec) < 1 - eta lambda`` (strictly faster NC0 decay than SGD).

    Hypothesis ``0 < eta lambda < 1``, where SGD's rate is ``1 - eta lambda > 0``. Every
    root of the characteristic polynomial p lies in |x| < r = 1 - eta lambda iff every
    root of p(r y) lies in the unit disk: Schur-Cohn applied to p(r y).
    """
    poly = row_sum_dynamics(spec).charpoly(X)
    radius = sgd_rate_expression().subs(spec.substitution())
    inequalities = [sp.factor(sp.cancel(e)) for e in schur_cohn_inequalities(poly, X, radius=radius)]
    return Conditions(f"{spec.name}: every root of {poly} has |x| < {radius}", tuple(inequalities),
                      hypotheses=("0 < eta*lambda < 1",))


@dataclass(frozen=True)
class OptimalMomentum:
    """The momentum that minimises the rate, and that rate (a double root)."""

    momentum: sp.Expr
    rate: sp.Expr
    discriminant: sp.Expr
    candidates: tuple
    beats_sgd: bool = True  # False when the best rate is no better than 1 - eta lambda (SGDW)

    def __iter__(self):
        return iter((self.momentum, self.rate))


def optimal_momentum(spec, sample=None) -> OptimalMomentum:
    """The momentum minimising the spectral radius of a quadratic recurrence.

    For ``x^2 + a_1(mu) x + a_0(mu)`` the radius is smallest where the two roots meet:
    the discriminant ``a_1^2 - 4 a_0`` vanishes (Polyak 1964; for Nesterov, Lessard,
    Recht & Packard 2016). Among the roots of the discriminant in mu, the one in
    ``[0, 1)`` giving the smallest double root ``-a_1 / 2`` is returned, chosen at
    ``sample`` (values for the other symbols; default eta = 1/10, lambda = 1/20 and the
    spec's set values; the other hyperparameters at their declared defaults). Optimality itself is proved in ``proofs/`` for each spec.
    ``beats_sgd`` is False when even that rate is no better than plain SGD's
    ``1 - eta lambda`` (SGDW: rate ``max(1 - eta lambda, mu)``, so every mu <= 1 - eta lambda
    ties and none accelerates).
    """
    if "momentum" not in spec.hyperparameter_names:
        raise NCTheoryError(f"{spec.name} has no momentum hyperparameter to optimise")
    if spec.values.get("weight_decay", 1) == 0:
        raise NCTheoryError(
            f"{spec.name}: weight_decay = 0, so the row sums obey s_(t+1) = s_t whatever the momentum (Lemma 1: "
            f"the gradient's row sums vanish and nothing else moves them); every momentum gives rate 1 and none "
            f"is optimal. Give weight_decay > 0, e.g. nctheory.optimizer({spec.name!r}, weight_decay=5e-4).")
    spec = spec.without("momentum")
    poly = sp.Poly(row_sum_dynamics(spec).charpoly(X), X)
    if poly.degree() != 2:
        raise NCTheoryError(f"{spec.name}: optimal momentum is derived for quadratic recurrences only")
    _, a1, a0 = poly.all_coeffs()
    disc = sp.factor(a1 ** 2 - 4 * a0)
    candidates = [sp.simplify(c) for c in sp.solve(disc, MU)]
    # the other hyperparameters (dampening, nu, ...) at their declared library defaults
    point = {h.symbol: to_rational(h.default if h.default is not None else h.example)
             for h in spec.hyperparameters if h.name not in ("lr", "weight_decay", "momentum")}
    point.update({ETA: sp.Rational(1, 10), LAMBDA: sp.Rational(1, 20)})
    point.update(sample or {})
    best = None
    for cand in candidates:
        value = cand.subs(point)
        if not value.is_real or not (0 <= value < 1):
            continue
        rate = sp.simplify(-a1.subs(MU, cand) / 2)
        rate_value = abs(rate.subs(point))
        if best is None or rate_value < best[2]:
            best = (cand, rate, rate_value)
    if best is None:
        raise NCTheoryError(f"{spec.name}: no root of the discriminant {disc} in mu lies in [0, 1)")
    beats_sgd = bool(best[2] < sgd_rate_expression().subs(spec.substitution()).subs(point))
    return OptimalMomentum(best[0], best[1], disc, tuple(candidates), beats_sgd)


@dataclass(frozen=True)
class ClosedForm:
    """``s_t = sum_i p_i(t) r_i^t`` for ``t >= valid_from`` (exact)."""

    expression: sp.Expr
    t: sp.Symbol
    valid_from: int
    roots: dict

    def __call__(self, step: int):
        if step < self.valid_from:
            raise ValueError(f"the closed form holds for t >= {self.valid_from}, got t={step}")
        return sp.simplify(self.expression.subs(self.t, step))


def iterate_exact(spec, s0, steps: int, lrs=None, buffers0=None, schedules=None) -> list:
    """Row sums s_0..s_steps by iterating the exact per-step matrices ``A_t`` (torch's first-step rule).

    ``schedules`` gives hyperparameters per step (:mod:`nctheory.theory.symbolic.schedules`);
    ``lrs`` is the shorthand for ``schedules={"lr": lrs}``. ``buffers0``: row sums of
    already initialised buffers (then every step uses ``A(h_t; initialised)``).
    """
    schedules = merge_lr_schedule(spec, schedules, lrs, "lrs")
    n = len(row_sum_dynamics(spec.without(*(schedules or {}))).state)
    state = sp.Matrix([s0] + list(buffers0 if buffers0 is not None else [0] * (n - 1)))
    out = [state[0]]
    for matrix in transitions(spec, steps, schedules, buffers_initialised=buffers0 is not None):
        state = (matrix * state).applyfunc(sp.expand)
        out.append(state[0])
    return out


def closed_form(spec, s0=None, t=None) -> ClosedForm:
    """The exact closed form of the row-sum trajectory from a fresh optimizer state.

    ``s_t = c_1 r_1^t + c_2 r_2^t`` for distinct roots, ``(c_1 + c_2 t) r^t`` for a double
    root (THEORY.md section 3); constants are fitted to the exact iterates. A root at zero
    (e.g. a buffer that the first step discards) only shifts where the formula starts.
    """
    s0 = sp.Symbol("s_0") if s0 is None else sp.sympify(s0)
    t = STEP if t is None else t
    dyn = row_sum_dynamics(spec)
    roots = sp.roots(sp.Poly(dyn.charpoly(X), X))
    degree = sp.Poly(dyn.charpoly(X), X).degree()
    if sum(roots.values()) != degree:
        raise NCTheoryError(f"{spec.name}: the characteristic polynomial could not be solved exactly")
    zero_multiplicity = roots.pop(sp.Integer(0), 0)
    basis = [t ** j * r ** t for r, m in roots.items() for j in range(m)]
    start = 1 + zero_multiplicity
    iterates = iterate_exact(spec, s0, start + len(basis))
    if all(m == 1 for m in roots.values()):
        coefficients = _lagrange_coefficients(list(roots), iterates[start:start + len(basis)], start)
    else:
        coefficients = _solved_coefficients(basis, t, iterates, start)
    expression = sum((sp.radsimp(sp.expand(c)) * b for c, b in zip(coefficients, basis)), sp.Integer(0))
    valid_from = 0 if is_zero_with_square_root(expression.subs(t, 0) - s0) else start
    return ClosedForm(expression, t, valid_from, roots)


def _lagrange_coefficients(roots, values, start):
    """``c_i`` with ``sum_i c_i r_i^k = values[k - start]`` for distinct roots (k = start..).

    The inverse of the Vandermonde matrix in closed form: with the Lagrange polynomial
    ``L_i(z) = prod_(j != i) (z - r_j) / (r_i - r_j) = sum_k l_ik z^k``,
    ``c_i r_i^start = sum_k l_ik values[k]`` -- no linear solve over radicals.
    """
    z = sp.Dummy("z")
    out = []
    for i, root in enumerate(roots):
        others = [r for j, r in enumerate(roots) if j != i]
        numerator = sp.Poly(sp.prod([z - r for r in others]), z).all_coeffs()[::-1]
        denominator = sp.prod([root - r for r in others]) * root ** start
        out.append(sp.cancel(sum(coeff * value for coeff, value in zip(numerator, values)) / denominator))
    return out


def _solved_coefficients(basis, t, iterates, start):
    """The coefficients of ``basis`` fitted to the iterates (repeated roots) by a linear solve."""
    coefficients = sp.symbols(f"c0:{len(basis)}")
    ansatz = sum((c * b for c, b in zip(coefficients, basis)), sp.Integer(0))
    equations = [sp.Eq(ansatz.subs(t, k), iterates[k]) for k in range(start, start + len(basis))]
    solution = sp.solve(equations, coefficients, dict=True)[0] if basis else {}
    return [solution.get(c, c) for c in coefficients]


def transition_product(spec, lrs=None, buffers_initialised: bool = False, schedules=None, steps=None,
                       lr_schedule=None) -> sp.Matrix:
    """``A_{T-1} ... A_1 A_0``: the exact map x_0 -> x_T under per-step hyperparameters.

    ``A_t = A(h_t; initialised_t)`` (:mod:`nctheory.theory.symbolic.schedules`): the first
    factor is ``A_first(h_0)`` (torch's ``b_1 = d_0``) unless ``buffers_initialised``.
    ``schedules`` maps hyperparameter names to sequences or callables ``t -> value``;
    ``lrs`` (or ``lr_schedule``) is the shorthand for ``schedules={"lr": lrs}``. Floats
    are read as the decimal the user wrote (``0.1 -> 1/10``). ``steps`` defaults to the
    length of the sequences given (they must agree); callables need it.
    """
    if lrs is not None and lr_schedule is not None:
        raise NCTheoryError(f"{spec.name}: give the learning rates once, as lrs or as lr_schedule")
    schedules = merge_lr_schedule(spec, schedules, lrs if lrs is not None else lr_schedule, "lrs")
    if steps is None:
        lengths = {len(v) for v in (schedules or {}).values() if not callable(v) and hasattr(v, "__len__")}
        if len(lengths) != 1:
            raise NCTheoryError(
                f"{spec.name}: transition_product needs steps= when no schedule is a sequence or the "
                f"sequences differ in length (lengths: {sorted(lengths)})")
        steps = lengths.pop()
    product = sp.eye(len(row_sum_dynamics(spec.without(*(schedules or {}))).state))
    for matrix in transitions(spec, steps, schedules, buffers_initialised=buffers_initialised):
        product = matrix * product
    return product.applyfunc(sp.expand)
