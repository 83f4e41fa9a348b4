"""Exact zero tests for expressions with square roots (closed forms of quadratic recurrences)."""

from __future__ import annotations

import sympy as sp


def is_zero_with_square_root(expr) -> bool:
    """Exact zero test for an expression in Q(params)(sqrt(D)) with one radicand D.

    Every ``D**(k/2)`` is replaced by ``q**k`` for a fresh symbol q; the expression is
    then a rational function in q whose numerator must vanish modulo ``q^2 - D`` (the
    minimal relation of sqrt(D)). Much faster than ``simplify`` on closed forms, and
    still exact. Falls back to :func:`sympy.simplify` when there is not exactly one
    radicand.
    """
    expr = sp.sympify(expr)
    radicals = {p for p in expr.atoms(sp.Pow) if p.exp.is_Rational and p.exp.q == 2}
    bases = {p.base for p in radicals}
    if len(bases) != 1:
        return sp.simplify(expr) == 0
    radicand = bases.pop()
    q = sp.Dummy("q")
    replaced = expr.xreplace({p: q ** (2 * p.exp) for p in radicals})
    numerator, _ = sp.fraction(sp.together(replaced))
    numerator = sp.expand(numerator)
    if numerator == 0:
        return True
    # Clear negative powers of q (from D**(-1/2)) before reducing.
    numerator = sp.expand(numerator * q ** max(0, -min((t.as_coeff_exponent(q)[1] for t in sp.Add.make_args(numerator)), default=0)))
    remainder = sp.rem(sp.Poly(numerator, q), sp.Poly(q ** 2 - radicand, q))
    return remainder.is_zero
