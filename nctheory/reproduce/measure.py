"""What the claim analysers read off a run (:class:`~nctheory.sweep.result.RunResult`):
its spec and family, its conditions (everything but the seed), its metric series, its
plateaus, its decay times and the regime it reached (terminal phase, physical time).

Definitions used throughout (stated once here, quoted by the report):

* **terminal phase** (Papyan, Han & Donoho, PNAS 2020): from the first recorded step at which
  the training accuracy is 1 (``t_TPT``). A run is *in the terminal phase* when
  ``t_TPT`` exists and at least :data:`TPT_MIN_BEYOND_FRACTION` of its steps come after it, so
  that the window the plateaus are read from (the last :data:`PLATEAU_FRACTION` of the
  recorded points) lies entirely beyond ``t_TPT``.
* **plateau** of a series: the median over the last :data:`PLATEAU_FRACTION` of the recorded
  points (:func:`nctheory.verdict.record.plateau`, the verdicts' own definition).
* **settling time** ``T_f`` of a decaying series ``x``: the first recorded step after which
  ``x`` stays at or below ``f x_0`` (robust to the oscillation of under-damped momenta: a
  series that dips below and rises again has not settled).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from nctheory.verdict.record import PLATEAU_FRACTION, plateau as _plateau

#: At least half of a run's steps must lie beyond ``t_TPT`` (then the final 20% plateau
#: window is inside the terminal phase with room to spare).
TPT_MIN_BEYOND_FRACTION = 0.5

#: Accuracy counted as 1: the fraction of N <= 10^6 samples is exact in float64 to far better.
_ACC_ONE = 1.0 - 1e-12

__all__ = ["PLATEAU_FRACTION", "TPT_MIN_BEYOND_FRACTION", "conditions", "config", "hparams", "plateau",
           "series", "settling_time", "spec_of", "terminal_phase"]

_SPECS: dict = {}


def spec_of(result):
    """The optimizer spec of a run, with its hyperparameters (cached by run content)."""
    run = result.run if hasattr(result, "run") else result
    key = (run.optimizer, run.hparams, id(run.spec))
    if key not in _SPECS:
        _SPECS[key] = run.to_spec()
    return _SPECS[key]


def hparams(result) -> dict:
    return dict(result.run.hparams)


def config(result) -> dict:
    return dict(result.run.config)


def seed(result) -> int:
    return int(config(result).get("seed", 0))


def condition_key(result, drop=("seed",)) -> tuple:
    """A run's identity without the seed (or without the keys in ``drop``)."""
    run = result.run
    cfg = tuple((k, v) for k, v in run.config if k not in drop)
    hp = tuple((k, v) for k, v in run.hparams if k not in drop)
    return (run.optimizer, hp, cfg)


def conditions(results, drop=("seed",)) -> dict:
    """condition key -> the runs that differ only in ``drop`` (by default: the seeds), in order."""
    out = defaultdict(list)
    for r in results:
        out[condition_key(r, drop)].append(r)
    return dict(out)


def usable(results) -> list:
    """The runs that finished (failed and diverged runs are reported, never analysed)."""
    return [r for r in results if r.status == "finished"]


def series(result, name) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of a recorded metric, finite values only (empty when not recorded).

    Two derived series: ``"nc2"`` (where not recorded as such) is the larger of NC2's parts
    ``nc2_norm`` and ``nc2_angle`` (NC2 needs both); ``"loss_gap"`` is ``|loss - loss_end|``,
    the distance of the loss to where the run ends (the loss of a regularised objective does
    not go to 0).
    """
    if name == "nc2" and "nc2" not in result.series:
        s1, a = series(result, "nc2_norm")
        _, b = series(result, "nc2_angle")
        n = min(a.size, b.size)
        return s1[:n], np.maximum(a[:n], b[:n])
    if name == "loss_gap":
        steps, loss = series(result, "loss")
        return steps, (np.abs(loss - loss[-1]) if loss.size else loss)
    values = np.asarray(result.series.get(name, []), dtype=float)
    steps = np.asarray(result.series.get("step", []), dtype=float)[:values.size]
    ok = np.isfinite(values)
    return steps[ok], values[ok]


def plateau(result, name) -> float:
    """Median of a metric over the last :data:`PLATEAU_FRACTION` of its recorded points (NaN if none)."""
    _, values = series(result, name)
    return _plateau(values) if values.size else math.nan


def start(result, name) -> float:
    _, values = series(result, name)
    return float(values[0]) if values.size else math.nan


def settling_time(steps, values, fraction: float, reference: float | None = None) -> float | None:
    """The first recorded step after which ``values <= fraction * reference`` for good
    (``reference``: the first value); None if the series never settles there."""
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    if values.size == 0:
        return None
    ref = float(values[0]) if reference is None else float(reference)
    above = np.flatnonzero(~(values <= fraction * ref))
    if above.size == 0:
        return float(steps[0])
    last = int(above[-1])
    return None if last == values.size - 1 else float(steps[last + 1])


def terminal_phase(result) -> dict:
    """``{"t_tpt", "steps", "beyond", "reached"}``: the first recorded step with training
    accuracy 1, the steps done, how many came after it, and whether the run is in the
    terminal phase (see the module docstring)."""
    steps, acc = series(result, "accuracy")
    hit = np.flatnonzero(acc >= _ACC_ONE)
    done = int(result.steps_done)
    if hit.size == 0:
        return {"t_tpt": None, "steps": done, "beyond": 0, "reached": False,
                "accuracy_end": float(acc[-1]) if acc.size else math.nan}
    t = int(steps[hit[0]])
    beyond = done - t
    return {"t_tpt": t, "steps": done, "beyond": beyond, "accuracy_end": float(acc[-1]),
            "reached": beyond >= TPT_MIN_BEYOND_FRACTION * done}


def regime_text(results) -> str:
    """The terminal-phase regime of a set of runs, in one sentence with the measured numbers."""
    phases = [terminal_phase(r) for r in results]
    if not phases:
        return "no finished runs"
    reached = [p for p in phases if p["reached"]]
    tpts = [p["t_tpt"] for p in phases if p["t_tpt"] is not None]
    text = (f"{len(reached)} of {len(phases)} runs in the terminal phase (training accuracy 1.0 by step "
            f"t_TPT and >= {TPT_MIN_BEYOND_FRACTION:.0%} of the steps beyond it)")
    if tpts:
        text += (f"; t_TPT from {min(tpts)} to {max(tpts)} steps, runs of "
                 f"{min(p['steps'] for p in phases)} to {max(p['steps'] for p in phases)} steps")
    never = [p for p in phases if p["t_tpt"] is None]
    if never:
        text += (f"; {len(never)} never reached training accuracy 1 (final accuracy "
                 f"{min(p['accuracy_end'] for p in never):.3f} to {max(p['accuracy_end'] for p in never):.3f})")
    return text


def describe(result, keys=None) -> str:
    """A short label: optimizer and the hyperparameters (and config keys) that vary."""
    hp = hparams(result)
    parts = [f"{k}={hp[k]:g}" if isinstance(hp[k], float) else f"{k}={hp[k]}"
             for k in (keys if keys is not None else sorted(hp)) if k in hp]
    return f"{result.run.optimizer}({', '.join(parts)})"


def family_label(result) -> str:
    """The family of theory of a run's optimizer: "linear", "sign_coupled", "adaptive_decoupled", ..."""
    fam = spec_of(result).family
    return fam.name


def mean_sd(values) -> tuple[float, float]:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0
