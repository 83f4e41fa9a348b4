"""Claim: the sign-based scaling laws of THEORY.md section 4.

* coupled SignGD: the NC0 plateau is O(eta) -- log-log slope 1 in the step size;
* decoupled SignGD: the plateau is set by ``1/lambda`` (``s_t -> -sigma/lambda``), independent
  of eta (slope 0 in eta), with NC0_rel of order one; "of order 1/lambda" is tested as
  ``lambda x plateau = ||sigma||`` inside ``[sqrt(d), K sqrt(d)]`` (odd K; ``[0, K sqrt(d)]`` for
  even K) at every weight decay of a scan -- both ends are theorems once the pattern is constant;
* parity of K: for odd K every entry of ``sigma = sign(G)^T 1`` is odd, so the decoupled
  plateau is at least ``sqrt(d)/lambda`` (:func:`~nctheory.theory.symbolic.signbased.parity_lower_bound`);
  for even K the bound is 0.

Runs are recognised by ``spec.family`` (kind "sign", coupled or decoupled). A scan is a set
of runs equal in everything but the scanned hyperparameter, the steps and the seed; it needs
>= :data:`~nctheory.verdict.sign.MIN_STEP_SIZES` values. The plateau of a run is the median
raw NC0 over its last 20% of recorded points; it has *settled* when it is at least
:data:`~nctheory.verdict.sign.SETTLED_MIN_RATIO` x the median of the window before (else NC0
was still falling and the plateau is only an upper bound). The thresholds are the package's
sign verdict's (:mod:`nctheory.verdict.sign`, where they are justified). A run counts once its decay has
acted for :data:`MIN_DECAY_TIMES` time constants ``1/(eta lambda)`` (``(1 - a)^t < e^-5 < 1%``:
the initial condition is forgotten) and it is in the terminal phase.

The decoupled limit ``-sigma/lambda`` and the parity bound need the sign pattern to be
eventually constant with no zero gradient entry. A decoupled run has *converged* (its pattern
settled) when NC0 varies by at most :data:`CONVERGED_SPREAD` (relative) over its final window:
a constant pattern leaves only the decaying transient ``(1 - a)^t (s_0 - s_inf)``, which moves by
``e^-4 - e^-5 = 1.2%`` of the offset over the last of five time constants (3% for an offset
2.5 times the limit); a changing pattern moves NC0 by 10-80% there (measured). Runs that have not are reported and not used for the 1/lambda law and the
parity bound (their hypothesis fails); where their training loss reached exactly 0 the
report says why: the softmax saturated in floating point, the gradient has exact zeros,
``sign(0) = 0`` and the pattern keeps changing.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.reproduce import measure as m
from nctheory.reproduce.claim import CONTRADICTED, INCONCLUSIVE, SUPPORTED, ClaimResult, Finding
from nctheory.theory.family import COUPLED, DECOUPLED, SIGN_KIND
from nctheory.theory.symbolic.signbased import parity_lower_bound
from nctheory.verdict.record import previous_window
from nctheory.verdict.sign import (COUPLED_SLOPE_WINDOW, DECOUPLED_MAX_ABS_SLOPE, DECOUPLED_MIN_NC0_REL, MIN_STEP_SIZES,
                                   SETTLED_MIN_RATIO)

NAME = "sign_scaling"
TITLE = ("Sign-based scaling laws: the NC0 plateau is linear in the step size under coupled SignGD, of order "
         "1/lambda and independent of the step size under decoupled SignGD, and bounded below by sqrt(d)/lambda "
         "for odd K (parity of K).")
MIN_DECAY_TIMES = 5.0
#: Relative spread (max - min) / median of NC0 over the final window of a converged run.
CONVERGED_SPREAD = 0.03


def sign_runs(results):
    return [r for r in m.usable(results) if m.spec_of(r).family.kind == SIGN_KIND and "nc0" in r.series]


def run_facts(result) -> dict:
    hp, cfg = m.hparams(result), m.config(result)
    steps, nc0 = m.series(result, "nc0")
    plateau = m.plateau(result, "nc0")
    before = previous_window(nc0) if nc0.size else math.nan
    lr, wd = float(hp["lr"]), float(hp.get("weight_decay", 0.0))
    sizes = result.run.to_run_config().ufm_sizes() if cfg.get("model", "ufm") == "ufm" else {}
    K = int(cfg.get("num_classes") or sizes.get("num_classes") or 0)
    d = sizes.get("dim")
    phase = m.terminal_phase(result)
    times = lr * wd * result.steps_done
    window = nc0[-max(1, int(math.ceil(m.PLATEAU_FRACTION * nc0.size))):] if nc0.size else nc0
    spread = float((window.max() - window.min()) / plateau) if window.size and plateau > 0 else math.nan
    _, loss = m.series(result, "loss")
    return {"run_id": result.run_id, "coupling": m.spec_of(result).family.coupling, "lr": lr, "weight_decay": wd,
            "seed": m.seed(result), "K": K, "d": d, "steps": result.steps_done, "plateau": plateau,
            "nc0_rel": m.plateau(result, "nc0_rel"), "settled": plateau >= SETTLED_MIN_RATIO * before,
            "decay_times": times, "tpt": phase["t_tpt"],
            "in_regime": phase["reached"] and times >= MIN_DECAY_TIMES,
            "floor": parity_lower_bound(d, K, wd) if (d and K and wd > 0) else None, "spread": spread,
            "converged": spread <= CONVERGED_SPREAD, "loss_hit_zero": bool(loss.size and loss.min() == 0.0),
            "transient": _transient(lr, wd, result.steps_done, float(nc0[0]) if nc0.size else math.nan, plateau),
            "_result": result}


def scans(facts, vary: str, coupling: str) -> list:
    """Lists of run facts equal in all but ``vary``, the steps and the seed, with >= MIN_STEP_SIZES values."""
    groups = {}
    for f in facts:
        if f["coupling"] != coupling:
            continue
        key = m.condition_key(f["_result"], drop=("seed", "steps", vary))
        groups.setdefault(key, []).append(f)
    return [g for g in groups.values() if len({f[vary] for f in g}) >= MIN_STEP_SIZES]


def fit(scan, vary: str, converged_only: bool = False) -> dict:
    dropped = [f for f in scan if converged_only and not f["converged"]]
    scan = [f for f in scan if f not in dropped]
    xs = sorted({f[vary] for f in scan})
    medians = [float(np.median([f["plateau"] for f in scan if f[vary] == x])) for x in xs]
    ok = len(xs) >= MIN_STEP_SIZES and all(p > 0 for p in medians)
    slope = float(np.polyfit(np.log(xs), np.log(medians), 1)[0]) if ok else math.nan
    return {"x": xs, "median": medians, "slope": slope, "settled": all(f["settled"] for f in scan),
            "in_regime": all(f["in_regime"] for f in scan), "run_ids": [f["run_id"] for f in scan],
            "rel_min": float(np.nanmin([f["nc0_rel"] for f in scan])) if scan else math.nan,
            "increasing": bool(np.all(np.diff(medians) > 0)), "dropped": dropped, "enough": ok, "facts": scan}


def _decide(fits, ok, statement, name, describe) -> Finding:
    if not fits:
        return Finding(name, INCONCLUSIVE, statement, f"no scan over >= {MIN_STEP_SIZES} values in the sweep")
    verdicts, parts = [], []
    for f in fits:
        dropped = _dropped(f["dropped"])
        if not f["enough"]:
            verdicts.append(INCONCLUSIVE)
            parts.append(f"fewer than {MIN_STEP_SIZES} values left with converged runs{dropped}")
            continue
        good = ok(f)
        regime = f["in_regime"] and f["settled"]
        verdicts.append(SUPPORTED if good and regime else CONTRADICTED if regime else INCONCLUSIVE)
        note = "" if regime else (" (not settled: NC0 still falling)" if not f["settled"] else
                                  f" (outside the regime: < {MIN_DECAY_TIMES:g} decay times or not in the terminal phase)")
        parts.append(describe(f) + note + dropped)
    verdict = (CONTRADICTED if CONTRADICTED in verdicts else SUPPORTED if all(v == SUPPORTED for v in verdicts)
               else INCONCLUSIVE)
    return Finding(name, verdict, statement, "; ".join(parts), [i for f in fits for i in f["run_ids"]])


def _transient(lr, wd, steps, start, plateau) -> float:
    """What is left of the initial condition where the final window starts: ``s_t - s_inf =
    (1 - a)^t (s_0 - s_inf)`` with a constant pattern, so at most ``(1 - a)^t0 (NC0_0 + NC0_inf)``
    (``t0`` = the window's first step); the limit bounds hold for the plateau up to this."""
    t0 = (1 - m.PLATEAU_FRACTION) * steps
    return (1 - lr * wd) ** t0 * (start + plateau) if 0 < lr * wd < 1 else math.inf


def band(f) -> tuple[float, float]:
    """``[lower, upper]`` for ``lambda x plateau = ||sigma||`` with a constant sign pattern:
    ``|sigma_j| <= K`` gives ``K sqrt(d)``; odd K gives odd entries, ``>= sqrt(d)``."""
    d, K = f["d"], f["K"]
    return (math.sqrt(d) if K % 2 else 0.0), K * math.sqrt(d)


def _in_band(scan) -> bool:
    runs = [f for f in scan["facts"] if f["d"]]
    return bool(runs) and all(band(f)[0] - f["weight_decay"] * f["transient"] <= f["weight_decay"] * f["plateau"]
                              <= band(f)[1] + f["weight_decay"] * f["transient"] for f in runs)


def _band_text(scan) -> str:
    runs = [f for f in scan["facts"] if f["d"]]
    if not runs:
        return "no UFM run (d unknown)"
    prods = [f["weight_decay"] * f["plateau"] for f in runs]
    lo, hi = band(runs[0])
    return (f"lambda x plateau by weight decay ({', '.join(f'{x:g}: {p * x:.3g}' for x, p in zip(scan['x'], scan['median']))})"
            f", all runs from {min(prods):.4g} to {max(prods):.4g}, band [{lo:.3g}, {hi:.3g}] up to the initial "
            f"condition's remainder (at most {max(f['weight_decay'] * f['transient'] for f in runs):.2g}); fitted log-log slope "
            f"{scan['slope']:.3f} (predicted -1 up to the spread of ||sigma|| within the band)")


def _dropped(facts) -> str:
    if not facts:
        return ""
    zero = sum(f["loss_hit_zero"] for f in facts)
    return (f"; {len(facts)} run(s) left out, their sign pattern still changing (NC0 spread "
            f"{min(f['spread'] for f in facts):.2g}-{max(f['spread'] for f in facts):.2g} > {CONVERGED_SPREAD:g} over "
            f"the final window)" + (f", {zero} of them with a training loss of exactly 0 in floating point (saturated "
                                    f"softmax: exact zeros in the gradient, sign(0) = 0)" if zero else ""))


def _table(f, vary):
    return ", ".join(f"{x:g}: {p:.3g}" for x, p in zip(f["x"], f["median"]))


def analyse(results) -> ClaimResult:
    facts = [run_facts(r) for r in sign_runs(results)]
    lo, hi = COUPLED_SLOPE_WINDOW
    coupled = [fit(s, "lr") for s in scans(facts, "lr", COUPLED)]
    f1 = _decide(coupled, lambda f: lo <= f["slope"] <= hi and f["increasing"],
                 "coupled SignGD: the NC0 plateau is linear in the step size (log-log slope 1)", "coupled_linear_in_lr",
                 lambda f: f"plateau by lr ({_table(f, 'lr')}): slope {f['slope']:.3f}, window [{lo}, {hi}]")
    decoupled = [fit(s, "lr", converged_only=True) for s in scans(facts, "lr", DECOUPLED)]
    f2 = _decide(decoupled, lambda f: abs(f["slope"]) < DECOUPLED_MAX_ABS_SLOPE and f["rel_min"] >= DECOUPLED_MIN_NC0_REL,
                 "decoupled SignGD: the NC0 plateau does not depend on the step size, and NC0_rel stays of order one",
                 "decoupled_independent_of_lr",
                 lambda f: (f"plateau by lr ({_table(f, 'lr')}): slope {f['slope']:.3f}, |slope| < "
                            f"{DECOUPLED_MAX_ABS_SLOPE}; smallest NC0_rel plateau {f['rel_min']:.3g} "
                            f"(>= {DECOUPLED_MIN_NC0_REL})"))
    lam = [fit(s, "weight_decay", converged_only=True) for s in scans(facts, "weight_decay", DECOUPLED)]
    f3 = _decide(lam, _in_band, "decoupled SignGD: the NC0 plateau is of order 1/lambda -- lambda x plateau = ||sigma|| "
                 "stays in [sqrt(d) (odd K), K sqrt(d)] at every weight decay", "decoupled_order_one_over_lambda",
                 _band_text)
    findings = [f1, f2, f3, _parity(facts)]
    thresholds = {"coupled slope window": (COUPLED_SLOPE_WINDOW, "nctheory.verdict.sign"),
                  "decoupled |slope| <": (DECOUPLED_MAX_ABS_SLOPE, "nctheory.verdict.sign"),
                  "decoupled NC0_rel >=": (DECOUPLED_MIN_NC0_REL, "nctheory.verdict.sign"),
                  "1/lambda band": ("[sqrt(d), K sqrt(d)]", "lambda x plateau = ||sigma||, |sigma_j| <= K, odd entries for odd K"),
                  "settled ratio": (SETTLED_MIN_RATIO, "last-window median / previous-window median"),
                  "converged spread": (CONVERGED_SPREAD, "decoupled: (max - min) / median of NC0 in the final window"),
                  "decay time constants": (MIN_DECAY_TIMES, "lr x weight_decay x steps")}
    claim = ClaimResult(NAME, TITLE, findings, _regime(facts), thresholds,
                        [{k: v for k, v in f.items() if k != "_result"} for f in facts])
    claim.derived = {"coupled_scans": coupled, "decoupled_scans": decoupled, "lambda_scans": lam,
                     "results": {f["run_id"]: f["_result"] for f in facts}}
    return claim


def figures(claim, outdir) -> list:
    """Plateau vs lr, vs weight decay, parity of K; trajectories in decay time."""
    from nctheory.reproduce.sign_figures import figures as draw

    return draw(claim, outdir)


def _regime(facts) -> str:
    if not facts:
        return "no sign-based runs"
    t = [f["decay_times"] for f in facts]
    dec = [f for f in facts if f["coupling"] == DECOUPLED]
    return (m.regime_text([f["_result"] for f in facts]) + f"; decay time constants lr x wd x steps from "
            f"{min(t):.3g} to {max(t):.3g}; {sum(f['settled'] for f in facts)} of {len(facts)} plateaus settled; "
            f"{sum(f['converged'] for f in dec)} of {len(dec)} decoupled runs converged to a constant sign pattern")


def _parity(facts) -> Finding:
    statement = ("odd K: once the sign pattern is constant, the decoupled NC0 plateau is at least sqrt(d)/lambda "
                 "(the parity bound); even K: no such floor")
    dec = [f for f in facts if f["coupling"] == DECOUPLED and f["floor"] is not None]
    odd = [f for f in dec if f["K"] % 2 == 1]
    even = [f for f in facts if f["coupling"] == DECOUPLED and f["K"] and f["K"] % 2 == 0 and f["d"]]
    if not odd:
        return Finding("parity_bound", INCONCLUSIVE, statement, "no decoupled UFM run with odd K")
    decided = [f for f in odd if f["in_regime"] and f["settled"] and f["converged"]]
    below = [f for f in decided if f["plateau"] < f["floor"] - f["transient"]]
    ratios = [f["plateau"] / f["floor"] for f in decided]
    text = (f"odd K ({sorted({f['K'] for f in odd})}): {len(decided)} of {len(odd)} runs converged in the regime, "
            f"plateau / (sqrt(d)/lambda) from {min(ratios):.4g} to {max(ratios):.4g} (bound up to the initial "
            f"condition's remainder, at most {max(f['transient'] / f['floor'] for f in decided):.2g} of it)" if ratios else
            f"odd K: none of {len(odd)} runs converged in the regime")
    text += _dropped([f for f in odd if not f["converged"]])
    if even:
        er = [f["plateau"] * f["weight_decay"] / math.sqrt(f["d"]) for f in even if f["converged"]]
        if er:
            text += (f"; even K ({sorted({f['K'] for f in even})}), converged runs: plateau / (sqrt(d)/lambda) from "
                     f"{min(er):.3g} to {max(er):.3g}, {sum(x < 1 for x in er)} of {len(er)} below 1")
    ids = [f["run_id"] for f in odd + even]
    if below:
        return Finding("parity_bound", CONTRADICTED, statement, text + f"; {len(below)} odd-K run(s) below the bound", ids)
    return Finding("parity_bound", SUPPORTED if decided else INCONCLUSIVE, statement, text, ids)
