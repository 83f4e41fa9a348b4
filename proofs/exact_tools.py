"""Exact tools of the proof modules, written here so that ``proofs/`` depends on no proof tool of the package.

Nothing in this file imports ``nctheory``: the proof modules derive their expected values
with it, and compare the package's objects (a spec's methods, a theorem's claims) with
them. ``test_independence.py`` enforces that.

* **Exact arrays.** numpy object arrays of sympy Rationals; a spec's own ``step`` runs on
  them unchanged, so row sums come out exact and are compared with ``==``.
* **Jury factors** (Schur 1917, Cohn 1922; Jury 1964). For a monic ``p`` of degree 1 or 2
  and a radius ``r > 0``: ``p = x - rho`` has its root in ``|x| < r`` iff
  ``r - rho > 0`` and ``r + rho > 0``; ``p = x^2 + b x + c`` has both roots in ``|x| < r``
  iff ``r^2 - c > 0``, ``r^2 + c > 0``, ``p(r) > 0`` and ``p(-r) > 0``. (Complex roots:
  ``|x|^2 = c``, and ``p(+-r) > 0``, ``r^2 + c > 0`` hold anyway. Real roots
  ``x_1 <= x_2``: ``p(+-r) > 0`` keeps ``+-r`` out of ``[x_1, x_2]``, and both roots beyond
  ``r`` (or below ``-r``) would make ``c = x_1 x_2 > r^2``.) The Schur-Cohn recursion,
  run by hand on ``p(r y)``, gives the two products ``(r^2 - c)(r^2 + c)`` and
  ``(r^2 - c)^2 p(r) p(-r)``; :func:`schur_cohn_products` writes them down.
* **Positivity certificate.** A polynomial in variables that are nonnegative by their
  assumptions, all of whose coefficients are positive rationals, and with one monomial
  in strictly positive variables (or a constant), is positive; a quotient of two such
  (or of two negated such) is positive. Hypotheses like ``0 < a < 1`` enter as a
  substitution by positive variables, ``a = A / (1 + A)``.
* **Zero test with square roots.** An expression in ``Q(params)(sqrt(D_1), ..., i)`` is 0
  if, with every ``D_j^(k/2)`` replaced by ``q_j^k`` (and ``i`` by ``q_0``), the numerator
  reduces to the zero polynomial modulo ``q_j^2 - D_j`` (``q_0^2 + 1``). That verdict is
  always right; a nonzero remainder is read as "not zero", which can only err by failing
  a check, never by passing one.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp


# ---------------------------------------------------------------------- exact arrays
def rational_array(rows) -> np.ndarray:
    """A numpy object array of sympy Rationals (from ints, Fractions or Rationals)."""
    return np.array([[sp.Rational(Fraction(v).numerator, Fraction(v).denominator) for v in row] for row in rows],
                    dtype=object)


def column_sums(matrix: np.ndarray) -> list:
    """``1_K^T M``, exactly."""
    return [sp.sympify(sum(matrix[:, j])) for j in range(matrix.shape[1])]


def centre_columns(matrix: np.ndarray) -> np.ndarray:
    """``M - 1 (1^T M) / K``: Lemma 1's conclusion imposed on a gradient."""
    k = matrix.shape[0]
    sums = column_sums(matrix)
    return np.array([[matrix[i, j] - sp.Rational(1, k) * sums[j] for j in range(matrix.shape[1])]
                     for i in range(k)], dtype=object)


def row_sum_states(spec, weights, state) -> list:
    """Per coordinate j, ``(s_j, u_j, ...)``: the row sums of the weights and of every buffer the
    spec's chain declares, in chain order (a buffer not created yet counts as 0)."""
    vectors = [column_sums(weights)]
    for transform, sub_state in zip(spec.chain, state):
        for name in transform.buffers:
            buffer = sub_state[name]
            vectors.append([sp.Integer(0)] * weights.shape[1] if buffer is None else column_sums(buffer))
    return [sp.Matrix([v[j] for v in vectors]) for j in range(weights.shape[1])]


def run_spec_step(spec, weights, gradients, hp: dict, lrs=None) -> list:
    """Row-sum states after 0, 1, ..., T applications of the spec's own ``step`` to exact arrays.

    ``lrs`` (optional) replaces ``hp["lr"]`` step by step.
    """
    state = spec.init_state(weights)
    history = [row_sum_states(spec, weights, state)]
    for step, grad in enumerate(gradients):
        step_hp = dict(hp) if lrs is None else {**hp, "lr": lrs[step]}
        weights, state = spec.step(weights, grad, state, hp=step_hp)
        history.append(row_sum_states(spec, weights, state))
    return history


def iterate_matrices(first: sp.Matrix, regular: sp.Matrix, initial: list, steps: int, substitution=None,
                     per_step=None) -> list:
    """``x_1 = A_first x_0``, ``x_{t+1} = A x_t``: a hand-written loop over per-coordinate states.

    ``per_step(t)`` (optional) adds substitutions for step t (a learning-rate schedule).
    """
    substitution = dict(substitution or {})
    history, current = [list(initial)], list(initial)
    for step in range(steps):
        sub = {**substitution, **(per_step(step) if per_step else {})}
        matrix = (first if step == 0 else regular).subs(sub)
        current = [(matrix * x).applyfunc(sp.expand) for x in current]
        history.append(current)
    return history


def first_coordinate_iterates(first: sp.Matrix, regular: sp.Matrix, s0, steps: int, substitution=None) -> list:
    """``s_0 .. s_steps`` from ``x_0 = (s_0, 0, ...)`` (a fresh optimizer: buffers not created)."""
    x0 = sp.Matrix([s0] + [0] * (first.shape[0] - 1))
    return [x[0][0] for x in iterate_matrices(first, regular, [x0], steps, substitution)]


# ---------------------------------------------------------------------- Jury factors
def jury_factors(poly_expr, x: sp.Symbol, radius=1) -> tuple:
    """``(r - rho, r + rho)`` or ``(r^2 - c, r^2 + c, p(r), p(-r))`` (see the module docstring)."""
    poly = sp.Poly(sp.expand(poly_expr), x)
    coeffs, r = poly.all_coeffs(), sp.sympify(radius)
    if coeffs[0] != 1 or poly.degree() not in (1, 2):
        raise ValueError(f"Jury factors are written here for monic polynomials of degree 1 or 2, got {poly_expr}")
    if poly.degree() == 1:
        return r + coeffs[1], r - coeffs[1]
    _, b, c = coeffs
    return r ** 2 - c, r ** 2 + c, r ** 2 + b * r + c, r ** 2 - b * r + c


def schur_cohn_products(factors: tuple) -> tuple:
    """The Schur-Cohn conditions of ``p(r y)``, by hand: ``(J_1 J_2,)`` or ``(J_1 J_2, J_1^2 J_3 J_4)``."""
    if len(factors) == 2:
        return (factors[0] * factors[1],)
    return factors[0] * factors[1], factors[0] ** 2 * factors[2] * factors[3]


def roots_inside(poly_expr, x: sp.Symbol, radius) -> bool:
    """Exactly: every root of ``poly_expr`` (rational coefficients) has ``|x| < radius`` (rational)."""
    values = [sp.expand(f) for f in jury_factors(poly_expr, x, radius)]
    if not all(v.is_Rational for v in values):
        raise ValueError(f"roots_inside needs rational coefficients and radius, got {values}")
    return all(v > 0 for v in values)


# ---------------------------------------------------------------------- positivity
def _certified_sign(expr) -> int | None:
    """+1 / -1 when the polynomial ``expr`` is certified positive / negative, else None."""
    expr = sp.expand(expr)
    if expr.is_Rational:
        return 1 if expr > 0 else (-1 if expr < 0 else None)
    gens = sorted(expr.free_symbols, key=str)
    if not all(g.is_nonnegative for g in gens):
        return None
    try:
        terms = sp.Poly(expr, *gens).terms()
    except sp.PolynomialError:
        return None
    if not all(c.is_Rational for _, c in terms):
        return None
    signs = {1 if c > 0 else -1 for _, c in terms}
    strict = any(all(gens[i].is_positive for i, e in enumerate(monomial) if e) for monomial, _ in terms)
    return signs.pop() if len(signs) == 1 and strict else None


def certified_positive(expr, *substitutions) -> bool:
    """``expr > 0`` wherever its symbols satisfy their assumptions (after ``substitutions``, in order)."""
    expr = sp.sympify(expr)
    for substitution in substitutions:
        expr = expr.subs(substitution)
    numerator, denominator = sp.fraction(sp.cancel(sp.together(expr)))
    sign = _certified_sign(numerator)
    return sign is not None and sign == _certified_sign(denominator)


# ---------------------------------------------------------------------- zero test
def is_zero(expr) -> bool:
    """Exact zero test in ``Q(params)(sqrt(D_1), ..., i)`` (see the module docstring)."""
    expr = sp.sympify(expr)
    radicals = sorted({p for p in expr.atoms(sp.Pow) if p.exp.is_Rational and p.exp.q == 2}, key=sp.default_sort_key)
    bases = sorted({p.base for p in radicals}, key=sp.default_sort_key)
    qs = {base: sp.Dummy(f"q{i}") for i, base in enumerate(bases)}
    unit = sp.Dummy("i")
    replaced = expr.xreplace({p: qs[p.base] ** int(2 * p.exp) for p in radicals}).xreplace({sp.I: unit})
    numerator = sp.expand(sp.fraction(sp.together(replaced))[0])
    relations = [(q, q ** 2 - base) for base, q in qs.items()] + [(unit, unit ** 2 + 1)]
    for q, relation in relations:
        if numerator.has(q):
            numerator = sp.rem(sp.Poly(numerator, q), sp.Poly(relation, q)).as_expr()
    return sp.expand(numerator) == 0


def coefficients_of_powers(expression, roots, t) -> list | None:
    """``[c_1, ..]`` with ``expression = sum_i c_i r_i^t`` and no other dependence on t; else None."""
    basis = {root ** t: sp.Dummy(f"R{i}") for i, root in enumerate(roots)}
    replaced = sp.expand(expression).xreplace(basis)
    if replaced.has(t):
        return None
    poly = sp.Poly(replaced, *basis.values())
    if poly.total_degree() > 1 or poly.coeff_monomial(1) != 0:
        return None
    return [poly.coeff_monomial(symbol) for symbol in basis.values()]
