r"""Verdicts: does a measured run agree with what the theory of its optimizer predicts?

``check_record(record, theory=None)`` (one run) and ``check_records(records, theory=None)``
(several runs, needed for scaling laws) compare a :class:`~nctheory.training.TrainingRecord`
with a theory -- by default the spec the run used, or any other spec as a *negative
control* -- and return a :class:`Verdict`: ``"verified"``, ``"refuted"``,
``"inconclusive"`` or ``"diverged"``, with the numbers side by side and the reasons in
sentences. What "verified" means follows THEORY.md section 5.

**Linear optimizers** (sgd, sgd_momentum, sgd_nesterov, sgdw_momentum, qhm). Lemma 1 makes
the row sums ``s_t = W_t^T 1_K`` obey an exact, data-independent linear recurrence
``x_{t+1} = A(eta_t) x_t``, so the whole measured trajectory is compared with
``theory.predict(s_0, T, lr_schedule=record.learning_rates)``:

    max_rel_error = max_t ||pred_t - meas_t|| / ||meas_t||,

with tolerance ``1e-9`` in float64 and ``1e-4`` in float32 (:data:`TOLERANCES`).

*Why these tolerances, and when they cannot discriminate.* A float64 step rounds every
weight with relative error at most the machine epsilon ``eps``, so it adds to the row sum an
error vector of norm at most ``||1^T E|| <= sqrt(K) ||E||_F <= eps sqrt(K) ||W_t||_F``
(Cauchy-Schwarz); the buffers, the decay term and the numerically-not-quite-zero row sum
of the computed gradient (softmax minus one-hot sums to ``O(eps)``, not 0) add terms of the
same order while ``eta ||G|| <= ||W||``, which we cover with a factor 2:
``inj_j = 2 eps sqrt(K) ||W_j||_F``. The recurrence carries an error injected at step j to
step t with norm at most ``||A^(t-1-j)||_2`` times its own (> 1 for momentum: the
transition matrix is not normal). These round-to-nearest errors are nearly independent
and add like a random walk. The float64 prediction has its own, *systematic* rounding:
the same rounded matrix is applied at every step, so its error grows linearly, about
``0.26 t eps`` relative (measured against 50-digit arithmetic). The **rounding noise
floor** (:func:`noise_floor`) is

    floor_t = 2 sqrt( sum_{j<t} (||A^(t-1-j)|| inj_j)^2 ) + sum_{j<t} ||A^(t-1-j)|| (n eps ||A||) ||s_j||,

capped by the worst case (all errors aligned). For a contracting recurrence the first
term saturates near ``2 inj / sqrt(1 - rho^2)``: in float64, with ``||W||_F ~ 5``, K = 5,
rho = 0.995, about ``2 * 5e-15 * 10 = 1e-13``; the second is ``~ t eps``. So while
NC0_rel = ||s|| / (sqrt(K) ||W||_F) stays above ~1e-3 over a few thousand steps the truth
shows at most ~1e-10 relative error -- under 1e-9 -- while any error in the recurrence (a
wrong momentum, the wrong decay coupling, a loss violating Lemma 1) moves the trajectory
by a relative amount of order ``eta lambda t delta`` or ``eta ||1^T G|| t / ||s||``, many
orders larger. The tolerance sits between the two (measured: true theories stay below
0.26 of the floor, :data:`NOISE_SAFETY`). At a step where ``floor_t / ||s_t||`` exceeds
the tolerance -- NC0 has decayed to the rounding noise floor, e.g. after thousands of
steps with large ``eta lambda`` -- the comparison **cannot discriminate**: a correct
theory may differ by more than the tolerance and a wrong one by less. Such a run is
judged on the steps before the floor only: a mismatch there still refutes, but a match is
reported as ``"inconclusive"`` (never ``"verified"``), saying how many steps were
resolvable. In float32 (``eps = 1.2e-7``) the same floor is ~1e-5 .. 1e-4 relative for
NC0_rel ~ 0.1 over a hundred steps: hence 1e-4, and longer float32 runs, or runs whose
NC0_rel falls, become inconclusive (correctly: float32 cannot resolve them).

The rates: ``predicted_rate = theory.rate()`` (spectral radius of A); ``measured_rate``
is ``exp`` of the least-squares slope of ``log ||s_t||`` over the later half of the run
(above the noise floor). The rate of the modes actually *excited* from a fresh optimizer
state is derived exactly (the minimal polynomial of ``A_first e_1`` under A, in rational
arithmetic): for SGDW the buffer sees only gradients, whose row sums vanish, so the
``mu``-mode is never excited and ``1 - eta lambda`` is what a run shows, even when
``mu > 1 - eta lambda`` makes ``mu`` the spectral radius.

**Sign-based optimizers** (THEORY.md section 4). The step direction is a sign vector, so
the row sum of the step is an *integer* vector: ``s_{t+1} = s_t - eta sigma_t`` (coupled,
signgd) or ``s_{t+1} = (1 - eta lambda) s_t - eta sigma_t`` (decoupled, signgd_decoupled
and lion) with ``sigma_t`` in ``{-K..K}^d`` -- an exact identity checked at every step
(:data:`INTEGER_TOLERANCE`); entries have the parity of K where the sign's argument has no
zero. Scaling laws need runs at >= :data:`MIN_STEP_SIZES` step sizes (``check.py`` runs lr,
lr/3, lr/9 for the same physical time ``eta * steps``): the NC0 plateau (median of
``||s_t||`` over the last :data:`PLATEAU_FRACTION` of each run) must scale linearly in eta
under coupled decay (log-log slope in :data:`COUPLED_SLOPE_WINDOW`, decreasing with eta)
and not at all under decoupled decay (``|slope| <`` :data:`DECOUPLED_MAX_ABS_SLOPE`, NC0_rel
``>=`` :data:`DECOUPLED_MIN_NC0_REL`). The parity bound (odd K) is checked when its
hypothesis -- a constant sign pattern over the final window, read off the integer
``sigma_t`` -- holds, and reported inconclusive otherwise. The box bound needs
``||W_t||_inf`` (metric ``"w_sup"``); without it that sub-check is inconclusive.

**Adam, AdamW, Lion**: falsifiable thresholds on NC0_rel (:data:`ADAM_MAX_END_FRACTION`,
:data:`ADAMW_MIN_END_FRACTION`) and the bound ``NC3 >= NC0_rel`` (balanced classes),
see their docstrings.

**Divergence**: ``record.diverged_at`` set -> ``"diverged"`` with the step.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import NCTheoryError

VERDICTS = ("verified", "refuted", "inconclusive", "diverged")
EXIT_CODES = {"verified": 0, "refuted": 1, "inconclusive": 3, "diverged": 3}

#: Whole-trajectory relative-error tolerance per dtype (module docstring: the rounding
#: noise floor of a few hundred to a few thousand steps lies below it, every wrong
#: recurrence far above it).
TOLERANCES = {"float64": 1e-9, "float32": 1e-4}

#: Factor covering the rounding of the buffers, the decay term and the computed
#: gradient's not-exactly-zero row sum, relative to the rounding of W itself.
ROUNDING_TERMS = 2.0

#: Margin on the random-walk part of the rounding noise floor (see :func:`noise_floor`).
#: Calibration (torch runs of true theories: SGD, heavy ball with dampening, Nesterov,
#: SGDW, QHM; random lr, decay, momentum; UFM and an MLP with minibatches; 400-600 steps;
#: 78 runs in float32 and float64): with a margin of 1 the measured error reached at most
#: 0.19 of the floor; with 2 (used) at most 0.26 of it -- at the first steps, where the cap
#: (the worst case) applies -- and at most 0.13 of the worst-case bound.
#: tests/test_verdict.py re-checks a margin of 0.5 on fresh runs. (Without the systematic
#: term of the prediction a random-walk model alone was exceeded 1.5x in float64.)
NOISE_SAFETY = 2.0

#: Fraction of each run over which a plateau is taken (median of NC0 over the last 20%
#: of steps): long enough to average the O(eta) oscillation of a sign method, short
#: enough to exclude the transient.
PLATEAU_FRACTION = 0.2

#: A scaling law needs at least three step sizes: two points always fit a line; the third
#: can contradict it.
MIN_STEP_SIZES = 3

#: Coupled SignGD: the plateau is O(eta) (each coordinate moves by exactly eta per step
#: around a stationary point with NC0 = 0, Theorem 2), so log plateau vs log eta has slope
#: 1. The window [0.5, 1.5] accepts the noise of a median over an oscillating plateau
#: (THEORY.md section 4 measured 0.058, 0.013-0.024, 0.005-0.007 at eta = 1e-2, 3e-3,
#: 1e-3: slopes 0.9-1.2) and rejects both "no scaling" (slope 0, the decoupled law) and
#: eta^2 or faster.
COUPLED_SLOPE_WINDOW = (0.5, 1.5)

#: Decoupled SignGD: the plateau is set by 1/lambda (s_t -> -sigma/lambda, whatever eta),
#: so the slope is 0. |slope| < 0.3 tolerates the finite-time drift of the three runs
#: (at equal physical time eta*t they sit at the same point of the same trajectory up to
#: O(eta) corrections) and is far from the coupled law's 1: a run can fail it. This is a
#: prediction, not a tautology, only at physical times where the coupled method at the
#: same settings has already reached its O(eta) plateau -- before that every method's NC0
#: is eta-independent at equal physical time (the small-step flow limit). check.py uses
#: physical time 10, where ``check signgd`` with the same defaults shows slope ~1.
DECOUPLED_MAX_ABS_SLOPE = 0.3

#: Decoupled SignGD: NC0_rel stays of order one (THEORY.md measured 0.56-0.99). A random
#: iid initialisation has NC0_rel ~ 1/sqrt(K) (0.45 for K = 5); 0.3 is below what was
#: seen and far above the coupled optimizer's plateau (O(eta)/||W||, ~1e-3).
DECOUPLED_MIN_NC0_REL = 0.3

#: A plateau must have settled: the median NC0 over the last 20% of steps must be at least
#: half the median over the 20% before, else NC0 is still falling and the plateau is only
#: an upper bound (the run is too short; the verdict is inconclusive).
SETTLED_MIN_RATIO = 0.5

#: sigma_t = (row-sum increment) / eta must be an integer vector: a wrong theory (coupled
#: vs decoupled, a wrong lambda) leaves fractional parts of order lambda ||s_t|| (many
#: orders above), the float64 reconstruction error is ~eps sqrt(K) ||W||_F / eta (~1e-11).
#: The tolerance used is max(INTEGER_TOLERANCE[dtype], 100 x that estimate); if the
#: estimate itself exceeds INTEGER_MAX_RESOLVABLE the sub-check is inconclusive.
INTEGER_TOLERANCE = {"float64": 1e-6, "float32": 1e-2}
INTEGER_MAX_RESOLVABLE = 0.05

#: Adam (coupled decay): stationary points of the L2-regularised objective have NC0 = 0
#: (Theorem 2) and Adam's step, like SignGD's, reaches an O(eta) neighbourhood. Once the
#: run is past its transient (:data:`ADAPTIVE_MIN_PHYSICAL_TIME`) the relative NC0 must have
#: fallen to at most a tenth of its start (measured on the UFM, K = 5, lr = 1e-3,
#: lambda = 5e-2: 0.39 -> 0.006 in 3000 steps, a factor 60; K = 10: 0.27 -> 0.018; MLP on
#: Gaussian data: 0.40 -> 1e-4; AdamW at the same settings keeps 0.6 of it). A run above
#: the threshold whose NC0_rel still falls (last-window median below the previous one by
#: more than ADAM_TREND_SLACK) is inconclusive (too short), not refuted; above it and no
#: longer falling, refuted. Below it, O(eta) fluctuations of the plateau do not matter.
ADAM_MAX_END_FRACTION = 0.1
ADAM_TREND_SLACK = 0.05

#: AdamW / Lion (decoupled decay): NC0 does not vanish. NC0_rel must stay >= a quarter of
#: its start (measured at physical time lr * steps = 3-10: AdamW 0.55-0.67 x start on the
#: UFM with K = 5 and 10 and an MLP on Gaussian data, Lion 0.43-0.76; Adam falls to
#: 0.02 x start or below at the same settings): a factor 2.5 from Adam's threshold on
#: both sides.
ADAMW_MIN_END_FRACTION = 0.25

#: The adaptive and sign-based steps move each coordinate by about lr per step, so
#: lr * steps bounds how far the weights can have travelled. Below 2 (the weights start at
#: scale 1/sqrt(d) and the features at scale 1) the run cannot have left its transient and
#: the NC0_rel thresholds are not applied ("inconclusive: too short").
ADAPTIVE_MIN_PHYSICAL_TIME = 2.0

#: No thresholds on NC1 / NC2: NC0 constrains the classifier W only, and the features
#: collapse (NC1 -> 0) under AdamW as well as Adam in the UFM (measured 0.03 x start under
#: both), so such a threshold would not discriminate the theories. NC3 is constrained:
#: for balanced classes the centred class means sum to zero, hence
#: ``NC3 = ||W/||W||_F - M/||M||_F||_F >= ||1^T W|| / (sqrt(K) ||W||_F) = NC0_rel`` -- an
#: inequality checked at every recorded step; under decoupled decay it keeps NC3 >=
#: ADAMW_MIN_END_FRACTION x NC0_rel(start) (self-duality cannot emerge).


# ---------------------------------------------------------------------------- the result
@dataclass
class Check:
    """One sub-check: ``status`` in {"pass", "fail", "inconclusive"}."""

    name: str
    status: str
    sentence: str
    predicted: object = None
    measured: object = None
    threshold: object = None


@dataclass
class Verdict:
    """The outcome of comparing measurement with theory.

    Attributes:
        verdict: "verified", "refuted", "inconclusive" or "diverged".
        name: the optimizer that was run (registry name).
        hparams: its hyperparameters (floats).
        predicted_rate: spectral radius of the theory's row-sum recurrence (linear theories),
            else None.
        measured_rate: fitted geometric rate of ||s_t|| (linear theories), else None.
        max_rel_error: max_t ||pred_t - meas_t|| / ||meas_t|| over the resolvable steps
            (linear theories), else None.
        tolerance: the tolerance max_rel_error was held to.
        reasons: the argument, in sentences.
        details: everything else (sub-checks, noise floor, excited rate, plateaus, ...).
        theory: the spec the run was judged against (its name).
        theory_hparams: its hyperparameters.
        series: arrays for plotting (not serialised): "steps", "measured_nc0",
            "predicted_nc0", "rel_error", or per-run curves for scaling laws.
    """

    verdict: str
    name: str
    hparams: dict
    predicted_rate: float | None = None
    measured_rate: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    reasons: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    theory: str | None = None
    theory_hparams: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise NCTheoryError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def exit_code(self) -> int:
        """0 verified, 1 refuted, 3 inconclusive or diverged (``python -m nctheory.check``)."""
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("series")
        return _jsonable(out)

    def to_json(self, **kwargs) -> str:
        """One JSON object (NaN and inf become null)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, Check):
        return _jsonable(asdict(x))
    return str(x)


# ---------------------------------------------------------------------------- theory
def parse_theory(text: str) -> tuple[str, dict]:
    """``"NAME"`` or ``"NAME:key=value,key=value"`` -> ``(name, overrides)``.

    >>> parse_theory("sgd_momentum:momentum=0.8")
    ('sgd_momentum', {'momentum': 0.8})
    """
    if not isinstance(text, str) or not text.strip():
        raise NCTheoryError(f"theory must be an optimizer name, optionally NAME:key=value,..., got {text!r}")
    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise NCTheoryError(f"theory {text!r}: expected key=value after ':', got {item!r}")
        try:
            overrides[key.strip().replace("-", "_")] = float(value)
        except ValueError:
            raise NCTheoryError(f"theory {text!r}: {key.strip()} must be a number, got {value!r}") from None
    return name.strip(), overrides


def resolve_theory(theory, record):
    """The spec a run is judged against (see :func:`_resolve`)."""
    return _resolve(theory, record)[0]


def _resolve(theory, record):
    """``(spec, explicit_lr)``: the spec a run is judged against, and whether its lr was
    chosen independently of the run (then the recorded schedule is rescaled to it).

    * None: the spec the run used, with its hyperparameters;
    * an :class:`~nctheory.spec.OptimizerSpec`: as is;
    * a string ``NAME`` or ``NAME:key=value,...``: that spec, with the run's hyperparameters
      where it declares them, its example values for the others, then the overrides.
    """
    from .optimizers import get_spec
    from .spec import OptimizerSpec

    run_lr = record.hparams.get("lr")
    if isinstance(theory, OptimizerSpec):
        th_lr = theory.values.get("lr")
        explicit = th_lr is not None and run_lr is not None and not math.isclose(
            float(th_lr), float(run_lr), rel_tol=1e-15)
        return theory, explicit
    if theory is None:
        name, overrides = record.optimizer, {}
    elif isinstance(theory, str):
        name, overrides = parse_theory(theory)
    else:
        raise NCTheoryError(f"theory must be None, an optimizer name or an OptimizerSpec, got {type(theory).__name__}")
    spec = get_spec(name)
    values = spec.example_values()
    values.update({k: v for k, v in record.hparams.items() if k in values})
    values.update(overrides)
    return spec.with_hparams(**values), "lr" in overrides


def _theory_kind(spec) -> str:
    if spec.is_linear:
        return "linear"
    names = {s.name for s in spec.nonlinear_theory()}
    if "coupled_sign_neighbourhood" in names:
        return "sign_coupled"
    if "parity_lower_bound" in names:
        return "sign_decoupled"
    if "adam_nc0_decreases" in names:
        return "adaptive_coupled"
    if "adamw_nc0_persists" in names:
        return "adaptive_decoupled"
    return "unknown"


def _sign_structure(spec) -> str | None:
    """"coupled" / "decoupled" if the step direction is a sign vector, read off the chain.

    The sign-type transform (:class:`~nctheory.transforms.ScaleBySign`,
    :class:`~nctheory.transforms.ScaleByLion`) before the decay: decoupled
    (``W' = (1 - eta lambda) W - eta sign(.)``); decay before it: coupled
    (``W' = W - eta sign(. + lambda W)``).
    """
    from .transforms import AddDecayedWeights, ScaleByLion, ScaleBySign

    kinds = [type(t) for t in spec.chain]
    sign_at = [i for i, k in enumerate(kinds) if k in (ScaleBySign, ScaleByLion)]
    if not sign_at:
        return None
    decay_at = [i for i, k in enumerate(kinds) if k is AddDecayedWeights]
    if decay_at and decay_at[0] < sign_at[0]:
        return "coupled"
    return "decoupled"


# ---------------------------------------------------------------------------- helpers
def _validate(record) -> None:
    rs = np.asarray(record.row_sums)
    lrs = np.asarray(record.learning_rates)
    if rs.ndim != 2:
        raise NCTheoryError(f"record.row_sums must have shape (steps + 1, d), got {rs.shape}")
    if lrs.ndim != 1 or rs.shape[0] != lrs.shape[0] + 1:
        raise NCTheoryError(f"record.learning_rates must have one value per step ({rs.shape[0] - 1}), "
                            f"got shape {lrs.shape}")


def _eps(record) -> float:
    if record.dtype not in TOLERANCES:
        raise NCTheoryError(f"record.dtype must be one of {', '.join(TOLERANCES)}, got {record.dtype!r}")
    return float(np.finfo(np.dtype(record.dtype)).eps)


def _metric(record, name):
    values = record.metrics.get(name) if record.metrics else None
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    return values if values.size and np.any(np.isfinite(values)) else None


def weight_norms(record) -> np.ndarray | None:
    """``||W_t||_F`` at ``record.metric_steps``: the metric ``"w_fro"`` if recorded, else
    ``NC0 / (sqrt(K) NC0_rel)`` from the recorded NC0 and NC0_rel (NaN where undefined)."""
    for key in ("w_fro", "weight_norm"):
        direct = _metric(record, key)
        if direct is not None:
            return direct
    nc0, rel = _metric(record, "nc0"), _metric(record, "nc0_rel")
    if nc0 is None or rel is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        out = nc0 / (math.sqrt(record.num_classes) * rel)
    out[~np.isfinite(out)] = np.nan
    return out if np.any(np.isfinite(out)) else None


def _weight_norm_per_step(record) -> tuple[np.ndarray, str]:
    """An upper envelope of ||W_t||_F at every step 0..T, and where it came from."""
    T = record.steps_done
    norms = weight_norms(record)
    s_norm = np.linalg.norm(np.asarray(record.row_sums, dtype=float), axis=1)
    lower = s_norm / math.sqrt(record.num_classes)  # ||W||_F >= ||W^T 1|| / sqrt(K)
    if norms is None:
        return lower, "unknown (no weight norms recorded): used the lower bound ||s_t|| / sqrt(K)"
    steps = np.asarray(record.metric_steps, dtype=int)
    ok = np.isfinite(norms)
    steps, norms = steps[ok], norms[ok]
    # envelope: at step t the max of the recorded norms at the metric steps bracketing t
    out = np.empty(T + 1)
    idx = np.searchsorted(steps, np.arange(T + 1), side="right")
    for t in range(T + 1):
        lo, hi = max(idx[t] - 1, 0), min(idx[t], len(steps) - 1)
        out[t] = max(norms[lo], norms[hi])
    return np.maximum(out, lower), "from the recorded NC0 and NC0_rel (||W||_F = NC0 / (sqrt(K) NC0_rel))"


def _fit_rate(norms: np.ndarray, usable: np.ndarray) -> float | None:
    """exp(slope) of a least-squares line through log norms over the later half."""
    T = len(norms) - 1
    t = np.arange(T + 1)
    mask = usable & (t >= T // 2) & (norms > 0) & np.isfinite(norms)
    if mask.sum() < 3:
        return None
    slope = np.polyfit(t[mask], np.log(norms[mask]), 1)[0]
    return float(math.exp(slope))


def _theory_lrs(record, theory) -> tuple[np.ndarray, str | None]:
    """The learning rates the theory predicts with: the recorded ones, rescaled when the
    theory's lr differs from the run's (a theory with another lr is another theory)."""
    lrs = np.asarray(record.learning_rates, dtype=float)
    run_lr = record.hparams.get("lr")
    th_lr = float(theory.values["lr"]) if "lr" in theory.values else None
    if th_lr is None or run_lr is None or math.isclose(th_lr, float(run_lr), rel_tol=1e-15):
        return lrs, None
    return lrs * (th_lr / float(run_lr)), (f"the theory's lr = {th_lr:g} differs from the run's "
                                          f"{float(run_lr):g}: the recorded schedule was rescaled by their ratio")


def _power_norms(theory, lrs) -> tuple[np.ndarray, float, int]:
    """``(||A^n||_2 for n = 0..T-1, ||A||_2, state size)``, A at the median learning rate."""
    from .hyperparams import to_rational

    dyn = theory.without("lr").row_sum_dynamics()
    eta = theory.symbols()["lr"]
    # exact substitution, then one rounding per entry (no lambdify of huge rationals)
    A = np.array(dyn.matrix.subs(eta, to_rational(float(np.median(lrs)))).evalf(20).tolist(), dtype=float)
    out = np.empty(len(lrs))
    power = np.eye(A.shape[0])
    for n in range(len(lrs)):
        out[n] = np.linalg.norm(power, 2)
        power = A @ power
    out[~np.isfinite(out)] = np.finfo(float).max
    return out, float(np.linalg.norm(A, 2)), A.shape[0]


def noise_floor(record, theory, lrs=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rounding noise floor of ``||pred_t - meas_t||`` at every step 0..T (absolute norms).

    Two sources, each carried from step j to step t by the recurrence with norm at most
    ``p_n = ||A^n||_2`` (n = t - 1 - j):

    * **the run's rounding** (random): step j injects at most
      ``inj_j = ROUNDING_TERMS eps_run sqrt(K) ||W_j||_F`` into the row sums (module
      docstring). Round-to-nearest errors are unbiased and nearly independent from step to
      step, so they add like a random walk: ``random_t = sqrt(sum_j (p_(t-1-j) inj_j)^2)``
      (measured: the error saturates over thousands of steps of a contracting recurrence
      instead of growing like t);
    * **the prediction's rounding** (systematic): ``predict`` multiplies by the same float64
      matrix every step, so its rounding repeats with the same sign and adds linearly:
      ``systematic_t = sum_j p_(t-1-j) (n eps_64 ||A||_2 + eps_run) ||s_j||`` (n = state
      size; the ``eps_run`` term covers the run's rounding of its constant factors). Measured
      against 50-digit arithmetic: the float64 prediction drifts by 0.26 t eps_64 relative,
      the bound gives t eps_64.

    Returns ``(bound, floor, info)``: ``bound`` adds the worst case (aligned) of the first
    source to the second; ``floor = NOISE_SAFETY random + systematic`` (capped by
    ``bound``) is what the verdict uses to decide where the comparison can discriminate.
    Calibration in :data:`NOISE_SAFETY`.
    """
    eps = _eps(record)
    eps64 = float(np.finfo(np.float64).eps)
    K = record.num_classes
    lrs = np.asarray(record.learning_rates, float) if lrs is None else lrs
    wnorm, source = _weight_norm_per_step(record)
    T = len(lrs)
    inj = ROUNDING_TERMS * eps * math.sqrt(K) * wnorm[:T]
    p, a_norm, n_state = _power_norms(theory, lrs)
    s_norm = np.linalg.norm(np.asarray(record.row_sums, float), axis=1)
    sys_inj = (n_state * eps64 * a_norm + eps) * s_norm[:T]
    systematic = np.concatenate([[0.0], np.convolve(p, sys_inj)[:T]])
    worst = np.concatenate([[0.0], np.convolve(p, inj)[:T]])
    random = np.concatenate([[0.0], np.sqrt(np.convolve(p ** 2, inj ** 2)[:T])])
    bound = worst + systematic
    floor = np.minimum(NOISE_SAFETY * random + systematic, bound)
    floor = np.maximum(floor, eps * s_norm)  # the row sum itself is rounded once
    bound = np.maximum(bound, eps * s_norm)
    return bound, floor, {"amplification": float(np.max(p)), "weight_norm_source": source}


def excited_modes(theory):
    """``(rate, minimal polynomial, unexcited factor)`` as text, from
    :meth:`nctheory.symbolic.rowsum.RowSumDynamics.excited_modes`; all None when the theory
    starts from initialised buffers (every mode is then generically excited) or is still
    symbolic. ``unexcited`` is "" when every mode is excited."""
    import sympy as sp

    dyn = theory.row_sum_dynamics()
    if theory.initial_buffers is not None or dyn.matrix.free_symbols or dyn.first_matrix.free_symbols:
        return None, None, None
    modes = dyn.excited_modes()
    unexcited = "" if modes.unexcited == 1 else str(modes.unexcited)
    return modes.rate, str(sp.sympify(modes.minimal_polynomial)), unexcited


def excited_rate(theory) -> tuple[float | None, str | None]:
    """``(rate, minimal polynomial)`` of :func:`excited_modes`."""
    rate, minpoly, _ = excited_modes(theory)
    return rate, minpoly


def _loss_invariance(loss: str):
    """Lemma 1's test for a registered loss name (cached); None for an unknown name."""
    from .losses import LOSSES

    if loss not in LOSSES:
        return None
    return _shift_invariance_cached(loss)


_SHIFT_CACHE: dict = {}


def _shift_invariance_cached(loss):
    from .losses import shift_invariance

    if loss not in _SHIFT_CACHE:
        _SHIFT_CACHE[loss] = shift_invariance(loss)
    return _SHIFT_CACHE[loss]


def _fmt(x, digits=4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


# ---------------------------------------------------------------------------- linear
def _check_linear(record, theory) -> Verdict:
    _eps(record)  # validates the dtype
    tol = TOLERANCES[record.dtype]
    S = np.asarray(record.row_sums, dtype=np.float64)
    T = record.steps_done
    reasons, details = [], {"kind": "linear", "dtype": record.dtype, "steps": T}
    lrs, lr_note = _theory_lrs(record, theory)
    if lr_note:
        reasons.append(lr_note + ".")
    predicted_rate = theory.rate()
    base = dict(name=record.optimizer, hparams=dict(record.hparams), predicted_rate=predicted_rate,
                tolerance=tol, theory=theory.name,
                theory_hparams={k: float(v) for k, v in theory.values.items()})

    # Lemma 1's hypothesis
    invariance = _loss_invariance(record.loss)
    lemma1 = None if invariance is None else invariance.invariant
    details["loss"] = record.loss
    details["lemma1_holds"] = lemma1
    if lemma1 is False:
        details["lemma1_reason"] = invariance.reason

    pred = theory.predict(S[0], T, lr_schedule=lrs)
    meas_norm = np.linalg.norm(S, axis=1)
    diff = np.linalg.norm(pred - S, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(meas_norm > 0, diff / meas_norm, np.where(diff > 0, np.inf, 0.0))

    _, floor, info = noise_floor(record, theory, lrs)
    amp, wsource = info["amplification"], info["weight_norm_source"]
    with np.errstate(divide="ignore", invalid="ignore"):
        noise_rel = np.where(meas_norm > 0, floor / meas_norm, np.inf)
    resolvable = noise_rel <= tol
    below = np.flatnonzero(~resolvable)
    first_unresolvable = int(below[0]) if below.size else None
    prefix = slice(0, first_unresolvable if first_unresolvable is not None else T + 1)
    max_err = float(np.max(rel[prefix])) if rel[prefix].size else None
    worst_step = int(np.argmax(rel[prefix])) if rel[prefix].size else None
    details.update(noise_floor_relative_max=float(np.max(noise_rel[np.isfinite(noise_rel)], initial=0.0)),
                   noise_floor_at_end=float(noise_rel[-1]), amplification=amp, weight_norm_source=wsource,
                   first_unresolvable_step=first_unresolvable, worst_step=worst_step,
                   max_rel_error_all_steps=float(np.max(rel)))
    if first_unresolvable is not None:
        details["max_rel_error_all_steps_note"] = "includes steps at the rounding noise floor"

    measured_rate = _fit_rate(meas_norm, resolvable)
    predicted_fit = _fit_rate(np.linalg.norm(pred, axis=1), resolvable)
    ex_rate, minpoly, unexcited = excited_modes(theory)
    details.update(predicted_fitted_rate=predicted_fit, excited_rate=ex_rate,
                   excited_minimal_polynomial=minpoly, unexcited_factor=unexcited,
                   eigenvalues=[str(e) for e in theory.eigenvalues()],
                   charpoly=str(theory.charpoly()),
                   row_sum_change=float(np.linalg.norm(S[-1] - S[0]) / meas_norm[0]) if meas_norm[0] > 0 else None)
    series = {"steps": np.arange(T + 1), "measured_nc0": meas_norm, "predicted_nc0": np.linalg.norm(pred, axis=1),
              "rel_error": rel, "noise_floor_rel": noise_rel}
    verdict_kw = dict(base, measured_rate=measured_rate, max_rel_error=max_err, details=details, series=series)

    # --- decide
    n_res = prefix.stop
    if max_err is None or n_res < 2:
        reasons.append(f"||s_0|| = {_fmt(meas_norm[0])} is at the rounding noise floor from the start: "
                       f"no step can discriminate between theories.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    if max_err > tol:
        first_bad = int(np.flatnonzero(rel[prefix] > tol)[0])
        if lemma1 is False:
            reasons.append(f"Lemma 1 fails for the {record.loss} loss: {invariance.reason}.")
        reasons.append(
            f"The measured row sums leave the predicted trajectory: relative error {_fmt(max_err, 3)} "
            f"(at step {worst_step}) > tolerance {tol:g} ({record.dtype}); first exceeded at step {first_bad}, "
            f"where the rounding noise floor is only {_fmt(float(noise_rel[first_bad]), 2)} relative.")
        if lemma1 is not False:
            reasons.append(f"The {theory.name} recurrence with {_hp_text(theory)} does not describe this run.")
        return Verdict("refuted", reasons=reasons, **verdict_kw)
    # matched where resolvable
    match = (f"The whole predicted trajectory matches the measured row sums: max relative error "
             f"{_fmt(max_err, 3)} <= tolerance {tol:g} ({record.dtype}) over steps 0..{n_res - 1}")
    if lemma1 is False:
        reasons.append(match + ".")
        reasons.append(f"But Lemma 1 fails for the {record.loss} loss ({invariance.reason}); a match "
                       f"without its hypothesis verifies nothing.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    if first_unresolvable is not None:
        reasons.append(match + ".")
        reasons.append(
            f"From step {first_unresolvable} on, ||s_t|| = {_fmt(float(meas_norm[first_unresolvable]), 3)} is at "
            f"the accumulated float rounding noise floor ({_fmt(float(floor[first_unresolvable]), 3)} from the "
            f"rounding of W (2 eps sqrt(K) ||W||_F per step, as a random walk) and of the prediction, i.e. "
            f"{_fmt(float(noise_rel[first_unresolvable]), 2)} "
            f"relative > {tol:g}): there the comparison cannot discriminate, so the run cannot be verified. "
            f"Rerun with --steps {max(first_unresolvable - 1, 1)} (or a smaller lr * weight_decay) for a verdict.")
        return Verdict("inconclusive", reasons=reasons, **verdict_kw)
    reasons.append(match + f" (all {T} steps); the rounding noise floor stays below "
                   f"{_fmt(details['noise_floor_relative_max'], 2)} relative, so the comparison discriminates.")
    if lemma1 is None:
        reasons.append(f"The loss {record.loss!r} is not a registered loss: Lemma 1's hypothesis was assumed "
                       f"(the match itself is the evidence that the gradient row sums vanished).")
    _rate_sentences(reasons, theory, predicted_rate, measured_rate, predicted_fit, ex_rate, lrs, unexcited)
    change = details["row_sum_change"]
    if change is not None and change < 1e3 * tol:
        reasons.append(f"Note: the row sums barely moved (relative change {_fmt(change, 2)}), so this run cannot "
                       f"tell this theory from any theory predicting constant row sums.")
    return Verdict("verified", reasons=reasons, **verdict_kw)


def _hp_text(spec) -> str:
    return ", ".join(f"{k}={float(v):g}" for k, v in spec.values.items())


def _rate_sentences(reasons, theory, predicted_rate, measured_rate, predicted_fit, ex_rate, lrs, unexcited=""):
    constant = bool(np.all(lrs == lrs[0]))
    text = f"Predicted rate (spectral radius) {predicted_rate:.8f}"
    if measured_rate is not None:
        text += f"; measured rate {measured_rate:.8f} (fit of log NC0 over the later half"
        if predicted_fit is not None:
            text += f"; the same fit on the prediction gives {predicted_fit:.8f}"
        text += ")"
    reasons.append(text + ".")
    why_sgdw = (" (the buffer sees only gradients, whose row sums vanish by Lemma 1, so the momentum mode "
                "stays at 0)" if theory.name == "sgdw_momentum" else "")
    if ex_rate is not None and not math.isclose(ex_rate, predicted_rate, rel_tol=1e-12, abs_tol=1e-15):
        reasons.append(
            f"Only modes of rate {ex_rate:.8f} are excited from a fresh optimizer state: the spectral radius "
            f"{predicted_rate:.8f} belongs to the factor {unexcited} of the characteristic polynomial, which "
            f"the first step never reaches{why_sgdw}; the run shows the excited rate.")
    elif unexcited:
        reasons.append(f"The factor {unexcited} of the characteristic polynomial is never excited from a fresh "
                       f"optimizer state{why_sgdw}; it does not set the rate here.")
    if not constant:
        reasons.append("The learning rate varied during the run: the prediction multiplies the exact matrices "
                       "A(eta_t) step by step; the spectral radius quoted is at the base lr, so compare the "
                       "measured fit with the same fit on the prediction.")
    elif predicted_fit is not None and not math.isclose(predicted_fit, predicted_rate, rel_tol=1e-7):
        eig = [complex(e.evalf()) for e in theory.eigenvalues()]
        top = max(eig, key=abs)
        if abs(top.imag) > 1e-15:
            period = 2 * math.pi / abs(math.atan2(top.imag, top.real))
            why = (f"the dominant eigenvalues are complex, so ||s_t|| oscillates with period ~{period:.0f} steps "
                   f"under the envelope rate^t")
        else:
            why = "the transient of the other mode(s) has not died out in this window"
        reasons.append(f"The fitted rate differs from the spectral radius because {why}; the like-for-like "
                       f"comparison is the same fit on the prediction, which agrees.")


# ---------------------------------------------------------------------------- sign increments
def sign_increments(record, theory, structure: str):
    """``sigma_t`` with ``s_{t+1} = s_t - eta_t sigma_t`` (coupled) or
    ``s_{t+1} = (1 - eta_t lambda) s_t - eta_t sigma_t`` (decoupled), the theory's lambda
    and learning rates; shape (T, d)."""
    S = np.asarray(record.row_sums, dtype=np.float64)
    lrs, _ = _theory_lrs(record, theory)
    lam = float(theory.values.get("weight_decay", 0.0))
    eta = lrs[:, None]
    if structure == "decoupled":
        return ((1.0 - eta * lam) * S[:-1] - S[1:]) / eta
    return (S[:-1] - S[1:]) / eta


def _integer_check(record, theory, structure) -> tuple[Check, np.ndarray | None]:
    K = record.num_classes
    sigma = sign_increments(record, theory, structure)
    if sigma.size == 0:
        return Check("sign_increments", "inconclusive", "no step to check"), None
    eps = _eps(record)
    lrs, _ = _theory_lrs(record, theory)
    wnorm, _ = _weight_norm_per_step(record)
    S = np.asarray(record.row_sums, dtype=np.float64)
    recon = eps * (math.sqrt(K) * np.max(wnorm) + np.max(np.abs(S))) / np.min(lrs)
    tol = max(INTEGER_TOLERANCE[record.dtype], 100 * recon)
    rounded = np.rint(sigma)
    frac = float(np.max(np.abs(sigma - rounded)))
    within = float(np.max(np.abs(rounded))) <= K
    form = ("s_{t+1} = s_t - eta_t sigma_t" if structure == "coupled"
            else "s_{t+1} = (1 - eta_t lambda) s_t - eta_t sigma_t")
    if recon > INTEGER_MAX_RESOLVABLE:
        return Check("sign_increments", "inconclusive",
                     f"the row-sum increments cannot resolve integers in {record.dtype} "
                     f"(reconstruction error ~{_fmt(recon, 2)})", threshold=tol, measured=frac), None
    if frac > tol or not within:
        bad_t = int(np.argmax(np.max(np.abs(sigma - rounded), axis=1)))
        return Check("sign_increments", "fail",
                     f"{form} with sigma_t in {{-K..K}}^d fails: sigma_t has fractional parts up to "
                     f"{_fmt(frac, 3)} (tolerance {_fmt(tol, 2)}; worst at step {bad_t})"
                     + ("" if within else f" or entries beyond K = {K}"),
                     predicted="integer vector", measured=frac, threshold=tol), None
    ints = rounded.astype(np.int64)
    parity_ok = float(np.mean((ints - K) % 2 == 0))
    return Check("sign_increments", "pass",
                 f"{form} holds with sigma_t an integer vector in {{-K..K}}^d at all {len(ints)} steps "
                 f"(max distance to an integer {_fmt(frac, 2)} <= {_fmt(tol, 2)}); {100 * parity_ok:.1f}% of the "
                 f"entries have the parity of K = {K} (the rest come from zero entries of the sign's argument)",
                 predicted="integer vector", measured=frac, threshold=tol), ints


def _plateau(x: np.ndarray) -> float:
    n = len(x)
    k = max(1, int(math.ceil(PLATEAU_FRACTION * n)))
    return float(np.median(x[n - k:]))


def _previous_window(x: np.ndarray) -> float:
    n = len(x)
    k = max(1, int(math.ceil(PLATEAU_FRACTION * n)))
    start = max(0, n - 2 * k)
    return float(np.median(x[start:n - k])) if n - k > start else float(x[0])


def _parity_check(record, theory, ints) -> Check:
    K = record.num_classes
    lam = float(theory.values.get("weight_decay", 0.0))
    from .symbolic.signbased import parity_lower_bound

    if K % 2 == 0:
        return Check("parity_lower_bound", "inconclusive", f"not applicable: K = {K} is even (the bound is 0)")
    if lam <= 0:
        return Check("parity_lower_bound", "inconclusive", "not applicable: weight_decay = 0")
    if ints is None:
        return Check("parity_lower_bound", "inconclusive",
                     "the sign pattern could not be read off the row sums (see sign_increments)")
    T = len(ints)
    k = max(2, int(math.ceil(PLATEAU_FRACTION * T)))
    window = ints[T - k:]
    changes = int(np.sum(np.any(window[1:] != window[:-1], axis=1)))
    if changes:
        return Check("parity_lower_bound", "inconclusive",
                     f"hypothesis not met: the row sum sigma_t of the sign pattern changed at {changes} of the "
                     f"last {k - 1} steps (the bound needs an eventually constant sign pattern)")
    sigma = window[-1]
    odd = np.abs(sigma) % 2 == 1
    d, d_odd = sigma.size, int(odd.sum())
    limit = float(np.linalg.norm(sigma)) / lam
    bound = parity_lower_bound(d_odd, K, lam) if d_odd else 0.0
    full = parity_lower_bound(d, K, lam)
    S = np.asarray(record.row_sums, dtype=np.float64)
    end = float(np.linalg.norm(S[-1]))
    gap = float(np.linalg.norm(S[-1] + sigma / lam))
    sentence = (f"sign pattern constant over the last {k} steps, so s_t -> -sigma/lambda: lim NC0 = ||sigma||/lambda "
                f"= {_fmt(limit)} >= sqrt(d')/lambda = {_fmt(bound)} with d' = {d_odd} of {d} coordinates odd "
                f"(K = {K} odd; full-hypothesis bound sqrt(d)/lambda = {_fmt(full)}); NC0 now {_fmt(end)}, "
                f"{_fmt(gap, 3)} from the limit")
    status = "pass" if limit >= bound * (1 - 1e-12) else "fail"
    return Check("parity_lower_bound", status, sentence, predicted=bound, measured=limit)


def _box_check(record, theory) -> Check:
    from .symbolic.signbased import box_bound

    sup = _metric(record, "w_sup")
    lam = float(theory.values.get("weight_decay", 0.0))
    if sup is None:
        return Check("box_bound", "inconclusive", "||W_t||_inf was not recorded (metric 'w_sup')")
    lrs, _ = _theory_lrs(record, theory)
    a_max = float(np.max(lrs)) * lam
    if not 0 < a_max <= 1 or not np.all(lrs == lrs[0]):
        return Check("box_bound", "inconclusive", "hypothesis 0 < eta lambda <= 1 with constant eta not met")
    steps = np.asarray(record.metric_steps, dtype=int)
    ok = np.isfinite(sup)
    bounds = np.array([box_bound(float(sup[0]), float(lrs[0]), lam, int(t)) for t in steps])
    slack = 1e-12 * max(1.0, float(np.max(bounds)))
    worst = float(np.max((sup - bounds)[ok]))
    status = "pass" if worst <= slack else "fail"
    return Check("box_bound", status,
                 f"||W_t||_inf <= (1-a)^t ||W_0||_inf + (1-(1-a)^t)/lambda at every recorded step "
                 f"(largest excess {_fmt(worst, 3)}; limit max(||W_0||_inf, 1/lambda) = "
                 f"{_fmt(max(float(sup[0]), 1 / lam))})" if status == "pass" else
                 f"the box bound is violated by {_fmt(worst, 3)}",
                 predicted=float(bounds[-1]), measured=float(sup[-1]))


# ---------------------------------------------------------------------------- nonlinear
def _base_lr(record) -> float:
    return float(record.hparams.get("lr", record.learning_rates[0]))


def _nc0_rel_series(record):
    rel = _metric(record, "nc0_rel")
    if rel is None:
        return None, None
    steps = np.asarray(record.metric_steps)
    ok = np.isfinite(rel)
    return steps[ok], rel[ok]


def _check_sign(records, theories, kind) -> Verdict:
    theory = theories[0]
    structure = "coupled" if kind == "sign_coupled" else "decoupled"
    lam = float(theory.values.get("weight_decay", 0.0))
    checks, reasons = [], []
    ints_by_run = []
    for rec, th in zip(records, theories):
        check, ints = _integer_check(rec, th, structure)
        check.name = f"sign_increments[lr={_base_lr(rec):g}]"
        checks.append(check)
        ints_by_run.append(ints)
    # scaling law across step sizes
    lrs = np.array([_base_lr(r) for r in records])
    plateaus = np.array([_plateau(np.linalg.norm(np.asarray(r.row_sums, float), axis=1)) for r in records])
    previous = np.array([_previous_window(np.linalg.norm(np.asarray(r.row_sums, float), axis=1)) for r in records])
    rel_plateaus = []
    for r in records:
        _, rel = _nc0_rel_series(r)
        rel_plateaus.append(_plateau(rel) if rel is not None else math.nan)
    rel_plateaus = np.array(rel_plateaus)
    order = np.argsort(lrs)
    details = {"kind": kind, "structure": structure, "step_sizes": lrs[order].tolist(),
               "plateaus": plateaus[order].tolist(), "nc0_rel_plateaus": rel_plateaus[order].tolist(),
               "steps": [records[i].steps_done for i in order]}
    slope = None
    if len(np.unique(lrs)) < MIN_STEP_SIZES:
        checks.append(Check("scaling_law", "inconclusive",
                            f"a scaling law needs runs at >= {MIN_STEP_SIZES} distinct step sizes, got "
                            f"{len(np.unique(lrs))} (python -m nctheory.check runs lr, lr/3, lr/9)"))
    elif np.any(plateaus <= 0):
        checks.append(Check("scaling_law", "inconclusive", "a plateau is exactly 0: no log-log slope"))
    else:
        slope = float(np.polyfit(np.log(lrs), np.log(plateaus), 1)[0])
        settled = plateaus >= SETTLED_MIN_RATIO * previous
        details["measured_slope"] = slope
        details["settled"] = settled[order].tolist()
        table = ", ".join(f"{lr:g}: {p:.3g}" for lr, p in zip(lrs[order], plateaus[order]))
        if structure == "coupled":
            lo, hi = COUPLED_SLOPE_WINDOW
            increasing = bool(np.all(np.diff(plateaus[order]) > 0))
            details["predicted_slope"] = 1.0
            ok = lo <= slope <= hi and increasing
            sentence = (f"NC0 plateau (median over the last {PLATEAU_FRACTION:.0%} of steps) vs lr ({table}): "
                        f"log-log slope {slope:.3f}, predicted 1 (window [{lo}, {hi}]); "
                        + ("shrinks with lr" if increasing else "does NOT shrink monotonically with lr"))
            status = "pass" if ok else "fail"
        else:
            details["predicted_slope"] = 0.0
            ok_slope = abs(slope) < DECOUPLED_MAX_ABS_SLOPE
            sentence = (f"NC0 plateau vs lr ({table}): log-log slope {slope:.3f}, predicted 0 "
                        f"(|slope| < {DECOUPLED_MAX_ABS_SLOPE}: set by 1/lambda, not by eta)")
            status = "pass" if ok_slope else "fail"
        if status == "pass" and not np.all(settled):
            status = "inconclusive"
            sentence += (f"; but NC0 was still falling (last-window median < {SETTLED_MIN_RATIO} x the one before) "
                         f"at lr = {', '.join(f'{x:g}' for x in lrs[~settled])}: run longer")
        elif status == "fail" and not np.all(settled) and structure == "coupled" and slope < COUPLED_SLOPE_WINDOW[0]:
            status = "inconclusive"
            sentence += (f"; NC0 was still falling at lr = {', '.join(f'{x:g}' for x in lrs[~settled])}, so the "
                         f"small-lr plateaus are only upper bounds: run longer")
        checks.append(Check("scaling_law", status, sentence, predicted=details["predicted_slope"], measured=slope,
                            threshold=list(COUPLED_SLOPE_WINDOW) if structure == "coupled" else DECOUPLED_MAX_ABS_SLOPE))
    if structure == "decoupled":
        if np.all(np.isnan(rel_plateaus)):
            checks.append(Check("nc0_rel_order_one", "inconclusive", "NC0_rel was not recorded"))
        else:
            low = float(np.nanmin(rel_plateaus))
            checks.append(Check("nc0_rel_order_one", "pass" if low >= DECOUPLED_MIN_NC0_REL else "fail",
                                f"NC0_rel plateau >= {DECOUPLED_MIN_NC0_REL} at every lr (smallest {low:.3f})",
                                predicted=f">= {DECOUPLED_MIN_NC0_REL}", measured=low,
                                threshold=DECOUPLED_MIN_NC0_REL))
        names = {s.name for s in theory.nonlinear_theory()}
        if "parity_lower_bound" in names:
            for rec, th, ints in zip(records, theories, ints_by_run):
                c = _parity_check(rec, th, ints)
                c.name = f"parity_lower_bound[lr={_base_lr(rec):g}]"
                checks.append(c)
        if "box_bound" in names:
            for rec, th in zip(records, theories):
                c = _box_check(rec, th)
                c.name = f"box_bound[lr={_base_lr(rec):g}]"
                checks.append(c)
    _require_decay(checks, lam)
    return _combine(records, theory, checks, details, reasons)


def _check_adaptive(records, theories, kind) -> Verdict:
    theory = theories[0]
    checks, reasons = [], []
    details = {"kind": kind}
    lam = float(theory.values.get("weight_decay", 0.0))
    names = {s.name for s in theory.nonlinear_theory()}
    structure = _sign_structure(theory)
    for rec, th in zip(records, theories):
        tag = f"[lr={_base_lr(rec):g}]" if len(records) > 1 else ""
        if structure is not None:  # lion: the integer increments hold too
            c, _ = _integer_check(rec, th, structure)
            c.name += tag
            checks.append(c)
        steps, rel = _nc0_rel_series(rec)
        if rel is None or len(rel) < 5:
            checks.append(Check("nc0_rel" + tag, "inconclusive", "NC0_rel was recorded at fewer than 5 steps"))
            continue
        start, end, before = float(rel[0]), _plateau(rel), _previous_window(rel)
        details.setdefault("nc0_rel_start", []).append(start)
        details.setdefault("nc0_rel_end", []).append(end)
        phys = float(np.sum(rec.learning_rates))
        details.setdefault("physical_time", []).append(phys)
        short = phys < ADAPTIVE_MIN_PHYSICAL_TIME
        too_short = (f"; but the run is too short to have left its transient (lr * steps = {phys:.3g} < "
                     f"{ADAPTIVE_MIN_PHYSICAL_TIME}): run longer")
        if kind == "adaptive_coupled":
            ok_end = end <= ADAM_MAX_END_FRACTION * start
            falling = end < before * (1 - ADAM_TREND_SLACK)
            status = "pass" if ok_end else "fail"
            sentence = (f"NC0_rel {start:.3g} at the start -> {end:.3g} at the end (median of the last "
                        f"{PLATEAU_FRACTION:.0%}; previous window {before:.3g}); predicted <= "
                        f"{ADAM_MAX_END_FRACTION} x start = {ADAM_MAX_END_FRACTION * start:.3g}")
            if status == "fail" and short:
                status, sentence = "inconclusive", sentence + too_short
            elif status == "fail" and falling:
                status, sentence = "inconclusive", sentence + "; still falling: run longer"
            elif status == "fail":
                sentence += "; and no longer falling"
            checks.append(Check("nc0_rel_decreases" + tag, status, sentence,
                                predicted=f"<= {ADAM_MAX_END_FRACTION * start:.3g}", measured=end,
                                threshold=ADAM_MAX_END_FRACTION))
        else:
            ok = end >= ADAMW_MIN_END_FRACTION * start
            status = "pass" if ok else "fail"
            sentence = (f"NC0_rel {start:.3g} at the start -> {end:.3g} at the end; predicted to stay >= "
                        f"{ADAMW_MIN_END_FRACTION} x start = {ADAMW_MIN_END_FRACTION * start:.3g} (does not vanish)")
            if status == "pass" and short:
                status, sentence = "inconclusive", sentence + too_short
            checks.append(Check("nc0_rel_persists" + tag, status, sentence,
                                predicted=f">= {ADAMW_MIN_END_FRACTION * start:.3g}", measured=end,
                                threshold=ADAMW_MIN_END_FRACTION))
        nc3 = _metric(rec, "nc3")
        if nc3 is not None and len(nc3) == len(np.asarray(rec.metric_steps)):
            raw_rel = np.asarray(rec.metrics["nc0_rel"], float)
            ok = np.isfinite(nc3) & np.isfinite(raw_rel)
            if ok.any():
                excess = float(np.max(raw_rel[ok] - nc3[ok]))
                nc3_end = _plateau(nc3[ok])
                details.setdefault("nc3_end", []).append(nc3_end)
                # exact for balanced classes (the UFM by construction); elsewhere the centred
                # means need not sum to zero and a violation is not a refutation
                balanced = rec.model == "ufm"
                status = "pass" if excess <= 1e-9 else ("fail" if balanced else "inconclusive")
                checks.append(Check(
                    "nc3_at_least_nc0_rel" + tag, status,
                    f"NC3 >= NC0_rel at every recorded step (balanced classes: the centred means sum to 0, so "
                    f"||W/||W|| - M/||M|| ||_F >= ||1^T W|| / (sqrt(K) ||W||_F)); NC3 at the end {nc3_end:.3g}"
                    + ("" if excess <= 1e-9 else f"; violated by {excess:.3g}"
                       + ("" if balanced else " (the classes need not be balanced here)")),
                    predicted="NC3 >= NC0_rel", measured=nc3_end))
                if kind == "adaptive_decoupled" and not short:
                    floor3 = ADAMW_MIN_END_FRACTION * start
                    checks.append(Check(
                        "nc3_bounded_below" + tag, "pass" if nc3_end >= floor3 else "fail",
                        f"NC3 at the end {nc3_end:.3g} >= {ADAMW_MIN_END_FRACTION} x NC0_rel(start) = {floor3:.3g}: "
                        f"self-duality cannot emerge while NC0 persists",
                        predicted=f">= {floor3:.3g}", measured=nc3_end))
        if "box_bound" in names:
            c = _box_check(rec, th)
            c.name += tag
            checks.append(c)
    _require_decay(checks, lam)
    return _combine(records, theory, checks, details, reasons)


def _require_decay(checks, lam) -> None:
    """Without weight decay the statements of THEORY.md section 4 claim nothing (Theorem 2,
    the box and parity bounds and the 1/lambda plateau all need lambda > 0): every check but
    the exact identities (sign increments, NC3 >= NC0_rel) becomes inconclusive."""
    if lam > 0:
        return
    for c in checks:
        if c.name.split("[")[0] not in ("sign_increments", "nc3_at_least_nc0_rel") and c.status != "inconclusive":
            c.status = "inconclusive"
            c.sentence += " -- not applied: the statement needs weight_decay > 0"
    checks.append(Check("hypothesis_weight_decay", "inconclusive",
                        "weight_decay = 0: the theory's statements need weight_decay > 0"))


def _merge_runs(checks) -> list:
    """One check per kind: per-run checks ``name[lr=...]`` of the same kind merged (all pass ->
    pass, any fail -> fail, else inconclusive; non-essential kinds pass if some run passed and
    none failed), quoting the run that decided."""
    groups: dict = {}
    for c in checks:
        groups.setdefault(c.name.split("[")[0], []).append(c)
    out = []
    for base, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        statuses = {c.status for c in members}
        fails = [c for c in members if c.status == "fail"]
        if fails:
            status = "fail"
            sentence = "; ".join(f"{c.name.partition('[')[2].rstrip(']')}: {c.sentence}" for c in fails)
        elif statuses == {"pass"}:
            status = "pass"
            sentence = f"in all {len(members)} runs; e.g. {members[-1].name.partition('[')[2].rstrip(']')}: " \
                       f"{members[-1].sentence}"
        else:
            passed = [c for c in members if c.status == "pass"]
            status = "pass" if passed and base not in _ESSENTIAL else "inconclusive"
            shown = passed[0] if passed else members[-1]
            others = [c for c in members if c.status == "inconclusive"]
            sentence = (f"{shown.name.partition('[')[2].rstrip(']')}: {shown.sentence}"
                        + (f"; inconclusive in {len(others)} run(s), e.g. {others[0].sentence}" if passed and others else
                           f" (the same in {len(members) - 1} other run(s))" if not passed else ""))
        out.append(Check(base, status, sentence, members[-1].predicted, members[-1].measured, members[-1].threshold))
    return out


def _combine(records, theory, checks, details, reasons) -> Verdict:
    details["checks"] = [asdict(c) for c in checks]
    checks = _merge_runs(checks)
    fails = [c for c in checks if c.status == "fail"]
    passes = [c for c in checks if c.status == "pass"]
    incon = [c for c in checks if c.status == "inconclusive"]
    for c in checks:
        mark = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}[c.status]
        reasons.append(f"[{mark}] {c.name}: {c.sentence}.")
    rec = records[0]
    stated = "; ".join(s.claim for s in theory.nonlinear_theory())
    if fails:
        verdict = "refuted"
        reasons.insert(0, f"The {theory.name} theory ({stated}) is contradicted by "
                          f"{len(fails)} sub-check(s).")
    else:
        essential = [c for c in checks if c.name in _ESSENTIAL]
        if essential and all(c.status == "pass" for c in essential):
            verdict = "verified"
            reasons.insert(0, f"Every essential prediction of the {theory.name} theory held ({len(passes)} "
                              f"sub-check(s) passed" + (f", {len(incon)} could not be run or their hypothesis "
                                                        f"was not met" if incon else "") + ").")
        else:
            verdict = "inconclusive"
            reasons.insert(0, f"No prediction of the {theory.name} theory failed, but not every essential one "
                              f"could be decided.")
    series = {"runs": [{"lr": _base_lr(r), "steps": np.arange(r.steps_done + 1),
                        "measured_nc0": np.linalg.norm(np.asarray(r.row_sums, float), axis=1)} for r in records]}
    return Verdict(verdict, rec.optimizer, dict(rec.hparams), details=details, reasons=reasons,
                   theory=theory.name, theory_hparams={k: float(v) for k, v in theory.values.items()},
                   series=series)


#: Sub-checks that must pass for "verified" (the others may be inconclusive when their
#: hypotheses are not met, e.g. the parity bound before the sign pattern settles).
_ESSENTIAL = {"sign_increments", "scaling_law", "nc0_rel_order_one", "nc0_rel_decreases", "nc0_rel_persists"}


# ---------------------------------------------------------------------------- entry points
def check_record(record, theory=None) -> Verdict:
    """Judge one run; see :func:`check_records`."""
    return check_records([record], theory=theory)


def check_records(records, theory=None) -> Verdict:
    """Judge runs against a theory (default: the spec of the first run).

    Linear theories judge every run by its whole trajectory (the worst verdict wins);
    sign-based theories need runs at >= 3 step sizes for their scaling laws; Adam/AdamW
    theories judge each run by the thresholds in this module's constants. A run with
    ``diverged_at`` set gives "diverged".
    """
    if not isinstance(records, (list, tuple)) or not records:
        raise NCTheoryError("records must be a non-empty list of TrainingRecord")
    for r in records:
        _validate(r)
    spec, explicit_lr = _resolve(theory, records[0])
    # each run is judged with its own lr unless the theory chose one of its own
    theories = [spec if explicit_lr or "lr" not in r.hparams or "lr" not in spec.hyperparameter_names
                else spec.with_hparams(lr=float(r.hparams["lr"])) for r in records]
    diverged = [r for r in records if r.diverged_at is not None]
    if diverged:
        r = diverged[0]
        return Verdict("diverged", r.optimizer, dict(r.hparams),
                       reasons=[f"The run diverged: loss or weights became NaN/inf at step {r.diverged_at} "
                                f"(lr = {_base_lr(r):g}); nothing can be compared after that. Lower lr."],
                       details={"diverged_at": int(r.diverged_at), "lr": _base_lr(r)},
                       theory=spec.name, theory_hparams={k: float(v) for k, v in spec.values.items()})
    if any(r.steps_done == 0 for r in records):
        r = records[0]
        return Verdict("inconclusive", r.optimizer, dict(r.hparams), reasons=["A run has no step to compare."],
                       theory=spec.name)
    kind = _theory_kind(spec)
    if kind == "linear":
        verdicts = [_check_linear(r, th) for r, th in zip(records, theories)]
        order = {"refuted": 0, "inconclusive": 1, "verified": 2}
        worst = min(verdicts, key=lambda v: order[v.verdict])
        if len(verdicts) > 1:
            worst.details["per_run"] = [v.to_dict() for v in verdicts]
        out = worst
    elif kind in ("sign_coupled", "sign_decoupled"):
        out = _check_sign(records, theories, kind)
    elif kind in ("adaptive_coupled", "adaptive_decoupled"):
        out = _check_adaptive(records, theories, kind)
    else:
        r = records[0]
        return Verdict("inconclusive", r.optimizer, dict(r.hparams), theory=spec.name,
                       reasons=[f"{spec.name}: no theory to check against (neither linear nor covered by "
                                f"THEORY.md section 4)."])
    if any(r.stopped_early for r in records):
        out.reasons.append("The run was interrupted (stopped early); the verdict is on the steps completed.")
    differs = spec.name != records[0].optimizer or any(
        not math.isclose(float(v), float(records[0].hparams.get(k, math.nan)), rel_tol=1e-15)
        for k, v in theories[0].values.items())
    out.details["other_theory"] = bool(differs)
    if differs:
        out.reasons.insert(0, f"Judged against another theory: {spec.name} with {_hp_text(theories[0])} "
                              f"(the run used {records[0].optimizer} with "
                              f"{', '.join(f'{k}={v:g}' for k, v in records[0].hparams.items())}).")
    return out
