"""Running a spec's own numerical step in exact rational arithmetic.

The row-sum recurrence of :mod:`nctheory.theory.symbolic.rowsum` is derived from the spec by
Lemma 1. To check it against the *numerical* update users run, the same
``OptimizerSpec.step`` is applied to numpy object arrays of exact rationals (sympy
``Rational``), with gradients whose columns sum to zero (the conclusion of Lemma 1).
Every number stays exact, so predicted and measured row sums can be compared with
``==``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from nctheory.theory.symbolic.rowsum import buffer_symbols, row_sum_dynamics


def rational_array(rows) -> np.ndarray:
    """A numpy object array of sympy Rationals (from ints, Fractions or Rationals)."""
    return np.array([[sp.Rational(Fraction(v).numerator, Fraction(v).denominator) for v in row]
                     for row in rows], dtype=object)


def column_sums(matrix: np.ndarray) -> list:
    """``1_K^T M`` as a list of exact numbers."""
    return [sp.sympify(sum(matrix[:, j])) for j in range(matrix.shape[1])]


def centre_columns(matrix: np.ndarray) -> np.ndarray:
    """``M - 1 (1^T M) / K``: the projection onto matrices whose columns sum to zero."""
    k = matrix.shape[0]
    sums = column_sums(matrix)
    return np.array([[matrix[i, j] - sp.Rational(1, k) * sums[j] for j in range(matrix.shape[1])]
                     for i in range(k)], dtype=object)


def rowsum_state(spec, weights, state) -> list:
    """Per coordinate j: the row-sum state ``(s_j, u_j, ...)`` (buffers not yet created are 0)."""
    vectors = [column_sums(weights)]
    for index, name, _ in buffer_symbols(spec):
        buffer = state[index][name]
        vectors.append([sp.Integer(0)] * weights.shape[1] if buffer is None else column_sums(buffer))
    return [sp.Matrix([v[j] for v in vectors]) for j in range(weights.shape[1])]


def run_spec_exactly(spec, weights, gradients, hp: dict, lrs=None) -> list:
    """Row-sum states after 0, 1, ..., T steps of ``spec.step`` on exact arrays.

    ``hp`` maps hyperparameter names to exact values; ``lrs`` (optional) overrides
    ``hp["lr"]`` step by step. Returns a list of per-coordinate state vectors.
    """
    state = spec.init_state(weights)
    history = [rowsum_state(spec, weights, state)]
    for step, grad in enumerate(gradients):
        step_hp = dict(hp)
        if lrs is not None:
            step_hp["lr"] = lrs[step]
        weights, state = spec.step(weights, grad, state, hp=step_hp)
        history.append(rowsum_state(spec, weights, state))
    return history


def engine_matrices(spec) -> tuple:
    """``(A_first, A)`` of the engine, with every hyperparameter symbolic."""
    dynamics = row_sum_dynamics(spec.without(*spec.values))
    return dynamics.first_matrix, dynamics.matrix


def iterate_recurrence(spec, initial: list, steps: int, hp: dict, lrs=None, matrices=None) -> list:
    """The history predicted by ``x_{t+1} = A x_t``, the first step with ``A_first``.

    ``initial`` is the per-coordinate state at t = 0 (buffers 0); ``matrices`` is
    ``(A_first, A)`` in the hyperparameter symbols, by default the engine's
    (:func:`engine_matrices`) -- pass a claim's to test the claim itself.
    """
    first, regular = matrices if matrices is not None else engine_matrices(spec)
    symbols = spec.symbols()
    substitution = {symbols[name]: sp.sympify(value) for name, value in hp.items() if name in symbols}
    history = [list(initial)]
    current = list(initial)
    for step in range(steps):
        sub = dict(substitution)
        if lrs is not None:
            sub[symbols["lr"]] = sp.sympify(lrs[step])
        matrix = (first if step == 0 else regular).subs(sub)
        current = [(matrix * x).applyfunc(sp.expand) for x in current]
        history.append(current)
    return history
