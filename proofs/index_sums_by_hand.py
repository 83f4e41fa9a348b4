"""Exact tools for statements of symbolic size, written here: nothing imports ``nctheory``.

* **Sums of symbolic length.** A vector of symbolic length K is an ``IndexedBase``; its sums
  are ``Sum(f(k), (k, 1, K))`` with K a positive integer symbol. :func:`vanishes` decides
  that an expression of such sums is 0: ``doit`` (Kronecker deltas summed), then, repeatedly,
  every sum over several indices written as nested sums, every sum distributed over the terms
  of its summand, the factors that do not contain its index moved in front of it
  (linearity), and every bound index renamed by the number of sums nested inside its summand
  (:func:`rename_bound`): two sums that differ only in the names of their indices become the
  same object. Then ``expand`` / ``cancel`` / ``simplify`` must give a literal 0.
* **Index ranges.** ``delta_{jy}`` summed over ``j = 1..K`` is 1 only if ``1 <= y <= K``:
  :func:`index_in_range` substitutes ``y = 1 + m``, ``K = 1 + m + n`` with integers
  ``m, n >= 0``, which covers exactly those pairs.
* **Certificates.** :func:`certified_nonnegative`: ``target >= 0`` under hypotheses
  ``g_i >= 0`` if a polynomial with nonnegative rational coefficients in symbols ``G_i``
  becomes ``target`` identically when ``G_i -> g_i``.
"""

from __future__ import annotations

import sympy as sp


def nesting(expr) -> int:
    """The number of sums along the deepest chain of sums in ``expr`` (``expr`` included)."""
    inner = max((nesting(arg) for arg in expr.args), default=0) if expr.args else 0
    return inner + int(isinstance(expr, sp.Sum))


def rename_bound(expr):
    """Alpha-renaming: the index of a sum becomes ``_j{nesting of its summand}_{position}``."""
    if not expr.args:
        return expr
    args = [rename_bound(arg) for arg in expr.args]
    if not isinstance(expr, sp.Sum):
        return expr.func(*args)
    summand, level, limits = args[0], nesting(args[0]), []
    for position, (index, low, high) in enumerate(expr.limits):
        new = sp.Symbol(f"_j{level}_{position}", integer=True)
        summand = summand.xreplace({index: new})
        limits.append((new, low, high))
    return sp.Sum(summand, *limits)


def _linear(total: sp.Sum):
    """Nested, distributed, with index-free factors in front (see the module docstring)."""
    if len(total.limits) > 1:
        return sp.Sum(_linear(sp.Sum(total.function, total.limits[0])), *total.limits[1:])
    index = total.limits[0][0]
    out = []
    for term in sp.Add.make_args(sp.expand(total.function)):
        inside = [f for f in sp.Mul.make_args(term) if index in f.free_symbols]
        outside = [f for f in sp.Mul.make_args(term) if index not in f.free_symbols]
        out.append(sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), total.limits[0]))
    return sp.Add(*out)


def normal_form(expr):
    expr = sp.sympify(expr)
    for _ in range(3):  # distributing first keeps doit's delta sums small
        expr = rename_bound(expr.replace(lambda node: isinstance(node, sp.Sum), _linear).doit())
    return expr


def vanishes(expr) -> bool:
    """Whether ``expr`` (sums of symbolic length) is exactly 0 (module docstring)."""
    expr = normal_form(expr)
    return any(reduce(expr) == 0 for reduce in (sp.expand, lambda e: sp.cancel(sp.together(e)), sp.simplify))


def index_in_range(index, upper, names: str = "m n") -> dict:
    """``{index: 1 + m, upper: 1 + m + n}`` with integers m, n >= 0: exactly ``1 <= index <= upper``."""
    m, n = sp.symbols(names, integer=True, nonnegative=True)
    return {index: 1 + m, upper: 1 + m + n}


def shift_entries(expr, base, shift):
    """Every ``base[k]`` in ``expr`` replaced by ``base[k] + shift``."""
    return expr.replace(lambda node: isinstance(node, sp.Indexed) and node.base == base, lambda node: node + shift)


def certified_nonnegative(target, certificate, hypotheses: dict) -> bool:
    """``target >= 0`` from ``certificate`` (a polynomial in the symbols of ``hypotheses``, symbol ->
    expression >= 0 by hypothesis) with nonnegative rational coefficients and equal to ``target``."""
    certificate = sp.expand(certificate)
    if not certificate.free_symbols <= set(hypotheses):
        return False
    coefficients = sp.Poly(certificate, *hypotheses).coeffs() if hypotheses else [certificate]
    if not all(c.is_Rational and c >= 0 for c in coefficients):
        return False
    return sp.expand(certificate.xreplace(hypotheses) - target) == 0
