"""Predicted row-sum trajectories in float64, from the exact recurrence.

``x_{t+1} = A(eta_t) x_t`` with ``x = (s, buffer row sums)`` per coordinate, where the
first step from a fresh optimizer uses ``A_first`` (torch's ``b_1 = d_0``). The matrices
are the exact ones of :mod:`nctheory.theory.symbolic.rowsum`, evaluated in float64; the only
error is float64 rounding, about ``n_steps * 1e-16`` relative.
"""

from __future__ import annotations

import numbers
import numpy as np
import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.hyperparams import SYMBOLS
from nctheory.theory.symbolic.rowsum import _cached, row_sum_dynamics

ETA = SYMBOLS["lr"]


def _compile_matrices(symbolic_spec):
    """float64 functions (hyperparameters...) -> A, A_first, from the general symbolic matrices.

    Compiling the general formulas (not the matrices with exact values substituted) keeps
    every evaluation in float64: a value like 2.2e-308, exact as a rational with a
    324-digit denominator, would overflow if its rational were compiled instead.
    """
    dyn = row_sum_dynamics(symbolic_spec)
    symbols = [symbolic_spec.symbols()[n] for n in symbolic_spec.hyperparameter_names]
    return sp.lambdify(symbols, dyn.matrix, "numpy"), sp.lambdify(symbols, dyn.first_matrix, "numpy")


def learning_rates(spec, steps: int, lr_schedule=None) -> np.ndarray:
    """The learning rate used at each of ``steps`` steps, validated.

    ``lr_schedule`` is None (the spec's ``lr`` throughout), a sequence of at least
    ``steps`` values, or a callable ``step -> lr``.
    """
    if lr_schedule is None:
        spec.require_values("lr")
        return np.full(steps, float(spec.values["lr"]))
    if callable(lr_schedule):
        rates = np.array([float(lr_schedule(t)) for t in range(steps)])
    else:
        rates = np.asarray(lr_schedule, dtype=float).ravel()
        if rates.size < steps:
            raise NCTheoryError(f"lr_schedule has {rates.size} values but steps={steps} need one per step")
        rates = rates[:steps]
    if not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        raise NCTheoryError("lr_schedule must hold finite learning rates > 0")
    return rates


def predict(spec, s0, steps: int, lr_schedule=None, buffers0=None, loss=None,
            return_state: bool = False) -> np.ndarray:
    """Predicted row sums ``s_0 .. s_steps``, shape ``(steps + 1, d)``.

    Args:
        spec: a linear optimizer spec with every hyperparameter except possibly ``lr`` set.
        s0: initial row sums ``W_0^T 1_K`` (shape (d,), or a scalar).
        steps: number of optimizer steps (> 0).
        lr_schedule: learning rate per step (see :func:`learning_rates`).
        buffers0: row sums of already initialised buffers, shape ``(n_buffers, d)``
            (e.g. from ``from_torch`` of an optimizer that has stepped); None for a fresh
            optimizer, whose first step follows torch's first-step rule.
        loss: optional loss to check for shift invariance (Lemma 1) first.
        return_state: also return the whole state trajectory, shape (steps + 1, n, d).
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps <= 0:
        raise NCTheoryError(f"steps must be a positive integer, got {steps!r}")
    dyn = row_sum_dynamics(spec.without("lr"), loss=loss)
    leftover = (dyn.matrix.free_symbols | dyn.first_matrix.free_symbols) - {ETA}
    if leftover:
        names = [n for n, sym in spec.symbols().items() if sym in leftover]
        spec.require_values(*names)
    s0 = np.atleast_1d(np.asarray(s0, dtype=np.float64))
    if s0.ndim != 1:
        raise NCTheoryError(f"s0 must be a vector of row sums (shape (d,)), got shape {s0.shape}")
    if not np.all(np.isfinite(s0)):
        raise NCTheoryError("s0 contains NaN or inf")
    n = len(dyn.state)
    state = np.zeros((n, s0.size))
    state[0] = s0
    if buffers0 is not None:
        buffers0 = np.asarray(buffers0, dtype=np.float64).reshape(n - 1, s0.size)
        state[1:] = buffers0
    rates = learning_rates(spec, steps, lr_schedule)
    regular, first = _cached("predict", spec, _compile_matrices)
    values = {name: float(value) for name, value in spec.values.items()}

    def matrix_at(function, lr):
        args = [lr if name == "lr" else values.get(name, 0.0) for name in spec.hyperparameter_names]
        return np.asarray(function(*args), dtype=np.float64)

    unique_rates, which = np.unique(rates, return_inverse=True)
    matrices = [matrix_at(regular, lr) for lr in unique_rates]
    trajectory = np.empty((steps + 1, n, s0.size))
    trajectory[0] = state
    for step in range(steps):
        if step == 0 and buffers0 is None:
            matrix = matrix_at(first, rates[0])
        else:
            matrix = matrices[which[step]]
        state = matrix @ state
        trajectory[step + 1] = state
    return trajectory if return_state else trajectory[:, 0, :]
