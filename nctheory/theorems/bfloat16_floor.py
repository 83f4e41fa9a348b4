r"""The rounding floor of torch.optim.Muon's bfloat16 Newton-Schulz: where NC0 settles.

**Setting.** ``torch.optim.Muon`` (Jordan et al. 2024; ``torch/optim/_muon.py``) casts the
centred argument M (``1^T M = 0``: Lemma 1, decoupled decay) to bfloat16 and runs 5 quintic
Newton-Schulz iterations in bfloat16. In exact arithmetic ``1^T O = 0`` (theorem
matrix_row_sums); in bfloat16 every write rounds, and the row sums pick up ``rho_t = 1^T O_t``.

**Derivation.**

1. *One write.* Rounding to nearest with unit roundoff ``u = 2^-8`` (8 significant bits) errs
   by ``ulp(y)^2/12`` in mean square; over a binade with log-uniform mantissa that is
   ``u^2 y^2 / (8 ln 2) = 0.180 u^2 y^2`` (exact integral below). One write of a K x d iterate
   Y adds to ``1^T Y`` an error of mean square ``0.180 u^2 ||Y||_F^2``, spread over the d right
   directions.
2. *Phantom direction.* Split ``X = X_0 + e w^T`` with ``e = 1/sqrt(K)``, ``1^T X_0 = 0`` and
   ``X_0 w = 0`` (w in the right null space of the argument, of dimension ``d - rank >= d - K
   + 1`` when ``K <= d``). Then one iteration maps ``X_0 -> N(X_0)`` and ``w -> (a + b|w|^2 +
   c|w|^4) w`` exactly (proved below): the 1-component along the null space evolves under the
   scalar map ``f(s) = a s + b s^3 + c s^5`` with ``f'(0) = a = 3.4445``. Five iterations
   amplify a rounding of size ``~u`` by up to ``a^5 ~ 488`` -- until f saturates near 1: the
   bfloat16 output carries a *phantom singular value* of order 0.5 on ``1``. Along a range
   direction v_j (singular value s_j) the gain per iteration is ``f(s_j)/s_j`` instead.
   :func:`phantom_variance` iterates exactly this, per right direction, with fresh rounding at
   each write (cast, division, five iterates; the Gram writes feed only range directions and
   are left out), by Monte Carlo: ``E||rho||^2 = K E sigma^2``.
3. *Recurrence.* ``s_{t+1} = q s_t - eta' rho_t`` with ``q = 1 - eta lambda`` (decoupled decay),
   ``eta' = eta sqrt(max(1, K/d))`` and ``rho_t`` zero-mean, independent of s (Lemma 1: the
   gradient's row sums do not see the weights) and of each other (minibatches change the
   argument by far more than an ulp). So ``E||s_t - q^t s_0||^2 = D (1 - q^{2t}) / (1 - q^2)``
   with ``D = eta'^2 E||rho||^2``: NC0 settles at ``sqrt(D / (1 - q^2)) ~ eta' sqrt(E||rho||^2 /
   (2 eta lambda))`` -- it grows like ``sqrt(eta / lambda)`` and does not vanish.

The numerical check (:func:`check_floor`) runs torch's own Muon on the UFM over 3 step sizes x 2
decays, records the Newton-Schulz arguments, and compares the predicted floor with the RMS
deviation of the measured row sums from ``q^t s_0`` over the second half of the run (t >= 3 /
(eta lambda), where ``1 - q^{2t} > 0.997``: the plateau), within a factor 2. The RMS over a window
of ``T/2`` steps of a process with correlation time ``1 / (2 eta lambda)`` averages ~6
independent values of a chi-square with ~d degrees of freedom: about 15% scatter, so a factor 2
separates a right model from a wrong one (the model without amplification is off by > 100).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace

import numpy as np
import sympy as sp

from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, fact, identity

U_BF16 = 2.0 ** -8
#: Mean square of a round-to-nearest error relative to ``u^2 y^2``: ``1/(8 ln 2)`` (step 1).
ROUNDING_MEAN_SQUARE = 1 / (8 * math.log(2))
COEFFICIENTS = (3.4445, -4.7750, 2.0315)
#: The check's grid: torch's Muon at these (lr, weight_decay), each run ``ceil(6 / (lr wd))``
#: steps (``q^{2T} < e^-12``: s_0 forgotten), UFM K = 5, d = 16, minibatches of 16, float64.
GRID = ((0.01, 0.5), (0.02, 0.5), (0.04, 0.5), (0.01, 1.0), (0.02, 1.0), (0.04, 1.0))
FACTOR = 2.0
#: Newton-Schulz arguments recorded per run (every ``T // SAMPLES``-th step; the injection is held
#: in between) and Monte Carlo draws per argument.
SAMPLES, DRAWS = 60, 400


def _scalar_map(s, coefficients=COEFFICIENTS):
    a, b, c = coefficients
    return a * s + b * s ** 3 + c * s ** 5


def phantom_variance(M, coefficients=COEFFICIENTS, steps: int = 5, u: float = U_BF16, draws: int = 2000,
                     seed: int = 0, amplify: bool = True, eps: float = 1e-7) -> float:
    """Predicted ``E||1^T O||^2`` for bfloat16 Newton-Schulz of the centred argument ``M`` (step 2),
    normalised as torch does by ``max(||M||_F, eps)`` (a vanishing gradient leaves a small X,
    whose phantom stays small).

    ``amplify=False`` is the wrong model that lets rounding pass with gain 1 (a control)."""
    rng = np.random.default_rng(seed)
    M = np.asarray(M, dtype=np.float64)  # K x d; torch's transposed branch computes the same X p(X^T X)
    K, d = M.shape
    norm = float(np.linalg.norm(M))
    if norm == 0:
        return 0.0
    X = M / max(norm, eps)
    singular = np.zeros(d)
    values = np.linalg.svd(X, compute_uv=False)
    singular[:len(values)] = np.where(values > 1e-12 * values.max(), values, 0.0)
    spectra = [singular]
    for _ in range(steps):
        spectra.append(_scalar_map(spectra[-1], coefficients))
    write = lambda k: math.sqrt(ROUNDING_MEAN_SQUARE * u * u * float(np.sum(spectra[k] ** 2)) / (d * K))  # noqa: E731
    if singular.max() == 0:
        return 0.0
    component = math.sqrt(2) * write(0) * rng.normal(size=(draws, d))  # the cast and the division
    for k in range(steps):
        if amplify:
            total = np.sqrt(spectra[k] ** 2 + component ** 2)
            safe = np.where(total > 0, total, 1.0)
            component = component * np.where(total > 0, _scalar_map(safe, coefficients) / safe, coefficients[0])
        component = component + write(k + 1) * rng.normal(size=(draws, d))
    return float(K * np.mean(np.sum(component ** 2, axis=1)))


def predicted_deviation(D: float, q: float, t):
    """RMS of ``||s_t - q^t s_0||`` for injections of mean square D per step (step 3)."""
    t = np.asarray(t, dtype=np.float64)
    return np.sqrt(D * (1 - q ** (2 * t)) / (1 - q * q))


def predicted_curve(D_per_step, q: float) -> np.ndarray:
    """RMS of ``||s_t - q^t s_0||`` for t = 0..T when step t injects mean square ``D_t``:
    ``V_{t+1} = q^2 V_t + D_t`` (step 3 with a step-dependent injection)."""
    V = np.zeros(len(D_per_step) + 1)
    for t, D in enumerate(D_per_step):
        V[t + 1] = q * q * V[t] + D
    return np.sqrt(V)


@contextlib.contextmanager
def recorded_arguments(shape, every: int = 10):
    """Record (every ``every``-th) float64 copy of the arguments of torch's Newton-Schulz of this shape."""
    import torch.optim._muon as torch_module

    original, seen, count = torch_module._zeropower_via_newtonschulz, [], [0]

    def recording(grad, *args, **kwargs):
        if tuple(grad.shape) == tuple(shape):
            if count[0] % every == 0:
                seen.append(grad.detach().double().cpu().numpy().copy())
            count[0] += 1
        return original(grad, *args, **kwargs)

    torch_module._zeropower_via_newtonschulz = recording
    try:
        yield seen
    finally:
        torch_module._zeropower_via_newtonschulz = original


def floor_run(lr: float, weight_decay: float, seed: int = 0, own_bfloat16: bool = True, steps=None) -> dict:
    """Train the UFM with torch's Muon (``own_bfloat16``) or its float64-Newton-Schulz reference and
    return the predicted floor, the measured tail deviation and the predicted / measured curves."""
    from nctheory.optimizers import muon as muon_module
    from nctheory.runs.training import run_training
    from nctheory.runs.training.config import RunConfig

    spec = muon_module.SPEC
    spec = spec.with_hparams(**{**spec.example_values(), "lr": lr, "weight_decay": weight_decay})
    if own_bfloat16:
        spec = replace(spec, reference_implementation=spec.torch[0])  # torch.optim.Muon itself
    T = steps or int(math.ceil(6 / (lr * weight_decay)))
    sizes = RunConfig(model="ufm").ufm_sizes()
    K, d = sizes["num_classes"], sizes["dim"]
    every = max(1, T // SAMPLES)
    with recorded_arguments((K, d), every=every) as seen:
        record = run_training(spec, model="ufm", steps=T, seed=seed, record_every=max(1, T // 20), batch_size=16)
    S = np.asarray(record.row_sums, dtype=np.float64)
    q = 1 - lr * weight_decay
    deviation = np.linalg.norm(S - S[0][None, :] * q ** np.arange(T + 1)[:, None], axis=1)
    eta = lr * math.sqrt(max(1.0, K / d))
    per_step = lambda amplify: np.repeat([eta * eta * phantom_variance(M, seed=i, draws=DRAWS, amplify=amplify)  # noqa: E731
                                          for i, M in enumerate(seen)], every)[:T] if seen else np.full(T, np.nan)
    curve, wrong = predicted_curve(per_step(True), q), predicted_curve(per_step(False), q)
    tail = np.arange(T // 2, T + 1)  # t >= 3 / (eta lambda): 1 - q^(2t) > 0.997, the plateau
    rms = lambda x: float(np.sqrt(np.mean(x[tail] ** 2)))  # noqa: E731
    return {"lr": lr, "weight_decay": weight_decay, "steps": T, "implementation": record.implementation,
            "predicted_floor": rms(curve), "predicted_floor_without_amplification": rms(wrong),
            "measured_floor": rms(deviation), "nc0_start": float(np.linalg.norm(S[0])),
            "measured_deviation": deviation, "predicted_deviation": curve}


def check_floor(name: str, seed: int = 0) -> NumericalCheck:
    rows = []
    for lr, wd in GRID:
        run = floor_run(lr, wd, seed)
        ratio = run["measured_floor"] / run["predicted_floor"]
        rows.append(Comparison(f"NC0 floor, lr = {lr:g}, weight_decay = {wd:g} ({run['steps']} steps)",
                               run["predicted_floor"], run["measured_floor"], 1 / FACTOR <= ratio <= FACTOR,
                               f"measured / predicted = {ratio:.2f} (factor {FACTOR:g} allowed)"))
        if (lr, wd) == GRID[0]:
            wrong = run["measured_floor"] / run["predicted_floor_without_amplification"]
            rows.append(Comparison("the model without Newton-Schulz's amplification (wrong theory)", "off by > 2",
                                   f"x {wrong:.3g}", not (1 / FACTOR <= wrong <= FACTOR), role="control"))
    control = floor_run(*GRID[0], seed, own_bfloat16=False, steps=400)
    rows.append(Comparison("float64 Newton-Schulz: deviation from (1 - eta lambda)^t s_0 (no floor)",
                           f"<< {rows[0].predicted:.3g}", control["measured_floor"],
                           control["measured_floor"] < 1e-6 * rows[0].predicted, role="control"))
    setting = (f"torch.optim.Muon (bfloat16 Newton-Schulz) on the UFM K = 5, d = 16, float64 weights, minibatches of "
               f"16, seed {seed}; momentum 0.95, Nesterov; each run 6 / (lr weight_decay) steps")
    return NumericalCheck(name, setting, tuple(rows))


class Bfloat16Floor(Theorem):
    """The bfloat16 floor's derivation (steps 1-3) as exact sympy steps; ``a`` replaceable."""

    name = "bfloat16_floor"
    title = "torch.optim.Muon in bfloat16: NC0 settles at a rounding floor ~ sqrt(eta / lambda)"
    statement = ("With torch's bfloat16 Newton-Schulz the row sums follow s_{t+1} = (1 - eta lambda) s_t - eta' rho_t "
                 "with zero-mean independent rho_t = 1^T O_t; each rounding's component on 1 along the argument's "
                 "right null space is amplified by Newton-Schulz's scalar map (slope a = 3.4445 at 0) to a phantom "
                 "singular value of order 0.5, so E||s_t - (1 - eta lambda)^t s_0||^2 = D (1 - q^(2t)) / (1 - q^2) "
                 "with D = eta'^2 E||rho||^2: NC0 settles at sqrt(D / (1 - q^2)) ~ eta' sqrt(E||rho||^2 / "
                 "(2 eta lambda)).")
    statement_latex = (r"$\mathbb E\|s_t - q^t s_0\|^2 = \eta'^2\,\mathbb E\|\mathbf 1^\top O\|^2\,"
                       r"\frac{1-q^{2t}}{1-q^2}$, $q = 1-\eta\lambda$: NC0 $\to \eta'\sqrt{\mathbb E\|\mathbf 1^\top O"
                       r"\|^2/(2\eta\lambda)}$.")
    hypotheses = ("decoupled weight decay; the argument of Newton-Schulz built from gradients of a shift-invariant "
                  "loss (1^T M = 0 exactly)", "round to nearest in bfloat16 (u = 2^-8) at every write of the "
                  "iterates; products accumulate in higher precision", "the roundings of different steps are "
                  "independent and zero-mean (minibatches move the argument by far more than an ulp)",
                  "first order in u except along the phantom direction, where the scalar map is exact")
    reference = "Jordan et al. 2024 (Muon); torch/optim/_muon.py; Higham, Accuracy and Stability, 2002, ch. 2"
    status = ("the decoupling, the slope, the rounding constant and the variance of the recurrence proved exactly; "
              "E||1^T O||^2 evaluated from them by Monte Carlo on the recorded arguments; the floor checked against "
              "torch's own Muon within a factor 2")

    def __init__(self, slope=sp.Rational("3.4445")):
        self.slope = slope

    def check(self, seed: int = 0) -> NumericalCheck:
        """:func:`check_floor` (seeded runs on the CPU: computed once per seed and process)."""
        cache = self.__dict__.setdefault("_checks", {})
        if seed not in cache:
            cache[seed] = check_floor(self.name, seed)
        return cache[seed]

    environment = "proposition"

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_beyond`)."""
        from nctheory.theorems.prose_beyond import bfloat16_floor_tex

        return bfloat16_floor_tex(self)

    def steps(self):
        y, u = sp.symbols("y u", positive=True)
        mean_square = sp.integrate((2 * u) ** 2 / 12 / y ** 2 / (y * sp.log(2)), (y, 1, 2))
        yield identity("one write: mean of ulp^2/12 over a binade, log-uniform mantissa, ulp = 2u: u^2/(8 ln 2) "
                       "relative to y^2", mean_square, u ** 2 / (8 * sp.log(2)), "simplify")
        X0, X0t, e, et, w, wt = sp.symbols("X_0 X_0^T e e^T w w^T", commutative=False)
        a, b, c, omega = sp.symbols("a b c Omega")
        rules = {et * X0: 0, X0t * e: 0, X0 * w: 0, wt * X0t: 0, et * e: 1, wt * w: omega}
        step = lambda X, Xt: a * X + b * X * Xt * X + c * X * Xt * X * Xt * X  # noqa: E731
        expr = sp.expand(step(X0 + e * wt, X0t + w * et))
        while (reduced := sp.expand(expr.subs(rules))) != expr:
            expr = reduced
        yield identity("phantom direction: N(X_0 + e w^T) = N(X_0) + (a + b|w|^2 + c|w|^4) e w^T when 1^T X_0 = 0, "
                       "X_0 w = 0 (e = 1/sqrt(K), |w|^2 = Omega)", expr,
                       sp.expand(step(X0, X0t) + (a + b * omega + c * omega ** 2) * e * wt))
        s = sp.Symbol("s")
        f = sp.Rational("3.4445") * s - sp.Rational("4.775") * s ** 3 + sp.Rational("2.0315") * s ** 5
        yield identity("the scalar map's slope at 0 is a (torch's coefficients)", sp.diff(f, s).subs(s, 0), self.slope)
        yield fact("five iterations amplify a small phantom by a^5 > 400", (self.slope ** 5,), self.slope ** 5 > 400)
        q, D, t = sp.symbols("q D t", positive=True)
        V = lambda n: D * (1 - q ** (2 * n)) / (1 - q ** 2)  # noqa: E731
        yield identity("E||d_0||^2 = 0 for d_t = s_t - q^t s_0", V(0), 0, "cancel")
        yield identity("d_{t+1} = q d_t + xi_t with xi_t independent of d_t, mean 0, mean square D: "
                       "V(t + 1) = q^2 V(t) + D holds for V(t) = D (1 - q^(2t)) / (1 - q^2), every t",
                       sp.expand(V(t + 1)), sp.expand(q ** 2 * V(t) + D), "cancel")
        lam = sp.Symbol("a", positive=True)
        yield identity("with q = 1 - a (a = eta lambda): 1 / (1 - q^2) = 1 / (a (2 - a)) ~ 1 / (2 eta lambda)",
                       1 / (1 - (1 - lam) ** 2), 1 / (lam * (2 - lam)), "cancel")


BFLOAT16_FLOOR = Bfloat16Floor()
