"""Lemma 1's hypothesis, decided: is the loss invariant under ``z -> z + c 1_K``?

Lemma 1 (THEORY.md section 2): if ``l(z + c 1_K) = l(z)`` for all c, then
``sum_k dl/dz_k = 0``, hence ``1_K^T grad_W L = 0`` for every minibatch and feature map,
and the row-sum recurrences of :mod:`nctheory.theory.symbolic.rowsum` are exact. Equivalently,
``d/dc l(z + c 1)|_{c=0} = sum_k dl/dz_k`` vanishes identically.

:func:`shift_invariance` decides this for a loss written as a sympy expression:

* invariant: ``l(z + c 1) - l(z)`` simplifies to 0 (Max/Min are normalised first by
  pulling a common additive shift out: ``max(a + c, b + c) = c + max(a, b)``), or the
  derivative ``sum_k dl/dz_k`` simplifies to 0;
* not invariant: a *witness* -- an exact rational point z where ``sum_k dl/dz_k`` is
  nonzero (evaluated with 50 digits) -- so a "fails" verdict never rests on a
  simplification that merely did not finish;
* otherwise undecided, and the engine refuses to claim exact dynamics.

A registered loss's parameters (label smoothing's eps, focal's gamma, soft labels'
targets) stay symbolic, so the decision holds for every value of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from nctheory.errors import LossNotShiftInvariantError, NCTheoryError
from nctheory.theory.losses.registry import LOSSES, get_loss

SHIFT = sp.Symbol("c", real=True)


def _pull_common_shift(expr):
    """Rewrite ``Max(a + c, b + c)`` as ``c + Max(a, b)`` (and Min), bottom-up."""
    def pull(node):
        terms = [set(sp.Add.make_args(arg)) for arg in node.args]
        common = set.intersection(*terms)
        if not common:
            return node
        rest = [sp.Add(*(t - common)) for t in terms]
        return sp.Add(*common) + node.func(*rest)

    return expr.replace(lambda n: isinstance(n, (sp.Max, sp.Min)), pull)


@dataclass(frozen=True)
class ShiftInvariance:
    """The outcome of the Lemma 1 test: invariant True / False / None (undecided)."""

    invariant: bool | None
    derivative: sp.Expr
    reason: str
    witness: dict | None = None


def shift_invariance(loss, num_classes: int = 3, logit_symbols=None) -> ShiftInvariance:
    """Decide whether ``l(z + c 1_K) = l(z)`` (Lemma 1's hypothesis).

    ``loss`` is a registered name, a :class:`Loss`, or a sympy expression (then pass
    its ``logit_symbols``).
    """
    if isinstance(loss, sp.Expr):
        if not logit_symbols:
            raise NCTheoryError("logit_symbols must list the logit symbols z_1..z_K of the expression")
        return _decide(loss, tuple(logit_symbols), "the given loss")
    if isinstance(loss, str):
        get_loss(loss)  # an unknown name raises, listing the known ones
        return _registered_shift_invariance(loss, num_classes)
    loss = get_loss(loss)
    return _decide(*loss.expression(num_classes), loss.name)


@lru_cache(maxsize=None)
def _registered_shift_invariance(name: str, num_classes: int) -> ShiftInvariance:
    """The decision for a registered loss (fixed expressions: decided once per process)."""
    return _decide(*LOSSES[name].expression(num_classes), name)


def _decide(expr, z, name: str) -> ShiftInvariance:
    """Shift invariance of ``expr`` in the logits ``z`` (see :func:`shift_invariance`)."""
    shifted = expr.subs({zk: zk + SHIFT for zk in z}, simultaneous=True)
    difference = sp.simplify(_pull_common_shift(shifted) - _pull_common_shift(expr))
    if difference == 0:  # invariance for every c; the derivative in c is then 0 too
        return ShiftInvariance(True, sp.Integer(0), f"{name}: l(z + c 1) - l(z) simplifies to 0")
    derivative = sp.simplify(sum(sp.diff(expr, zk) for zk in z))
    if derivative == 0:
        return ShiftInvariance(True, derivative, f"{name}: sum_k dl/dz_k simplifies to 0")
    witness = _witness(derivative, z)
    if witness is not None:
        point, value = witness
        return ShiftInvariance(
            False, derivative,
            f"{name}: d/dc l(z + c 1)|_(c=0) = sum_k dl/dz_k = {derivative} is not identically 0 "
            f"(it is {value} at z = {tuple(point.values())}), so the gradient's row sums need not "
            f"vanish and the exact NC0 recurrences do not hold", point)
    return ShiftInvariance(None, derivative, f"{name}: shift invariance could not be decided "
                                             f"(sum_k dl/dz_k = {derivative})")


def _witness(derivative, z):
    """An exact rational point where ``derivative`` is clearly nonzero, if one is found."""
    free = sorted(derivative.free_symbols - set(z), key=str)
    for trial in range(8):
        point = {zk: sp.Rational((3 * k + 5 * trial) % 11 - 5, 7) for k, zk in enumerate(z)}
        point.update({s: sp.Rational(1, 3 + trial) for s in free})
        value = derivative.subs(point)
        if value.has(sp.Heaviside, sp.DiracDelta, sp.nan):
            continue
        numeric = sp.N(value, 50)
        if numeric.is_number and abs(numeric) > sp.Rational(1, 10 ** 30):
            return point, sp.N(value, 6)
    return None


def require_shift_invariant(loss, num_classes: int = 3) -> None:
    """Raise :class:`LossNotShiftInvariantError` unless Lemma 1 applies to ``loss``."""
    result = shift_invariance(loss, num_classes)
    if result.invariant is not True:
        raise LossNotShiftInvariantError(
            f"no exact NC0 dynamics are claimed: {result.reason}. Lemma 1 needs a loss "
            f"invariant under z -> z + c 1_K (cross-entropy, label smoothing, focal, "
            f"Crammer-Singer hinge, any function of the softmax probabilities).")
