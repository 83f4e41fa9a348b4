"""Exact tools the proofs share: positivity certificates and the Jury form of Schur-Cohn.

**Positivity certificate.** A rational function whose numerator and denominator, after
expansion, are polynomials in variables that are nonnegative by hypothesis with all
coefficients of one sign -- and with at least one monomial in strictly positive
variables only -- has that sign wherever the hypotheses hold. Hypotheses such as
``0 < a < 1`` are encoded by a *parametrisation* by positive variables,
``a = A / (1 + A)`` with ``A > 0`` (then ``1 - a = 1 / (1 + A)``), so that the check
stays a syntactic test on exact coefficients -- no sampling, no tolerance.

**Jury form.** For a monic real polynomial p of degree 1 or 2 and a radius r > 0, the
Schur-Cohn conditions (Schur 1917, Cohn 1922; Jury, *Theory and Application of the
z-Transform Method*, 1964) computed by :mod:`nctheory.theory.symbolic.schur_cohn` are

* degree 1, ``p = x - rho``:  ``r^2 - rho^2 = (r - rho)(r + rho) > 0``;
* degree 2, ``p = x^2 + b x + c``:  ``(r^2 - c)(r^2 + c) > 0`` and
  ``(r^2 - c)^2 p(r) p(-r) > 0``.

The *Jury set* is the list of factors ``J = (r - rho, r + rho)`` resp.
``(r^2 - c, r^2 + c, p(r), p(-r))``. Because ``(r - rho) + (r + rho) = 2r > 0``,
``(r^2 - c) + (r^2 + c) = 2r^2 > 0`` and ``p(r) + p(-r) = 2(r^2 + c)``, a product of
two factors with a positive sum is positive iff both factors are; so the Schur-Cohn
region is exactly ``{J_i > 0 for all i}``. :func:`region_steps` proves this
factorisation for the engine's conditions and then matches every Jury factor with a
claimed condition up to a certified-positive factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from nctheory.theory.hyperparams import SYMBOLS
from nctheory.theory.symbolic.radicals import is_zero_with_square_root  # noqa: F401 (re-exported)
from nctheory.theorems.base import fact, identity

ETA, LAMBDA = SYMBOLS["lr"], SYMBOLS["weight_decay"]
MU, TAU, NU = SYMBOLS["momentum"], SYMBOLS["dampening"], SYMBOLS["nu"]
#: a = eta * lambda >= 0, the product every row-sum characteristic polynomial depends on.
A_ = sp.Symbol("a", nonnegative=True)
#: Positive parameter of ``0 < a < 1``: ``a = A/(1 + A)``.
A_PARAM = sp.Symbol("A", positive=True)
OPEN_UNIT_A = {A_: A_PARAM / (1 + A_PARAM)}


def in_terms_of_a(expr):
    """Rewrite an expression in (eta, lambda) through a = eta * lambda; eta must drop out."""
    rewritten = sp.cancel(sp.sympify(expr).subs(LAMBDA, A_ / ETA))
    if ETA in rewritten.free_symbols:
        raise ValueError(f"{expr} does not depend on eta and lambda through eta*lambda only")
    return rewritten


def with_a(expr):
    """The inverse of :func:`in_terms_of_a`: a -> eta * lambda."""
    return sp.sympify(expr).subs(A_, ETA * LAMBDA)


# ---------------------------------------------------------------------- certificates
def _polynomial_sign(expr) -> int | None:
    """+1 / -1 if the polynomial is certified positive / negative, else None."""
    expr = sp.expand(expr)
    if expr.is_Number:
        return 1 if expr > 0 else (-1 if expr < 0 else None)
    gens = sorted(expr.free_symbols, key=str)
    if any(g.is_nonnegative is not True for g in gens):
        return None
    try:
        poly = sp.Poly(expr, *gens)
    except sp.PolynomialError:
        return None
    coeffs = poly.coeffs()
    if not all(c.is_Rational for c in coeffs):
        return None
    if all(c > 0 for c in coeffs):
        sign = 1
    elif all(c < 0 for c in coeffs):
        sign = -1
    else:
        return None
    strict = any(all(gens[i].is_positive for i, e in enumerate(monom) if e)
                 for monom in poly.monoms())
    return sign if strict else None


def certified_positive(expr, parametrisation: dict | None = None) -> bool:
    """Whether ``expr > 0`` follows from the symbols' assumptions and the parametrisation."""
    expr = sp.sympify(expr)
    if parametrisation:
        expr = expr.subs(parametrisation)
    numerator, denominator = sp.fraction(sp.cancel(sp.together(expr)))
    sign_n, sign_d = _polynomial_sign(numerator), _polynomial_sign(denominator)
    return sign_n is not None and sign_n == sign_d


# ---------------------------------------------------------------------- Jury form
def jury_form(poly_expr, x: sp.Symbol, radius=1):
    """``(jury_set, schur_cohn_products, sum_identities)`` of a monic degree-1/2 polynomial.

    ``sum_identities`` are pairs ``(J_i + J_j, positive expression)`` that make the
    "product > 0 iff both > 0" argument valid.
    """
    poly = sp.Poly(sp.expand(poly_expr), x)
    coeffs = poly.all_coeffs()
    if coeffs[0] != 1 or poly.degree() not in (1, 2):
        raise ValueError(f"Jury form implemented for monic polynomials of degree 1 or 2, got {poly_expr}")
    r = sp.sympify(radius)
    if poly.degree() == 1:
        rho = -coeffs[1]
        jury = (r - rho, r + rho)
        products = (jury[0] * jury[1],)
        sums = ((jury[0] + jury[1], 2 * r),)
        return jury, products, sums
    _, b, c = coeffs

    def p(v):
        return v ** 2 + b * v + c

    jury = (r ** 2 - c, r ** 2 + c, p(r), p(-r))
    products = (jury[0] * jury[1], jury[0] ** 2 * jury[2] * jury[3])
    sums = ((jury[0] + jury[1], 2 * r ** 2), (jury[2] + jury[3], 2 * jury[1]))
    return jury, products, sums


@dataclass(frozen=True)
class Region:
    """A claimed semi-algebraic region ``{condition > 0 for every condition}``.

    Conditions are written in ``a = eta lambda`` (symbol :data:`A_`) and the other
    hyperparameter symbols. ``values`` fixes hyperparameters before the engine is asked
    (e.g. ``{"dampening": 0}``); ``parametrisation`` encodes the hypotheses used for
    positivity certificates (e.g. :data:`OPEN_UNIT_A` for ``0 < a < 1``). ``never``
    claims the region is empty. ``source`` says where the claim comes from.
    """

    text: str
    conditions: tuple = ()
    hypotheses: tuple = ()
    values: dict = field(default_factory=dict)
    parametrisation: dict = field(default_factory=dict)
    never: bool = False
    source: str = "THEORY.md"


def region_steps(what: str, engine_inequalities, charpoly, x: sp.Symbol, radius, claim: Region):
    """Steps proving ``{engine_inequalities > 0} == claim`` exactly (see module docstring)."""
    jury, products, sums = jury_form(charpoly, x, radius)
    yield identity(f"{what}: the engine's Schur-Cohn conditions factor into the Jury form "
                   f"(expand(difference) == 0)", sp.Matrix(list(engine_inequalities)),
                   sp.Matrix(list(products)))
    for total, positive in sums:
        yield identity(f"{what}: the factors pair up with sum {positive}, so each product is "
                       f"positive iff both factors are (a sum of two negatives is negative)",
                       total, positive)
        yield fact(f"{what}: {positive} > 0 under the hypotheses ({'; '.join(claim.hypotheses)})",
                   (positive,), certified_positive(in_terms_of_a(positive), claim.parametrisation)
                   or _follows_from_first_pair(positive, jury))
    jury_a = [in_terms_of_a(j) for j in jury]
    if claim.never:
        empty = [j for j in jury_a if sp.expand(j) == 0
                 or certified_positive(-j, claim.parametrisation)]
        yield fact(f"{what}: a Jury factor is identically 0 (or certified <= 0), so the strict "
                   f"conditions can never hold: {claim.text}", tuple(jury_a), bool(empty))
        return
    unmatched = list(claim.conditions)
    for factor in jury_a:
        if sp.expand(factor) == 0:
            yield fact(f"{what}: Jury factor is identically 0, but the claim ({claim.text}) "
                       f"is not empty", (factor,), False)
            continue
        match = next((c for c in unmatched
                      if certified_positive(sp.cancel(factor / c), claim.parametrisation)), None)
        if match is not None:
            unmatched.remove(match)
            yield fact(f"{what}: Jury factor {factor} = ({match}) * (certified positive factor "
                       f"{sp.factor(sp.cancel(factor / match))}), so it is > 0 iff the claimed "
                       f"condition {match} > 0 is", (factor, match), True)
        elif certified_positive(factor, claim.parametrisation):
            yield fact(f"{what}: Jury factor {factor} > 0 holds under the hypotheses "
                       f"(certified), so it adds no condition", (factor,), True)
        else:
            yield fact(f"{what}: Jury factor {factor} matches no claimed condition of "
                       f"'{claim.text}'", (factor,), False)
    yield fact(f"{what}: every claimed condition is matched by a Jury factor "
               f"({claim.text}; {claim.source})", tuple(claim.conditions), not unmatched)


def _follows_from_first_pair(positive, jury) -> bool:
    """``2 (r^2 + c) > 0`` is not certified by itself: it is the first pair's conclusion."""
    return len(jury) == 4 and sp.expand(positive - 2 * jury[1]) == 0


def jury_decides(poly_expr, x: sp.Symbol, radius) -> bool:
    """Exactly decide 'every root has |x| < radius' for rational coefficients and radius."""
    jury, _, _ = jury_form(poly_expr, x, radius)
    values = [sp.expand(j) for j in jury]
    if not all(v.is_Rational for v in values):
        raise ValueError(f"jury_decides needs rational coefficients and radius, got {jury}")
    return all(v > 0 for v in values)


__all__ = ["A_", "A_PARAM", "OPEN_UNIT_A", "Region", "certified_positive", "in_terms_of_a",
           "is_zero_with_square_root", "jury_decides", "jury_form", "region_steps", "with_a"]
