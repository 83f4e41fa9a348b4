r"""The rounding of a matrix map's output, for the rounding floor of :mod:`nctheory.verdict.noise`.

In exact arithmetic a left-orthogonally equivariant map of a centred argument has zero row
sums (theorem matrix_row_sums), so decoupled Muon follows ``s' = (1 - eta lambda) s``. In
floats the computed output ``fl(O_t)`` has a row sum ``1^T fl(O_t)`` of rounding size, and the
run's row sums receive ``-eta_eff 1^T fl(O_t)`` each step: a random injection into ``s`` that
the linear model (writes of weights and buffers) does not contain. Once ``s_t`` has decayed
geometrically (``eta lambda = 0.05``: ``1e-7`` of its start after 300 steps) it dominates.

**Newton-Schulz** (:class:`nctheory.theory.matrix_transforms.NewtonSchulzOrthogonalisation`;
Jordan et al. 2024, torch's ``_zeropower_via_newtonschulz``): ``X_0 = X_in / ||X_in||_F``,
``X_j = a X + (b A + c A^2) X`` with ``A = X X^T``, i.e. ``X_j = X p(X^T X)``,
``p(x) = a + b x + c x^2``, and singular values map by ``g(s) = s p(s^2)``. Hence, exactly,
``1^T X_j = (1^T X_{j-1}) p(X_{j-1}^T X_{j-1})``: a row-sum error already present is carried
with gain at most ``L_j = max_{0 <= x <= R_{j-1}^2} |p(x)|``, where ``R_0 = 1`` (``||X_0||_2 <=
||X_0||_F = 1``) and ``R_j = max_{0 <= s <= R_{j-1}} |g(s)|`` bound the spectral norms. For torch's
``(3.4445, -4.775, 2.0315)`` the maximum is ``p(0) = a``: the component of the row-sum error in
the null space of ``X`` (``d - K + 1`` directions when ``K <= d``) grows by ``a^5 = 485``.
Frobenius norms: ``F_0 = 1``, ``F_j = min(sqrt(r) R_j, L_j F_{j-1})``, ``r = min(K, d)``.

*Injected per iteration* (the probabilistic model of :mod:`nctheory.verdict.noise`: each
rounding ``delta`` mean 0, variance ``<= u^2 y^2 / 3``, independent; a length-n dot product
``x^T y`` summed recursively has error variance ``<= (u^2/3) n (|x|^T |y|)^2`` -- the rms form of
Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., section 3.5,
``|fl(PQ) - PQ| <= gamma_n |P||Q|`` -- so ``E ||fl(PQ) - PQ||_F^2 <= (u^2/3) n ||P||_F^2 ||Q||_F^2``;
for independent entries ``E ||1^T E||^2 = E ||E||_F^2``), with ``m = min(K, d)``,
``n = max(K, d)``, ``R, F`` of ``X_{j-1}``, ``F'`` of ``X_j``, in units of ``u^2``:

* the Gram ``A`` (inner length n), entering through ``(b + 2 c A) dA X``: ``(n/3) F^4 R^2 (|b| + 2|c| R^2)^2``;
* ``A A`` (inner length m, ``||A||_F <= R F``): ``(m/3) c^2 R^6 F^4``;
* the scalings and sum ``b A + c A^2``, through ``X``: ``R^2 F^2 (|b| R + |c| R^3)^2``;
* the product ``B X`` (inner length m, ``||B||_F <= (|b| R + |c| R^3) F``): ``(m/3) (|b| R + |c| R^3)^2 F^4``;
* ``a X`` and the final sum: ``(a^2 F^2 + F'^2) / 3``.

Each is carried to the output with gain ``prod_{i > j} L_i``; the input's relative row sum
``eps_in`` (the buffers' row-sum rounding, tracked by the noise model, plus the normalisation)
with gain ``G = prod_j L_j``. The output's row sum, for ``||X_0||_F = 1``, has
``E ||1^T fl(O)||^2 <= G^2 eps_in^2 + u^2 sum_j (prod_{i>j} L_i)^2 e_j``. The update is
``eta_eff O`` with ``||O||_F >= o_min = min_{1/sqrt(r) <= s <= 1} |g^N(s)|`` (the largest
singular value of ``X_0`` is at least ``1/sqrt(r)``), and ``eta_eff ||O||_F = ||W_{t+1} -
(1 - eta lambda) W_t||_F`` (decoupled decay, the map followed by the learning rate only),
at most ``||dW_t||_F + eta lambda ||W_t||_F`` (recorded) or ``||W_{t+1}||_F + |1 - eta lambda|
||W_t||_F``. So the injection into ``s`` has variance ``(m_t / o_min)^2 (G^2 eps_in^2 +
u^2 sum_j ...)`` -- or, needing no measurement, ``eta_eff = eta s(K, d)`` (torch's shape factor,
:func:`~nctheory.theory.matrix_transforms.shape_factor`) times ``||1^T fl(O)||`` directly; the
smaller of the two is used. No constant is fitted to a run.

Validation (numerics/matrix_rounding_floor.py, results in numerics/results/matrix_rounding_floor.json):
float64 Newton-Schulz alone on centred Gaussian K x d matrices (5x16 .. 50x64, 20 seeds each) stays
at 0.002 -- 0.074 of the derived bound (a bound: Higham's ``n |x|^T |y|`` and Frobenius products are
not attained); 27 float64 Muon runs (UFM, 300 steps, 3 seeds, eta 0.01 -- 0.05, eta lambda
0.005 -- 0.05) are all verified, their largest ``||pred_t - meas_t|| / sigma_t`` 0.46 (median 0.27,
against the confidence factor 8), and all 27 judged against a 1.2x wrong decay are refuted.
Other matrix maps (Shampoo's inverse roots, SOAP's eigenbasis and Adam step) are not modelled
here: the floor's description (``injection``) names them as not modelled. SOAP's is of another
order: Adam divides the eigenbasis' rounding on the 1-direction by ``sqrt(v) + eps``, ``~u ||m|| /
eps`` of ``||U||`` per step (:mod:`nctheory.optimizers.soap`), and bounding it needs the smallest
nonzero eigenvalue of its statistics, which no record holds (measured: 10 of 27 true SOAP runs
verified at the settings above, error / sigma up to 3e5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_GRID = 20001  # points of the grid on which o_min = min |g^N| is taken (g^N smooth; see below)


@dataclass(frozen=True)
class NewtonSchulzRounding:
    """``gain`` = ``G = prod_j L_j``; ``own`` = ``sqrt(sum_j (prod_{i>j} L_i)^2 e_j)`` (units of u);
    ``output_min`` = ``o_min`` (module docstring; all for ``||X_0||_F = 1``)."""

    gain: float
    own: float
    output_min: float


def _extremes(coefficients, top):
    """Points of [0, top] where a polynomial (coefficients by increasing power) can have its
    largest modulus: the ends and the real critical points inside."""
    roots = np.roots(np.polyder(np.poly1d(coefficients[::-1])).coeffs) if len(coefficients) > 2 else []
    inside = [float(z.real) for z in np.atleast_1d(roots) if abs(z.imag) < 1e-12 and 0 <= z.real <= top]
    return np.array([0.0, top] + inside)


def newton_schulz_rounding(a: float, b: float, c: float, steps: int, K: int, d: int) -> NewtonSchulzRounding:
    """The constants of the module docstring for coefficients (a, b, c), ``steps`` iterations
    and a K x d matrix."""
    r, m, n = min(K, d), min(K, d), max(K, d)
    p = np.array([a, b, c])
    g = np.array([0.0, a, 0.0, b, 0.0, c])
    R, F = 1.0, 1.0
    gains, injected = [], []
    for _ in range(int(steps)):
        L = float(np.max(np.abs(np.polyval(p[::-1], _extremes(p, R * R)))))
        R_next = float(np.max(np.abs(np.polyval(g[::-1], _extremes(g, R)))))
        F_next = min(math.sqrt(r) * R_next, L * F)
        B = abs(b) * R + abs(c) * R ** 3
        e = ((n / 3) * F ** 4 * R ** 2 * (abs(b) + 2 * abs(c) * R * R) ** 2 + (m / 3) * c * c * R ** 6 * F ** 4
             + R * R * F * F * B * B + (m / 3) * B * B * F ** 4 + (a * a * F * F + F_next ** 2) / 3)
        gains.append(L)
        injected.append(e)
        R, F = R_next, F_next
    own2 = sum(e * float(np.prod(gains[j + 1:])) ** 2 for j, e in enumerate(injected))
    s = np.linspace(1 / math.sqrt(r), 1.0, _GRID)
    for _ in range(int(steps)):
        s = s * (a + b * s * s + c * s ** 4)
    # |g^N| is Lipschitz on the grid's range; the grid's spacing (< 5e-5) moves its minimum by far
    # less than the 1.0 -> 0.7 range it takes for torch's coefficients.
    return NewtonSchulzRounding(float(np.prod(gains)), math.sqrt(own2), float(np.min(np.abs(s))))


def _classifier_width(record):
    """d of the K x d classifier: a tracked model's ``classifier_shape``, a run's ``dim`` (the UFM's
    feature dimension, a network's penultimate width) or hidden ``width``; None if unrecorded."""
    config = getattr(record, "config", None) or {}
    shape = config.get("classifier_shape")
    if shape and len(shape) == 2:
        return int(shape[1])
    for key in ("dim", "width"):
        if config.get(key):
            return int(config[key])
    return None


def matrix_output_terms(record, theory, hp, T, u, K, wnorm, norms):
    """``(alpha (T,), beta (T,), note)``: the matrix maps' output rounding injects into ``s`` at
    step t a variance ``alpha_t^2 eps_in,t^2 + beta_t^2`` (module docstring; ``eps_in`` the
    relative row sum of the map's argument, from the noise model's state). Zeros when the
    chain has no Newton-Schulz map; ``note`` says what was modelled."""
    from nctheory.theory.matrix_transforms import (
        NewtonSchulzOrthogonalisation,
        shape_factor,
    )
    from nctheory.theory.transforms import MATRIX

    alpha, beta = np.zeros(T), np.zeros(T)
    maps = [t for t in theory.chain if isinstance(t, NewtonSchulzOrthogonalisation)]
    others = sorted({type(t).__name__ for t in theory.chain if t.nature == MATRIX and t not in maps})
    missing = f"; output rounding of {', '.join(others)} not modelled" if others else ""
    if not maps:
        return alpha, beta, missing
    d = _classifier_width(record)
    if d is None:  # the inner lengths are unknown: no bound, so no step can be resolved
        return alpha, np.full(T, np.inf), "; Newton-Schulz output rounding: classifier width unknown (no bound)"
    v = theory.values
    ns = newton_schulz_rounding(float(v["ns_a"]), float(v["ns_b"]), float(v["ns_c"]), int(v["ns_steps"]), K, d)
    lam = hp.get("weight_decay", np.zeros(T))[:T]
    lr = hp["lr"][:T]
    if "update_fro" in norms:
        moved = np.asarray(norms["update_fro"], dtype=np.float64)[:T] + np.abs(lr * lam) * wnorm[:T]
    else:
        moved = wnorm[1:T + 1] + np.abs(1 - lr * lam) * wnorm[:T]
    scale = np.zeros(T)
    for t in maps:  # eta_eff = eta * torch's shape factor, at most ||eta_eff O||_F / o_min
        scale += np.minimum(np.abs(lr) * float(shape_factor(t.lr_scaling, (K, d))), moved / ns.output_min)
    note = (f"; Newton-Schulz output rounding (gain {ns.gain:.3g} on the argument's row sum, "
            f"{ns.own:.3g} u of its own, ||O||_F >= {ns.output_min:.3g})")
    return scale * ns.gain, scale * u * ns.own, note + missing
