"""Claim: momentum accelerates NC under SGD at the rate the row-sum recurrence predicts,
slows it past the heavy-ball threshold, cannot speed it up under SGDW -- and the speed-up of
NC goes beyond that of the training loss.

For a linear chain the raw row sums obey ``s_t = phi(t) s_0`` with a scalar sequence ``phi``
(every coordinate follows the same recurrence, the buffers start from the first-step rule),
so ``NC0_t / NC0_0 = |phi(t)|`` is computed exactly from the spec: ``spec.predict([1], T)``.
Everything predicted here comes from the spec's derived objects: that trajectory,
``spec.acceleration_conditions()`` (Schur-Cohn on ``p(r y)``, r = 1 - eta lambda: faster than
SGD or not), ``spec.optimal_momentum()`` and ``spec.excited_rate()``.

Measured: the *settling time* ``T`` of each series (:func:`nctheory.reproduce.measure.settling_time`:
the first recorded step after which it stays below ``SETTLE_FRACTION`` of its start; for the
loss, of ``loss - loss_end``), per seed; the *speed-up* of a momentum run is
``T(baseline) / T(run)``, the baseline being the run of the same seed, lr, decay and setting
whose spec has no momentum hyperparameter (plain SGD). The predicted speed-up is the same
ratio on the exact trajectories sampled at the recorded steps.

Findings: ``nc0_rate`` (measured NC0 settling time = predicted, to one recording interval);
``no_speedup`` (where the acceleration conditions fail -- heavy ball past ``(1 - eta lambda)^2``,
SGDW at every momentum -- the measured NC0 speed-up is <= 1); ``follows[NCi]`` (the NC1, NC2, NC3
speed-ups lie within a factor :data:`FOLLOW_FACTOR` of the predicted one); ``beyond_loss``
(where momentum accelerates NC0, its speed-up exceeds the loss's).
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.reproduce import measure as m
from nctheory.reproduce.claim import CONTRADICTED, INCONCLUSIVE, SUPPORTED, ClaimResult, Finding

NAME = "momentum"
TITLE = ("Momentum accelerates NC0 (and NC1-NC3) under SGD at the rate the row-sum recurrence predicts, slows it "
         "past the heavy-ball threshold mu = (1 - eta lambda)^2, gives no speed-up under SGDW, and accelerates NC "
         "beyond the speed-up of the training loss.")
#: Settling at 1e-3 of the start: three decades, far above float64's floor (NC0 ~ 1e-16 ||W||)
#: and long enough that the transient of the first steps does not dominate.
SETTLE_FRACTION = 1e-3
#: A measured NC1-NC3 speed-up "follows" the prediction within a factor 2: a speed-up off by
#: more than 2x is a different law, not noise (seeds differ by < 10% in our runs).
FOLLOW_FACTOR = 2.0
METRICS = ("nc1", "nc2", "nc3")
MOMENTUM = "momentum"  # the hyperparameter's name (torch's), not an optimizer's


def _has_momentum(spec) -> bool:
    return MOMENTUM in spec.hyperparameter_names


def settle(result, name):
    steps, values = m.series(result, name)
    t = m.settling_time(steps, values, SETTLE_FRACTION)
    limit = (1 - m.PLATEAU_FRACTION) * result.steps_done  # settled before the final window
    return t if t is not None and t <= limit else None


_PHI: dict = {}


def predicted_ratio(result) -> np.ndarray:
    """The exact ``|phi(t)| = NC0_t / NC0_0``, t = 0..steps, of a run's spec (cached)."""
    key = (result.run.optimizer, result.run.hparams, int(result.steps_done))
    if key not in _PHI:
        _PHI[key] = np.abs(m.spec_of(result).predict(np.array([1.0]), int(result.steps_done))[:, 0])
    return _PHI[key]


def predicted_settle(result):
    """The settling time of the exact ``|phi(t)|`` sampled at the run's recorded steps."""
    steps, _ = m.series(result, "nc0")
    phi = predicted_ratio(result)
    return m.settling_time(steps, phi[steps.astype(int)], SETTLE_FRACTION, reference=1.0)


def thresholds(spec) -> dict:
    """mu* (optimal), the largest momentum that still accelerates, and SGD's rate, at this lr and decay."""
    out = {"sgd_rate": 1 - float(spec.values["lr"]) * float(spec.values.get("weight_decay", 0))}
    try:
        opt = spec.optimal_momentum()
        sub = spec.without(MOMENTUM).substitution()
        out["optimal"] = float(opt.momentum.subs(sub)) if opt.beats_sgd else None
    except Exception:  # noqa: BLE001 -- not every spec has a quadratic recurrence
        out["optimal"] = None
    conditions = spec.without(MOMENTUM).acceleration_conditions()
    mu = spec.symbols()[MOMENTUM]

    def accelerates(x):
        return bool(conditions.evaluate({mu: x}))

    if not accelerates(1e-6):
        out["threshold"] = None
        return out
    lo, hi = 1e-6, 1.0 - 1e-9  # bisection on the exact decision: accelerates at lo, not at hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if accelerates(mid) else (lo, mid)
    out["threshold"] = lo
    return out


def _accelerates(spec) -> bool:
    return bool(spec.acceleration_conditions().evaluate())


def _pairs(results):
    """(baseline, run) pairs of the same seed and setting: baseline without momentum."""
    linear = [r for r in m.usable(results) if m.spec_of(r).family.is_linear and "nc0" in r.series]
    base = {}
    for r in linear:
        if not _has_momentum(m.spec_of(r)):
            base[m.condition_key(r, drop=())[1:]] = r
    pairs = []
    for r in linear:
        spec = m.spec_of(r)
        if not _has_momentum(spec):
            continue
        hp = tuple((k, v) for k, v in r.run.hparams if k in ("lr", "weight_decay"))
        b = base.get((hp, m.condition_key(r, drop=())[2]))
        if b is not None:
            pairs.append((b, r))
    return pairs


def _row(pairs) -> dict:
    base0, run0 = pairs[0]
    spec = m.spec_of(run0)
    predicted = predicted_settle(base0), predicted_settle(run0)
    p_speedup = predicted[0] / predicted[1] if None not in predicted else math.nan
    record_every = float(np.diff(m.series(run0, "nc0")[0][:2])[0]) if len(m.series(run0, "nc0")[0]) > 1 else 1.0
    speed = {name: [] for name in ("nc0",) + METRICS + ("loss_gap",)}
    nc0_times, resolution = [], {name: 0.0 for name in speed}
    for b, r in pairs:
        for name in speed:
            tb, tr = settle(b, name), settle(r, name)
            speed[name].append(tb / tr if tb and tr else math.nan)
            if tb and tr:  # settling times are known to one recording interval each
                resolution[name] = max(resolution[name], record_every / tb + record_every / tr)
        nc0_times.append(settle(r, "nc0"))
    hp = m.hparams(run0)
    return {"optimizer": run0.run.optimizer, "momentum": hp[MOMENTUM], "lr": hp["lr"],
            "weight_decay": hp.get("weight_decay", 0.0), "model": m.config(run0).get("model", "ufm"),
            "seeds": len(pairs), "accelerates": _accelerates(spec), "rate": spec.excited_rate(),
            "predicted_T": predicted[1], "predicted_T_base": predicted[0], "predicted_speedup": p_speedup,
            "measured_T": nc0_times, "speedup": {k: m.mean_sd(v) for k, v in speed.items()}, "speedups": speed,
            "resolution": resolution,
            "record_every": record_every, "in_regime": all(m.terminal_phase(x)["reached"] for p in pairs for x in p),
            "run_ids": sorted({x.run_id for p in pairs for x in p}), "_pairs": pairs, "_spec": spec}


def analyse(results) -> ClaimResult:
    """The momentum claim on a sweep's results (linear chains with and without momentum)."""
    groups = {}
    for b, r in _pairs(results):
        groups.setdefault(m.condition_key(r), []).append((b, r))
    rows = sorted((_row(p) for p in groups.values()), key=lambda x: (x["optimizer"], x["lr"], x["momentum"]))
    findings = [_nc0_finding(rows), _no_speedup_finding(rows)] + [_follow_finding(rows, k) for k in METRICS]
    findings.append(_beyond_loss_finding(rows))
    derived = {}
    for r in rows:
        key = (r["optimizer"], r["lr"], r["weight_decay"])
        if key not in derived:
            derived[key] = thresholds(r["_spec"])
    thresholds_ = {"settling fraction": (SETTLE_FRACTION, "a series has settled once it stays below this x its start"),
                   "follow factor": (FOLLOW_FACTOR, "NC1-NC3 speed-up within this factor of the predicted one"),
                   "terminal phase": (m.TPT_MIN_BEYOND_FRACTION, "fraction of steps beyond t_TPT")}
    used = list({x.run_id: x for r in rows for p in r["_pairs"] for x in p}.values())
    claim = ClaimResult(NAME, TITLE, findings, m.regime_text(used),
                        thresholds_, rows)
    claim.derived = derived
    return claim


def figures(claim, outdir) -> list:
    """Speed-up against momentum, and the trajectories behind it."""
    from nctheory.reproduce.momentum_figures import figures as draw

    return draw(claim, outdir)


def _fmt(row) -> str:
    return f"{row['optimizer']}(mu={row['momentum']:.4g})"


def _nc0_finding(rows) -> Finding:
    statement = "the measured NC0 settling time equals the exact prediction of the row-sum recurrence"
    if not rows:
        return Finding("nc0_rate", INCONCLUSIVE, statement, "no pair of runs with and without momentum")
    bad, unresolved, parts = [], [], []
    for r in rows:
        if r["predicted_T"] is None or any(t is None for t in r["measured_T"]):
            unresolved.append(_fmt(r))
            continue
        worst = max(abs(t - r["predicted_T"]) for t in r["measured_T"])
        if worst > r["record_every"]:
            bad.append(f"{_fmt(r)}: measured {r['measured_T']} vs predicted {r['predicted_T']:.0f}")
        parts.append(f"{_fmt(r)} T={r['predicted_T']:.0f}")
    ids = [i for r in rows for i in r["run_ids"]]
    text = "; ".join(parts)
    if unresolved:
        text += f"; not settled within the run: {', '.join(unresolved)}"
    if bad:
        return Finding("nc0_rate", CONTRADICTED, statement, "; ".join(bad), ids)
    return Finding("nc0_rate", SUPPORTED if not unresolved else INCONCLUSIVE, statement,
                   text + " (to one recording interval)", ids)


def _no_speedup_finding(rows) -> Finding:
    statement = ("where the acceleration conditions fail (heavy ball past mu = (1 - eta lambda)^2, SGDW at any mu), "
                 "momentum does not speed NC0 up")
    chosen = [r for r in rows if not r["accelerates"]]
    if not chosen:
        return Finding("no_speedup", INCONCLUSIVE, statement, "no run outside the acceleration region")
    parts, bad, unresolved = [], [], []
    for r in chosen:
        s, sd = r["speedup"]["nc0"]
        tol = r["record_every"] / min(t for t in r["measured_T"] if t) if all(r["measured_T"]) else math.nan
        if not math.isfinite(s):
            unresolved.append(_fmt(r))
            continue
        parts.append(f"{_fmt(r)}: NC0 speed-up {s:.3g} (predicted {r['predicted_speedup']:.3g})")
        if s > 1 + 2 * tol:
            bad.append(parts[-1])
    ids = [i for r in chosen for i in r["run_ids"]]
    if bad:
        return Finding("no_speedup", CONTRADICTED, statement, "; ".join(bad), ids)
    verdict = SUPPORTED if parts and not unresolved else INCONCLUSIVE
    text = "; ".join(parts) + (f"; unresolved: {', '.join(unresolved)}" if unresolved else "")
    return Finding("no_speedup", verdict, statement, text, ids)


def _follow_finding(rows, metric) -> Finding:
    statement = f"the {metric.upper()} speed-up follows the predicted NC0 speed-up (within a factor {FOLLOW_FACTOR:g})"
    parts, bad, unresolved = [], [], []
    for r in rows:
        s, _ = r["speedup"][metric]
        p = r["predicted_speedup"]
        if not (math.isfinite(s) and math.isfinite(p)):
            unresolved.append(_fmt(r))
            continue
        parts.append(f"{_fmt(r)}: {s:.3g} vs {p:.3g}")
        if not (1 / FOLLOW_FACTOR <= s / p <= FOLLOW_FACTOR):
            bad.append(parts[-1])
    ids = [i for r in rows for i in r["run_ids"]]
    name = f"follows[{metric}]"
    if bad:
        return Finding(name, CONTRADICTED, statement, "outside the factor: " + "; ".join(bad)
                       + f" (of {len(parts)} resolved conditions)", ids)
    verdict = SUPPORTED if parts and not unresolved else INCONCLUSIVE
    text = "; ".join(parts) + (f"; {metric.upper()} did not settle to {SETTLE_FRACTION:g} of its start in: "
                               f"{', '.join(unresolved)}" if unresolved else "")
    return Finding(name, verdict, statement, text or "no condition", ids)


def _beyond_loss_finding(rows) -> Finding:
    statement = "where momentum accelerates NC0, it accelerates NC0 more than the training loss"
    chosen = [r for r in rows if r["accelerates"]]
    parts, bad, unresolved = [], [], []
    ties = []
    for r in chosen:
        s0, sl = r["speedup"]["nc0"][0], r["speedup"]["loss_gap"][0]
        if not (math.isfinite(s0) and math.isfinite(sl)):
            unresolved.append(_fmt(r))
            continue
        tol = r["resolution"]["nc0"] + r["resolution"]["loss_gap"]
        word = "beyond" if s0 > sl * (1 + tol) else "NOT beyond" if s0 < sl * (1 - tol) else "alike"
        parts.append(f"{_fmt(r)}: NC0 x{s0:.3g} vs loss x{sl:.3g} ({word}; resolution +-{tol:.0%})")
        (bad if word == "NOT beyond" else ties if word == "alike" else []).append(parts[-1])
    ids = [i for r in chosen for i in r["run_ids"]]
    text = ("; ".join(parts) or "no accelerating condition") + (f"; unresolved: {', '.join(unresolved)}"
                                                               if unresolved else "")
    if bad:
        return Finding("beyond_loss", CONTRADICTED, statement, text, ids)
    verdict = SUPPORTED if parts and not unresolved and not ties else INCONCLUSIVE
    if ties:
        text += (f"; at {len(ties)} of {len(parts)} momenta NC0 and the loss speed up alike within the recording "
                 f"resolution")
    return Finding("beyond_loss", verdict, statement, text, ids)
