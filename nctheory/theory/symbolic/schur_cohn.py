"""Schur-Cohn (Jury) conditions: when do all roots of a real polynomial lie in |x| < r?

Schur-Cohn reduction (Schur 1917, Cohn 1922; Jury, "Theory and Application of the
z-Transform Method", 1964): a real polynomial ``p(x) = a_n x^n + ... + a_0`` has all its
roots in the open unit disk iff ``|a_0| < |a_n|`` and the polynomial
``p_1(x) = (a_n p(x) - a_0 p*(x)) / x`` of degree n - 1 has, where
``p*(x) = x^n p(1/x)`` is the reversed polynomial. Unrolling gives n exact polynomial
inequalities ``a_n^(k)^2 - a_0^(k)^2 > 0`` in the coefficients. For the monic quadratic
``x^2 + a_1 x + a_0`` they reduce to Jury's ``|a_0| < 1`` and ``|a_1| < 1 + a_0``.

Roots in the disk of radius r > 0 are roots of ``p(r y)`` in the unit disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


def schur_cohn_inequalities(poly_expr, x: sp.Symbol, radius=1) -> list:
    """Expressions that must all be > 0 for every root of ``poly_expr`` to satisfy |x| < radius."""
    coeffs = sp.Poly(sp.expand(poly_expr.subs(x, radius * x)), x).all_coeffs()
    conditions = []
    while len(coeffs) > 1:
        lead, const = coeffs[0], coeffs[-1]
        conditions.append(sp.factor(lead ** 2 - const ** 2))
        reversed_coeffs = coeffs[::-1]
        coeffs = [sp.expand(lead * c - const * r) for c, r in zip(coeffs, reversed_coeffs)][:-1]
    return conditions


@dataclass(frozen=True)
class Conditions:
    """A conjunction of strict polynomial inequalities ``expr > 0``, with hypotheses.

    ``evaluate(values)`` decides it exactly for rational values (a dict symbol -> value).
    """

    description: str
    inequalities: tuple
    hypotheses: tuple = ()

    def as_relational(self):
        return sp.And(*[e > 0 for e in self.inequalities])

    def evaluate(self, values: dict | None = None) -> bool:
        values = values or {}
        results = [sp.sympify(e).subs(values) for e in self.inequalities]
        leftover = set().union(*[r.free_symbols for r in results]) if results else set()
        if leftover:
            raise ValueError(f"values missing for {sorted(map(str, leftover))} to decide: {self.description}")
        return all(bool(r > 0) for r in results)

    def __str__(self) -> str:
        body = " and ".join(f"{e} > 0" for e in self.inequalities)
        hyp = f" (assuming {', '.join(self.hypotheses)})" if self.hypotheses else ""
        return f"{self.description}: {body}{hyp}"
