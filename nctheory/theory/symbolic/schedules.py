"""Time-varying row-sum dynamics: one transition per step, ``x_{t+1} = A_t x_t``.

Let ``h_t`` be the hyperparameters in force at step ``t = 0, 1, ...`` (torch.optim reads
every ``param_group`` value afresh at each step, so a scheduler or a hand-written change of
``momentum``, ``weight_decay``, ``dampening`` or ``lr`` is exactly a sequence ``h_t``).
Each step is still linear in (weights, gradient, buffers), so Lemma 1 applies step by
step and the row-sum state obeys

    ``x_{t+1} = A_t x_t``,  ``A_t = A(h_t; init_t)`` at ``STEP = t + 1``,

where ``A(h; init)`` is the general symbolic transition
(:func:`~nctheory.theory.symbolic.rowsum.general_transition`), ``init_0`` says whether the
buffers already hold values (False for a fresh optimizer: torch's ``b_1 = d_0``) and
``init_t = True`` for ``t >= 1``. Hence ``x_T = A_{T-1} ... A_1 A_0 x_0`` exactly; a
constant ``h`` gives back ``A^(T-1) A_first``.

**Schedules.** ``schedules`` maps hyperparameter names to a sequence (at least ``steps``
values; extra values are ignored) or a callable ``t -> value``; hyperparameters without a
schedule keep the spec's value. Each value is checked against its declaration
(:meth:`~nctheory.theory.hyperparams.Hyperparameter.validate`, the error naming the step)
and, with the spec's cross-hyperparameter constraints, per step. Exact mode reads floats as
the decimal they print as (``0.1 -> 1/10``), keeps rationals, and lets symbolic sympy
values through unchecked (a schedule of symbols ``mu_0, mu_1, ...``).

**Periodic optimizers** need no extra interface: the step index reaches ``A_t`` only
through :data:`~nctheory.theory.symbolic.rowsum.STEP`, the 1-based step counter that a
transform keeps in its state under the key ``"step"`` (the engine runs the step with
``step = STEP - 1`` once buffers are initialised, with the counter's initial value before).
Lookahead (Zhang et al., NeurIPS 2019; k steps, interpolation alpha) would be a transform at
the end of the chain with a counter and a ``slow`` buffer initialised to a copy of ``W``:
with ``t`` the incremented counter and ``c = [t mod k = 0]`` (sympy:
``Piecewise((1, Eq(Mod(t, k), 0)), (0, True))``; arrays: ``float(t % k == 0)``),

    ``slow' = slow + c alpha (W + d - slow)``,  update ``c (slow' - W) + (1 - c) d``.

Both are linear in ``(W, d, slow)`` with coefficients depending on ``t`` only, so the
engine derives ``A(h; init)`` with ``STEP`` inside, on the state ``(s, u, s_slow)``, and
:func:`transitions` evaluates it at each ``STEP = start + t + 1`` (``start``: steps the
optimizer took before). ``tests/test_schedules.py`` checks this with a periodic toy transform.
"""

from __future__ import annotations

import numbers

import numpy as np
import sympy as sp

from nctheory.errors import HyperparameterError, NCTheoryError
from nctheory.theory.symbolic.rowsum import STEP, _cached, general_transition, row_sum_dynamics, transition_at


def schedule_values(spec, steps: int, schedules=None, exact: bool = True) -> dict:
    """The validated value of each scheduled hyperparameter at steps ``0 .. steps-1``.

    Returns ``{name: values}``: a list of exact sympy numbers (``exact``) or a float64
    array. Unknown names, short sequences, non-numbers and values outside a declaration's
    range raise :class:`~nctheory.errors.HyperparameterError`, naming the hyperparameter
    and the step.
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 0:
        raise NCTheoryError(f"steps must be a nonnegative integer, got {steps!r}")
    if not schedules:
        return {}
    if not isinstance(schedules, dict):
        raise HyperparameterError(f"{spec.name}: schedules must be a dict {{hyperparameter name: sequence or "
                                  f"callable}}, got {type(schedules).__name__}")
    declared = {h.name: h for h in spec.hyperparameters}
    unknown = sorted(set(schedules) - set(declared), key=str)
    if unknown:
        raise HyperparameterError(
            f"{spec.name}: schedules has unknown hyperparameter(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(spec.hyperparameter_names)}")
    out = {}
    for name, schedule in schedules.items():
        raw = _raw_values(spec, name, schedule, steps)
        out[name] = _exact_values(spec, declared[name], raw) if exact else _float_values(spec, declared[name], raw)
    if spec.constraints and out:
        _check_constraints(spec, out, steps)
    return out


def _label(spec, name: str, step: int) -> str:
    return f"{spec.name}: schedules[{name!r}] at step {step}"


def _raw_values(spec, name: str, schedule, steps: int) -> list:
    if callable(schedule):
        return [schedule(t) for t in range(steps)]
    if isinstance(schedule, (str, bytes, dict)) or not hasattr(schedule, "__len__"):
        raise HyperparameterError(f"{spec.name}: schedules[{name!r}] must be a sequence of values or a "
                                  f"callable step -> value, got {type(schedule).__name__}")
    values = list(np.ravel(schedule)) if isinstance(schedule, np.ndarray) else list(schedule)
    if len(values) < steps:
        raise HyperparameterError(f"{spec.name}: schedules[{name!r}] has {len(values)} values but "
                                  f"steps={steps} need one per step")
    return values[:steps]


def _exact_values(spec, declaration, raw) -> list:
    out = []
    for step, value in enumerate(raw):
        if isinstance(value, sp.Basic) and value.free_symbols:
            out.append(value)  # symbolic: nothing to check
        else:
            out.append(declaration.validate(value, _label(spec, declaration.name, step)))
    return out


def _float_values(spec, declaration, raw) -> np.ndarray:
    for step, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            declaration.validate(value, _label(spec, declaration.name, step))  # raises: not a real number
    values = np.asarray(raw, dtype=np.float64)
    unique, first = np.unique(values, return_index=True)
    for step, value in sorted(zip(first, unique)):  # the earliest bad step is reported
        declaration.validate(float(value), _label(spec, declaration.name, int(step)))
    return values


def _check_constraints(spec, scheduled: dict, steps: int) -> None:
    """The spec's cross-hyperparameter rules (e.g. Nesterov's zero dampening) at every step."""
    seen = set()
    for step in range(steps):
        values = {**spec.values, **{name: vals[step] for name, vals in scheduled.items()}}
        key = tuple(sorted((k, str(v)) for k, v in values.items()))
        if key in seen:
            continue
        seen.add(key)
        for constraint in spec.constraints:
            constraint(f"{spec.name} (schedules, step {step})", values)


def _compile(symbolic_spec):
    """float64 functions ``(hyperparameters..., STEP) -> A(h; init)`` for init = False, True.

    Compiling the general formulas (not matrices with exact values substituted) keeps every
    evaluation in float64: a value like 2.2e-308, exact as a rational with a 324-digit
    denominator, would overflow if its rational were compiled instead.
    """
    symbols = [symbolic_spec.symbols()[n] for n in symbolic_spec.hyperparameter_names] + [STEP]
    compiled = {}
    for initialised in (False, True):
        matrix = general_transition(symbolic_spec, initialised)
        compiled[initialised] = (sp.lambdify(symbols, matrix, "numpy"), STEP in matrix.free_symbols)
    return compiled


def _needed(spec, scheduled) -> None:
    """Require values for the hyperparameters the matrices use that are neither set nor scheduled."""
    used = general_transition(spec, False).free_symbols | general_transition(spec, True).free_symbols
    names = [n for n, sym in spec.symbols().items() if sym in used and n not in scheduled]
    spec.require_values(*names)


def transitions(spec, steps: int, schedules=None, buffers_initialised: bool = False, exact: bool = True,
                start: int = 0):
    """An iterator over ``A_0, ..., A_{steps-1}``: the transition of each step under ``schedules``.

    ``A_t = A(h_t; init_t)`` at ``STEP = start + t + 1`` (module docstring), with
    ``init_0 = buffers_initialised`` and ``init_t = True`` afterwards; ``start`` counts the
    steps an already running optimizer took (it matters only for chains that read their
    step counter). ``exact=True`` yields sympy matrices (hyperparameters left unset and
    unscheduled stay symbolic); ``exact=False`` yields read-only float64 arrays, which
    needs every hyperparameter the matrices use. Matrices are computed once per distinct
    (hyperparameters, first step, step index where it matters). Arguments are checked
    when called, before the first matrix is asked for.
    """
    if not isinstance(start, numbers.Integral) or isinstance(start, bool) or start < 0:
        raise NCTheoryError(f"start must be a nonnegative integer (steps already taken), got {start!r}")
    values = schedule_values(spec, steps, schedules, exact=exact)  # checked now, not at the first next()
    general_transition(spec, True)  # refuses a nonlinear spec, naming the reason
    if exact:
        return _exact_transitions(spec, steps, values, buffers_initialised, start)
    _needed(spec, values)
    return _float_transitions(spec, steps, values, buffers_initialised, start)


def _exact_transitions(spec, steps, values, buffers_initialised, start):
    bound = row_sum_dynamics(spec)  # the spec's own values, substituted once and cached
    periodic = any(STEP in general_transition(spec, init).free_symbols for init in (False, True))
    cache = {}
    for t in range(steps):
        initialised = buffers_initialised or t > 0
        step_values = {name: vals[t] for name, vals in values.items()}
        if not step_values and not periodic:
            yield bound.transition(initialised)
            continue
        key = (initialised, start + t if periodic else None, tuple(step_values.items()))
        if key not in cache:
            cache[key] = transition_at(spec, start + t, step_values, initialised)
        yield cache[key]


def _float_transitions(spec, steps, values, buffers_initialised, start):
    compiled = _cached("transitions-float64", spec, _compile)
    fixed = {name: float(value) for name, value in spec.values.items()}
    columns = [values.get(name) for name in spec.hyperparameter_names]
    cache = {}
    for t in range(steps):
        initialised = buffers_initialised or t > 0
        function, uses_step = compiled[initialised]
        args = tuple(float(col[t]) if col is not None else fixed.get(name, 0.0)
                     for name, col in zip(spec.hyperparameter_names, columns))
        key = (initialised, start + t if uses_step else None, args)
        if key not in cache:
            matrix = np.array(function(*args, start + t + 1), dtype=np.float64)
            matrix.flags.writeable = False
            cache[key] = matrix
        yield cache[key]


def merge_lr_schedule(spec, schedules, lr_schedule, what: str = "lr_schedule") -> dict | None:
    """``schedules`` with the ``lr`` shorthand folded in (both at once is an error)."""
    if lr_schedule is None:
        return schedules
    if schedules and "lr" in schedules:
        raise HyperparameterError(f"{spec.name}: give the learning rates once, as {what} or as "
                                  f"schedules['lr'], not both")
    return {**(schedules or {}), "lr": lr_schedule}
