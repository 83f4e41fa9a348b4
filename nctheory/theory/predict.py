"""Predicted row-sum trajectories in float64, from the exact recurrence.

``x_{t+1} = A_t x_t`` with ``x = (s, buffer row sums)`` per coordinate and
``A_t = A(h_t; initialised_t)`` the exact transition of :mod:`nctheory.theory.symbolic.rowsum`
for the hyperparameters ``h_t`` in force at step t (any of them may follow a schedule,
:mod:`nctheory.theory.symbolic.schedules`); the first step from a fresh optimizer uses
torch's ``b_1 = d_0``. The general symbolic matrices are compiled once and evaluated in
float64 per distinct ``h_t``; the only error is float64 rounding, about
``n_steps * 1e-16`` relative (times the conditioning of the product).
"""

from __future__ import annotations

import numbers
import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.theory.symbolic.rowsum import row_sum_dynamics
from nctheory.theory.symbolic.schedules import merge_lr_schedule, transitions


def learning_rates(spec, steps: int, lr_schedule=None) -> np.ndarray:
    """The learning rate used at each of ``steps`` steps, validated.

    ``lr_schedule`` is None (the spec's ``lr`` throughout), a sequence of at least
    ``steps`` values, or a callable ``step -> lr``. Values must be finite and ``>= 0``:
    ``lr = 0`` (a warm-up from 0, the end of a cosine schedule) is the transition
    ``A(eta = 0)``, which leaves ``s`` unchanged while the buffers evolve.
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
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise NCTheoryError("lr_schedule must hold finite learning rates >= 0 (0: a step that moves nothing)")
    return rates


def predict(spec, s0, steps: int, lr_schedule=None, buffers0=None, loss=None,
            return_state: bool = False, schedules=None) -> np.ndarray:
    """Predicted row sums ``s_0 .. s_steps``, shape ``(steps + 1, d)``.

    Args:
        spec: a linear optimizer spec with every hyperparameter its matrices use set or
            scheduled.
        s0: initial row sums ``W_0^T 1_K`` (shape (d,), or a scalar).
        steps: number of optimizer steps (> 0).
        lr_schedule: learning rate per step (see :func:`learning_rates`); shorthand for
            ``schedules={"lr": ...}``.
        buffers0: row sums of already initialised buffers, shape ``(n_buffers, d)``
            (e.g. from ``from_torch`` of an optimizer that has stepped); None for a fresh
            optimizer, whose first step follows torch's first-step rule.
        loss: optional loss to check for shift invariance (Lemma 1) first.
        return_state: also return the whole state trajectory, shape (steps + 1, n, d).
        schedules: ``{hyperparameter name: sequence or callable t -> value}`` (momentum
            cycled by OneCycleLR, a weight-decay schedule, ...); the others keep the
            spec's values. Checked per step against the declarations.
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps <= 0:
        raise NCTheoryError(f"steps must be a positive integer, got {steps!r}")
    if lr_schedule is not None:  # validated as before (its own messages), then one schedule among others
        schedules = merge_lr_schedule(spec, schedules, learning_rates(spec, steps, lr_schedule))
    dyn = row_sum_dynamics(spec.without(*(schedules or {})), loss=loss)
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
    trajectory = np.empty((steps + 1, n, s0.size))
    trajectory[0] = state
    for step, matrix in enumerate(transitions(spec, steps, schedules, buffers_initialised=buffers0 is not None,
                                              exact=False)):
        state = matrix @ state
        trajectory[step + 1] = state
    return trajectory if return_state else trajectory[:, 0, :]
