"""Exact tools for statements of symbolic size: sums over k = 1..K with K a symbol, and
inequalities certified under their hypotheses.

* **Index sums.** Vectors and matrices of symbolic size are :class:`sympy.IndexedBase`
  objects summed with :class:`sympy.Sum` over ``1..K`` (K a positive integer symbol).
  :func:`reduce_sums` decides that such an expression is 0: ``doit`` (Kronecker deltas
  summed), every sum split over its terms with the factors that do not depend on its index
  pulled out (linearity, :func:`sympy.simplify.simplify.factor_sum`), every bound index
  renamed canonically (:func:`canonical`: alpha-renaming, so ``sum_k e^{z_k}`` and
  ``sum_l e^{z_l}`` are the same object), then ``expand``, ``cancel`` or ``simplify``.
  Only a literal 0 counts.
* **Index ranges.** A Kronecker delta ``delta_{j y}`` summed over ``j = 1..K`` is 1 only if
  ``1 <= y <= K``; :func:`in_range` encodes that hypothesis as the substitution
  ``y = 1 + m``, ``K = 1 + m + n`` with ``m, n >= 0`` integers, which covers exactly the
  pairs ``1 <= y <= K`` -- so the statement holds for every K and every y in range.
* **Certificates.** ``target >= 0`` under hypotheses ``g_i >= 0`` is certified by a
  polynomial ``P(G_1, .., G_n)`` with nonnegative rational coefficients such that
  ``P(g_1, .., g_n) = target`` identically (:func:`nonnegative_certificate`); the check is
  an exact coefficient test and an exact polynomial identity. A wrong target, or a
  hypothesis left out, makes the identity fail.
"""

from __future__ import annotations

import sympy as sp
from sympy.simplify.simplify import factor_sum

from nctheory.theorems.base import Step, fact


def _sum_depth(expr) -> int:
    """How many sums are nested in ``expr`` (itself included), along the deepest chain."""
    below = max((_sum_depth(arg) for arg in getattr(expr, "args", ())), default=0)
    return below + (1 if isinstance(expr, sp.Sum) else 0)


def canonical(expr):
    """Every bound summation index renamed ``_k{depth}_{position}``, depth = the number of sums
    nested in the summand: alpha-equivalent sums become identical, and no index is captured
    (a sum's index and the indices of the sums inside it have different depths)."""
    if not getattr(expr, "args", ()):
        return expr
    args = [canonical(arg) for arg in expr.args]
    if not isinstance(expr, sp.Sum):
        return expr.func(*args)
    function, depth, limits = args[0], _sum_depth(args[0]), []
    for position, limit in enumerate(expr.limits):
        index = sp.Symbol(f"_k{depth}_{position}", integer=True)
        function = function.xreplace({limit[0]: index})
        limits.append((index, *limit[1:]))
    return sp.Sum(function, *limits)


def _split(total: sp.Sum):
    """``sum_k (a_k + b_k) = sum_k a_k + sum_k b_k``, each with its index-free factors pulled out;
    a sum over several indices is first written as nested sums (its first index innermost)."""
    if len(total.limits) > 1:
        return sp.Sum(_split(sp.Sum(total.function, total.limits[0])), *total.limits[1:])
    terms = sp.Add.make_args(sp.expand(total.function))
    return sp.Add(*(factor_sum(sp.Sum(term, *total.limits)) for term in terms))


def reduce_sums(expr):
    """``expr`` (index sums of symbolic length) reduced as the module docstring says."""
    expr = sp.sympify(expr)
    for _ in range(3):  # nested sums: each pass pulls out one more level of factors (split first: small doits)
        expr = canonical(expr.replace(lambda node: isinstance(node, sp.Sum), _split).doit())
    for reduce in (sp.expand, lambda e: sp.cancel(sp.together(e))):  # cheap first; simplify if they do not finish
        if reduce(expr) == 0:
            return sp.Integer(0)
    return sp.simplify(expr)


def sums_identity(description: str, lhs, rhs, split: bool = True) -> Step:
    """A step: ``lhs - rhs`` (index sums of symbolic length) reduces to 0 (:func:`reduce_sums`;
    ``split=False``: only ``doit``, :func:`canonical` and ``simplify``, for two sides that are the
    same sums up to the names of their indices)."""
    try:
        difference = sp.sympify(lhs) - sp.sympify(rhs)
        difference = reduce_sums(difference) if split else sp.simplify(canonical(difference.doit()))
    except Exception as error:  # noqa: BLE001 -- a claim sympy cannot reduce fails, never raises
        return Step(f"{description} [cannot reduce: {type(error).__name__}]", (lhs, rhs), False, "=")
    return Step(description, (lhs, rhs), difference == 0, "=")


def fresh_naturals(names: str):
    """Integer symbols ``>= 0`` (parameters of an index range)."""
    return sp.symbols(names, integer=True, nonnegative=True)


def in_range(index, upper, names: str = "m n") -> dict:
    """``{index: 1 + m, upper: 1 + m + n}``: every pair ``1 <= index <= upper`` (module docstring)."""
    m, n = fresh_naturals(names)
    return {index: 1 + m, upper: 1 + m + n}


def shifted(expr, base: sp.IndexedBase, shift):
    """``expr`` with every entry ``base[k]`` replaced by ``base[k] + shift`` (``z -> z + c 1``)."""
    return expr.replace(lambda node: isinstance(node, sp.Indexed) and node.base == base,
                        lambda node: node + shift)


def nonnegative_certificate(description: str, target, certificate, hypotheses: dict) -> Step:
    """A step: ``target >= 0`` because ``target == certificate(hypotheses)`` identically, where
    ``certificate`` is a polynomial with nonnegative rational coefficients in the symbols of
    ``hypotheses`` (symbol -> an expression that is >= 0 by hypothesis)."""
    certificate = sp.expand(sp.sympify(certificate))
    slack = tuple(hypotheses)
    extra = certificate.free_symbols - set(slack)
    if extra:
        return fact(f"{description} [certificate uses {sorted(map(str, extra))}, not hypotheses]",
                    (target, certificate), False)
    try:
        coefficients = sp.Poly(certificate, *slack).coeffs() if slack else [certificate]
        signs_ok = all(c.is_Rational and c >= 0 for c in coefficients)
        matches = sp.expand(certificate.subs(hypotheses, simultaneous=True) - sp.sympify(target)) == 0
    except (sp.PolynomialError, TypeError, ValueError) as error:  # a malformed claim fails, never raises
        return fact(f"{description} [cannot check: {type(error).__name__}]", (target, certificate), False)
    return fact(description, (target, certificate), signs_ok and matches)


__all__ = ["canonical", "fresh_naturals", "in_range", "nonnegative_certificate", "reduce_sums", "shifted",
           "sums_identity"]
