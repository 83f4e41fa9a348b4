r"""The rounding floor of a whole-trajectory comparison (:func:`noise_floor`): how far a
float run of a *true* linear theory can drift from the exact prediction, at a stated
confidence. Below it the comparison cannot tell a correct theory from a wrong one.

**The run's rounding is a random walk carried by the recurrence.** Write the row-sum state
of the run as ``x_{t+1} = A_t x_t + e_t + B_t r_t`` (THEORY.md section 3; ``A_t`` the exact
transition at the hyperparameters of step t): ``e_t`` collects the rounding of the state
tensors written at step t, ``r_t = 1^T G_t`` is the row sum of the *computed* gradient --
zero by Lemma 1 in exact arithmetic, rounding noise in floats -- and ``B_t = dx_{t+1}/dg`` is
how a gradient row sum enters the state (derived from the chain, like ``A_t``). Round to
nearest makes each written entry ``fl(y) = y + delta`` with ``|delta| <= ulp(y)/2`` and, for
an update that moves the entry by more than an ulp, ``delta`` nearly uniform on
``[-ulp/2, ulp/2]``: mean 0, variance ``ulp^2/12 <= u^2 y^2 / 3`` (``u`` the unit roundoff,
``ulp(y) <= 2 u |y|``). Summed over the K entries of a column and the d columns, one write of
a K x d tensor X adds to the row sums an error of mean 0 and expected squared norm at most
``(u^2/3) ||X||_F^2``. Per step:

* the weights: one write of ``W_{t+1}`` and the rounding of the update and of the decayed
  gradient ``d = G + lambda W`` it is made of: ``(u^2/3)(||W_{t+1}||^2 + 2 ||dW_t||^2 + (eta_t ||d_t||)^2)``;
* each buffer b: two writes (``mu b`` and ``+ (1 - tau) d``) and the rounding of d:
  ``(u^2/3)(2 ||b_{t+1}||^2 + ||d_t||^2)``;
* the gradient's row sum ``r_t``, measured by the tracker (``||1^T G_t||``; bfloat16 autocast
  leaves ~1e-3 of ``sqrt(K) ||G||``, float32 ~1e-7): injected along ``B_t`` with variance
  ``||r_t||^2``, but never more than :data:`GRADIENT_ROUNDING` ``u_c sqrt(K) ||G_t||_F`` with
  ``u_c`` the unit roundoff of the precision the logits were computed in -- a larger row sum
  is not rounding: Lemma 1's hypothesis fails (an MSE loss) and must show as a mismatch.

* a matrix map's output (Newton-Schulz; :mod:`nctheory.verdict.matrix_rounding`): zero row sums
  in exact arithmetic, rounding in floats, amplified by the iteration (``a^5 = 485`` for torch's
  coefficients on the argument's own row sum); injected into ``s`` with the variance derived
  there, the argument's relative row-sum variance read from the buffers' state ``C`` at that step.

Errors of different steps are independent (different values, different minibatches), so the
state error has covariance ``C_{t+1} = A_t C_t A_t^T + D_t`` with ``D_t`` the injections above
-- exact propagation of every component through the (non-normal) recurrence, no norm bound --
and ``sigma_t^2 = C_t[0, 0]`` bounds ``E ||s-error_t||^2``. A run that recorded no buffer or
gradient norms (``record.step_norms`` empty: runs of ``nctheory.runs.training``) gets the
worst case per entry instead, ``(2 eps sqrt(K) ||W_t||_F)^2`` into every component (its
row sums are summed in the run's dtype too: a measurement term ``(u^2/3)(K - 1) ||W_t||^2``
is always added).

**Confidence.** For a Gaussian error vector with ``E ||e||^2 = sigma^2``, ``||e||`` is
Lipschitz with constant ``||Cov||^(1/2) <= sigma`` and ``E ||e|| <= sigma``, so
``P(||e|| >= (1 + r) sigma) <= exp(-r^2 / 2)``: with :data:`CONFIDENCE_Z` ``= 1 + r = 8``
a true theory exceeds ``Z sigma_t`` at a given step with probability below 2.3e-11, at any of
10^6 steps below 2.3e-5. The errors are sums of many independent roundings (the central limit
theorem makes them Gaussian to the degree this needs) and the variances above are upper
bounds (the mean of ``ulp^2/12`` is 0.18 ``u^2 y^2``, not 0.33). Validation (numerics/
float32_rounding.py, results in numerics/results/float32_rounding.json): over every step of 50
random float32 runs (SGD, heavy ball with dampening, Nesterov, QHM; constant, step, warm-up
from 0, cosine to 0 and OneCycle schedules; 300-3,000 steps) the largest
``||pred_t - meas_t|| / sigma_t`` was 2.2 (median over runs 0.93): the model is realistic,
and the floor ``8 sigma`` keeps a margin of 3.6; bfloat16 autocast runs gave 1.4.

**The prediction's own rounding** is systematic and bounded entrywise:
``v_{t+1} = |A_t| v_t + n eps_64 |A_t| |x_t|`` (n = state size, ``|x_t|`` the row norms of the
predicted state). **The run's constants** (lr, decay, momentum, dampening) may be read in the
run's precision: a relative change ``u h`` of hyperparameter h moves the trajectory, to first
order, by ``y_t`` with ``y_{t+1} = A_t y_t + (dA_t/dh) u h x_t`` (dA/dh by central
differences of the exact transition); their norms add. The floor is
``Z sigma_t + v_t + sum_h ||y^h_t||`` (absolute, per step).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from nctheory.verdict.record import machine_eps, weight_norm_per_step

#: Confidence factor on the random part (module docstring: P(exceeded at one step) <= exp(-(Z-1)^2/2)).
CONFIDENCE_Z = 8.0
#: A gradient row sum counts as rounding up to this many unit roundoffs of the logits'
#: precision times sqrt(K) ||G||_F (measured on MLPs, K = 5 and 10, cross-entropy with and
#: without label smoothing, 200 steps each: at most 3.8 u in float32 and 0.7 u in bfloat16
#: autocast, median 0.9 u and 0.23 u; MSE, whose row sums are not rounding: 0.009 -- 0.03
#: median, 0.5 at most -- above the float32 cap by a factor 10^4).
GRADIENT_ROUNDING = 16.0
#: Fallback per-step worst case (no buffer / gradient norms recorded), in eps sqrt(K) ||W||_F.
FALLBACK_TERMS = 2.0
#: Kept for compatibility: the old name of the confidence factor.
NOISE_SAFETY = CONFIDENCE_Z

_EPS64 = float(np.finfo(np.float64).eps)
_UNIT = {"float64": _EPS64 / 2, "float32": float(np.finfo(np.float32).eps) / 2,
         "bfloat16": 2.0 ** -8, "float16": 2.0 ** -11}
_FD = 1e-6  # relative step of the central differences dA/dh


def unit_roundoff(dtype: str) -> float:
    """``u`` of a dtype name (float64, float32, bfloat16, float16)."""
    return _UNIT[dtype]


def _input_columns(spec):
    """float64 functions ``(hyperparameters..., STEP) -> B(h; init)``: how a gradient row sum
    enters the state, for init = False, True (derived from the chain like ``A``)."""
    from nctheory.theory.symbolic.rowsum import (GRADIENT_ROW_SUM, STEP, buffer_symbols, symbolic_step)

    symbols = [spec.symbols()[n] for n in spec.hyperparameter_names] + [STEP]
    out = {}
    for initialised in (False, True):
        new_w, new_b = symbolic_step(spec, initialised)
        outputs = [new_w] + [new_b[symbol] for _, _, symbol in buffer_symbols(spec)]
        column = sp.Matrix([sp.diff(o, GRADIENT_ROW_SUM) for o in outputs])
        out[initialised] = sp.lambdify(symbols, column, "numpy")
    return out


def _per_step_hp(theory, T, lrs, schedules):
    """``{name: array of T values}`` of every hyperparameter at every step."""
    out = {name: np.full(T, float(value)) for name, value in theory.values.items()}
    for name, values in (schedules or {}).items():
        out[name] = np.asarray(values, dtype=np.float64)[:T]
    out["lr"] = np.asarray(lrs, dtype=np.float64)[:T]
    return out


def _matrices(theory, T, hp, buffers_initialised):
    from nctheory.theory.symbolic.schedules import transitions

    scheduled = {k: v for k, v in hp.items() if k in theory.hyperparameter_names}
    return np.array(list(transitions(theory, T, scheduled, buffers_initialised=buffers_initialised, exact=False)))


def _columns(theory, T, hp, buffers_initialised):
    from nctheory.theory.symbolic.rowsum import _cached

    functions = _cached("noise-input-columns", theory, _input_columns)
    names = theory.hyperparameter_names
    out, cache = np.empty((T, len(theory.row_sum_dynamics().state))), {}
    for t in range(T):
        init = buffers_initialised or t > 0
        args = tuple(float(hp[n][t]) if n in hp else 0.0 for n in names)
        key = (init, args)
        if key not in cache:
            cache[key] = np.asarray(functions[init](*args, t + 1), dtype=np.float64).ravel()
        out[t] = cache[key]
    return out


def _injections(record, theory, hp, T, n, u, K):
    """``(diag variances (T, n), gradient variances (T,), source)`` (module docstring)."""
    norms = getattr(record, "step_norms", None) or {}
    wnorm, source = weight_norm_per_step(record)
    if "w_fro" in norms:
        wnorm = np.asarray(norms["w_fro"], dtype=np.float64)
    w_next = wnorm[1:T + 1]
    needed = ("update_fro", "grad_fro", "grad_row_sum")
    buffer_keys = [f"buffer_fro:{b}" for t in theory.chain for b in t.buffers]
    if not all(k in norms for k in needed) or not all(k in norms and np.all(np.isfinite(norms[k][:T]))
                                                      for k in buffer_keys[:n - 1]):
        worst = (FALLBACK_TERMS * 2 * u * math.sqrt(K) * w_next) ** 2
        return np.repeat(worst[:, None], n, axis=1), np.zeros(T), \
            f"worst case per entry (no buffer or gradient norms recorded); ||W||_F {source}"
    update, grad, grad_rows = (np.asarray(norms[k], dtype=np.float64)[:T] for k in needed)
    lam = hp.get("weight_decay", np.zeros(T))
    d = grad + lam * wnorm[:T]
    diag = np.empty((T, n))
    diag[:, 0] = (u * u / 3) * (w_next ** 2 + 2 * update ** 2 + (hp["lr"] * d) ** 2)
    for i, key in enumerate(buffer_keys[:n - 1]):
        b = np.asarray(norms[key], dtype=np.float64)[:T]
        diag[:, i + 1] = (u * u / 3) * (2 * b ** 2 + d ** 2)
    compute = (getattr(record, "config", None) or {}).get("compute_dtype", record.dtype)
    u_c = max(_UNIT.get(compute, u), u)
    cap = GRADIENT_ROUNDING * u_c * math.sqrt(K) * grad
    return diag, np.minimum(grad_rows, cap) ** 2, f"measured per step ({compute} logits)"


def _matrix_terms(record, theory, hp, T, n, u, K, wnorm, grad_var):
    """``(alpha, beta, argument, note)`` of :func:`nctheory.verdict.matrix_rounding.matrix_output_terms`;
    ``argument(t, C, A)`` is ``eps_in,t^2``, the relative row-sum variance of the matrix map's
    argument at step t: ``(4/3) u^2`` (three writes forming it and the normalisation) plus, with
    recorded norms, ``C[i, i] / ||b_i||^2`` of each buffer (the state just updated) and
    ``||r_t||^2 / ||G_t||^2`` (the relative row sums of the parts, added: each part counts at most
    its own size in the argument); without them the fallback's per-entry worst case
    ``(FALLBACK_TERMS 2 u sqrt(K))^2`` accumulated over ``min(t + 1, 1 / (1 - rho^2))`` steps
    (``rho`` the buffers' largest diagonal transition)."""
    from nctheory.verdict.matrix_rounding import matrix_output_terms

    norms = getattr(record, "step_norms", None) or {}
    if "w_fro" in norms:
        wnorm = np.asarray(norms["w_fro"], dtype=np.float64)
    alpha, beta, note = matrix_output_terms(record, theory, hp, T, u, K, wnorm, norms)
    keys = [f"buffer_fro:{b}" for t in theory.chain for b in t.buffers][:n - 1]
    measured = "grad_fro" in norms and all(k in norms and np.all(np.isfinite(norms[k][:T])) for k in keys)

    def argument(t, C, A):
        base = (4 / 3) * u * u
        if measured:
            grad = float(norms["grad_fro"][t])
            base += grad_var[t] / grad ** 2 if grad > 0 else 0.0
            for i, k in enumerate(keys):
                size = float(norms[k][t])
                base += C[i + 1, i + 1] / size ** 2 if size > 0 else 0.0
            return base
        rho = max((abs(float(A[t][i, i])) for i in range(1, n)), default=0.0)
        steps = t + 1 if rho >= 1 else min(t + 1, 1 / (1 - rho * rho))
        return base + steps * (FALLBACK_TERMS * 2 * u) ** 2 * K

    return alpha, beta, argument, note


def _sensitivity(theory, T, hp, x, u, buffers_initialised, A):
    """``sum_h ||y^h_t[0]||``: the first-order effect of reading each hyperparameter with a
    relative error u (module docstring); shape (T + 1,)."""
    from nctheory.theory.symbolic.rowsum import general_transition

    total = np.zeros(T + 1)
    used = general_transition(theory, True).free_symbols | general_transition(theory, False).free_symbols
    for name in theory.hyperparameter_names:
        values = hp.get(name)
        if values is None or not np.any(values) or theory.symbols()[name] not in used:
            continue  # a hyperparameter the transitions do not depend on (Newton-Schulz's) moves nothing
        try:
            plus = _matrices(theory, T, {**hp, name: values * (1 + _FD)}, buffers_initialised)
            minus = _matrices(theory, T, {**hp, name: values * (1 - _FD)}, buffers_initialised)
            scale = u / (2 * _FD)
        except Exception:  # a value at the end of its range (momentum near 1): one-sided
            plus, minus, scale = A, _matrices(theory, T, {**hp, name: values * (1 - _FD)}, buffers_initialised), u / _FD
        dA = (plus - minus) * scale
        y = np.zeros_like(x[0])
        for t in range(T):
            y = A[t] @ y + dA[t] @ x[t]
            total[t + 1] += float(np.linalg.norm(y[0]))
    return total


def noise_floor(record, theory, lrs=None, schedules=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """See :func:`_noise_floor`; a theory whose prediction overflows gets an infinite floor
    there, silently (the verdict refutes a prediction that is not finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _noise_floor(record, theory, lrs, schedules)


def _noise_floor(record, theory, lrs=None, schedules=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(sigma, floor, info)`` at every step 0..T (absolute norms of ``pred_t - meas_t``).

    ``sigma``: the standard deviation of the run's rounding carried by the recurrence;
    ``floor = CONFIDENCE_Z sigma + systematic`` (module docstring). ``lrs`` and ``schedules``
    are the learning rates and per-step hyperparameters the theory predicts with (default:
    the record's). ``info``: the model's inputs and sizes for the report.
    """
    from nctheory.theory.predict import predict

    u = machine_eps(record) / 2
    K = record.num_classes
    lrs = np.asarray(record.learning_rates, float) if lrs is None else np.asarray(lrs, float)
    T = len(lrs)
    S = np.asarray(record.row_sums, dtype=np.float64)
    hp = _per_step_hp(theory, T, lrs, schedules if schedules is not None else getattr(record, "schedules", {}))
    init = theory.initial_buffers is not None
    A = _matrices(theory, T, hp, init)
    n = A.shape[1]
    Bcol = _columns(theory, T, hp, init)
    diag, grad_var, source = _injections(record, theory, hp, T, n, u, K)
    scheduled = {k: v for k, v in hp.items() if k in theory.hyperparameter_names and k != "lr"}
    x = predict(theory, S[0], T, lr_schedule=lrs, buffers0=theory.initial_buffers, return_state=True,
                schedules=scheduled or None)
    wnorm, _ = weight_norm_per_step(record)
    alpha, beta, argument, note = _matrix_terms(record, theory, hp, T, n, u, K, wnorm, grad_var)
    C = np.zeros((n, n))
    v = np.zeros(n)
    sigma2, system = np.zeros(T + 1), np.zeros(T + 1)
    for t in range(T):
        C = A[t] @ C @ A[t].T + np.diag(diag[t]) + grad_var[t] * np.outer(Bcol[t], Bcol[t])
        if not np.isfinite(beta[t]):  # a matrix map whose rounding has no bound: nothing resolves
            sigma2[t + 1:] = np.inf
            break
        if alpha[t] or beta[t]:  # the matrix map's output rounding (nctheory.verdict.matrix_rounding)
            C[0, 0] += alpha[t] ** 2 * argument(t, C, A) + beta[t] ** 2
        sigma2[t + 1] = C[0, 0]
        absA = np.abs(A[t])
        v = absA @ v + n * _EPS64 * absA @ np.linalg.norm(x[t], axis=1)
        system[t + 1] = v[0]
    system += _sensitivity(theory, T, hp, x, u, init, A)
    measurement = (u * u / 3) * (K - 1) * wnorm[:T + 1] ** 2  # the row sums summed in the run's dtype
    sigma = np.sqrt(sigma2 + measurement)
    floor = CONFIDENCE_Z * sigma + system
    floor = np.maximum(floor, K * _EPS64 * np.linalg.norm(S, axis=1))
    return sigma, floor, {"confidence_z": CONFIDENCE_Z, "injection": source + note,
                          "sigma_at_end": float(sigma[-1]), "systematic_at_end": float(system[-1])}
