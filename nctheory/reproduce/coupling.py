"""Claim: coupled weight decay lets NC emerge, decoupled decay in an elementwise-adaptive
optimizer does not -- and the same run with only the coupling changed flips the outcome.

Prediction per run, derived from the spec (never from its name):

* a chain whose row sums follow an exact linear recurrence (``spec.family.is_linear``: SGD,
  heavy ball, SGDW, decoupled Muon) -> NC0 *vanishes* iff ``spec.rate() < 1``;
* an elementwise nonlinear chain with *coupled* decay (``spec.family.coupling``: Adam,
  coupled SignGD) -> NC0 *vanishes* (Theorem 2: stationary points of the L2-regularised
  objective have NC0 = 0);
* with *decoupled* decay (AdamW, decoupled SignGD, Lion) -> NC0 *persists*.

Measured per run: ``r = plateau(NC0_rel) / NC0_rel(0)``; *vanished* when
``r <= ADAM_MAX_END_FRACTION`` (0.1), *persisted* when ``r >= ADAMW_MIN_END_FRACTION``
(0.25) -- the package's verdict thresholds (:mod:`nctheory.verdict.adaptive`, where their
calibration is documented), in between *undecided*. A condition (all seeds of one setting)
*agrees* when every seed shows the predicted outcome and *disagrees* when most seeds show
the opposite one. Only runs in the regime count: in the terminal phase
(:func:`nctheory.reproduce.measure.terminal_phase`), and for nonlinear chains past the
adaptive transient and with the decay acted (``lr x steps >= ADAPTIVE_MIN_PHYSICAL_TIME``,
``lr x weight_decay x steps >= ADAPTIVE_MIN_DECAY_EXPOSURE``); a linear chain must be
predicted to fall by 10x within the run (``rate()^steps <= 0.1``).
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.reproduce import measure as m
from nctheory.reproduce.claim import CONTRADICTED, INCONCLUSIVE, SUPPORTED, ClaimResult, Finding
from nctheory.theory.family import COUPLED, DECOUPLED
from nctheory.verdict.adaptive import (ADAM_MAX_END_FRACTION, ADAMW_MIN_END_FRACTION, ADAPTIVE_MIN_DECAY_EXPOSURE,
                                       ADAPTIVE_MIN_PHYSICAL_TIME)

NAME = "coupling"
TITLE = ("Coupled weight decay (SGD, Adam, coupled SignGD) lets NC0 -> 0 and NC emerge; decoupled decay in an "
         "elementwise-adaptive optimizer (AdamW, decoupled SignGD) keeps NC0 away from 0; changing only the "
         "coupling flips the outcome.")
VANISHES, PERSISTS, UNDECIDED = "vanishes", "persists", "undecided"


def predicted_outcome(spec) -> tuple[str, str]:
    """``(outcome, why)`` for a spec with its hyperparameters, from its family and rate."""
    fam = spec.family
    if fam.is_linear:
        rate = spec.rate()
        return (VANISHES if rate < 1 else PERSISTS), f"exact linear recurrence, rate {rate:.6g}"
    if fam.coupling == COUPLED:
        return VANISHES, f"{fam.name}: decay inside the nonlinearity (Theorem 2)"
    return PERSISTS, f"{fam.name}: decay outside the nonlinearity"


def measured_outcome(ratio: float) -> str:
    if not math.isfinite(ratio):
        return UNDECIDED
    if ratio <= ADAM_MAX_END_FRACTION:
        return VANISHES
    if ratio >= ADAMW_MIN_END_FRACTION:
        return PERSISTS
    return UNDECIDED


def in_regime(result) -> tuple[bool, str]:
    """Whether the run is in the regime the prediction speaks about, and its measured regime."""
    phase = m.terminal_phase(result)
    spec = m.spec_of(result)
    hp = m.hparams(result)
    steps = int(result.steps_done)
    text = (f"t_TPT={phase['t_tpt']}, {phase['beyond']} of {steps} steps beyond" if phase["t_tpt"] is not None
            else f"training accuracy never 1 (final {phase['accuracy_end']:.3f})")
    ok = phase["reached"]
    if spec.family.is_linear:
        factor = spec.rate() ** steps
        text += f", predicted raw NC0 factor rate^steps = {factor:.2g}"
        ok = ok and factor <= ADAM_MAX_END_FRACTION
    else:
        lr, wd = float(hp.get("lr", 0.0)), float(hp.get("weight_decay", 0.0))
        phys, exposure = lr * steps, lr * wd * steps
        text += f", lr x steps = {phys:.3g}, decay exposure = {exposure:.3g}"
        ok = ok and phys >= ADAPTIVE_MIN_PHYSICAL_TIME and exposure >= ADAPTIVE_MIN_DECAY_EXPOSURE
    return ok, text


def _condition_row(runs) -> dict:
    first = runs[0]
    spec = m.spec_of(first)
    predicted, why = predicted_outcome(spec)
    ratios = [m.plateau(r, "nc0_rel") / m.start(r, "nc0_rel") for r in runs]
    outcomes = [measured_outcome(x) for x in ratios]
    regimes = [in_regime(r) for r in runs]
    ok = all(flag for flag, _ in regimes)
    opposite = PERSISTS if predicted == VANISHES else VANISHES
    if all(o == predicted for o in outcomes):
        agreement = "agrees"
    elif sum(o == opposite for o in outcomes) > len(outcomes) / 2:
        agreement = "disagrees"
    else:
        agreement = "undecided"
    phases = [m.terminal_phase(r) for r in runs]
    tpts = [p["t_tpt"] for p in phases if p["t_tpt"] is not None]
    cfg, hp = m.config(first), m.hparams(first)
    return {"model": cfg.get("model", "ufm"), "dataset": cfg.get("dataset", ""), "optimizer": first.run.optimizer,
            "family": spec.family.name, "lr": hp.get("lr"), "weight_decay": hp.get("weight_decay"),
            "steps": first.steps_done, "seeds": len(runs),
            "t_tpt": float(np.mean(tpts)) if tpts else math.nan,
            "nc0_rel_start": m.mean_sd([m.start(r, "nc0_rel") for r in runs])[0],
            "ratio": m.mean_sd(ratios), "ratios": ratios,
            "nc1_end": m.mean_sd([m.plateau(r, "nc1") for r in runs]),
            "nc3_end": m.mean_sd([m.plateau(r, "nc3") for r in runs]),
            "predicted": predicted, "why": why, "measured": outcomes, "agreement": agreement,
            "in_regime": ok, "regime": regimes[0][1], "run_ids": [r.run_id for r in runs],
            "_kind": spec.family.kind, "_coupling": spec.family.coupling, "_runs": runs,
            "_pair_key": (spec.family.kind, tuple(sorted(hp.items())), m.condition_key(first)[2])}


def _prediction_finding(rows, predicted, label) -> Finding:
    rows = [r for r in rows if r["predicted"] == predicted]
    statement = f"NC0_rel {predicted} under {label}"
    if not rows:
        return Finding(f"nc0_{predicted}", INCONCLUSIVE, statement, "no run of this kind in the sweep")
    inside = [r for r in rows if r["in_regime"]]
    outside = len(rows) - len(inside)
    text = "; ".join(f"{_label(r)}: NC0_rel end/start {r['ratio'][0]:.3g} +- {r['ratio'][1]:.2g} "
                     f"({r['agreement']}{'' if r['in_regime'] else ', outside the regime: ' + r['regime']})"
                     for r in rows)
    ids = [i for r in rows for i in r["run_ids"]]
    bad = [r for r in inside if r["agreement"] == "disagrees"]
    if bad:
        verdict = CONTRADICTED
    elif inside and all(r["agreement"] == "agrees" for r in inside):
        verdict = SUPPORTED
    else:
        verdict = INCONCLUSIVE
    tail = f" ({outside} condition(s) outside the regime not counted)" if outside else ""
    return Finding(f"nc0_{predicted}", verdict, statement, text + tail, ids)


def _label(row) -> str:
    where = row["dataset"] or row["model"]
    return f"{row['optimizer']} on {where} (lr={row['lr']:g}, wd={row['weight_decay']:g})"


def _flip_finding(rows) -> Finding:
    """Pairs of conditions equal in everything but the coupling of the decay."""
    pairs = {}
    for r in rows:
        if r["_coupling"] in (COUPLED, DECOUPLED) and r["_kind"] != "linear":
            pairs.setdefault(r["_pair_key"], {})[r["_coupling"]] = r
    pairs = [p for p in pairs.values() if COUPLED in p and DECOUPLED in p]
    statement = "the same run with only the decay's coupling changed flips NC0_rel from vanishing to persisting"
    if not pairs:
        return Finding("flip", INCONCLUSIVE, statement, "no pair of runs differing only in the coupling")
    parts, verdicts, ids = [], [], []
    for p in pairs:
        c, d = p[COUPLED], p[DECOUPLED]
        ids += c["run_ids"] + d["run_ids"]
        flipped = c["agreement"] == "agrees" and d["agreement"] == "agrees"
        same = (all(o == VANISHES for o in c["measured"] + d["measured"])
                or all(o == PERSISTS for o in c["measured"] + d["measured"]))
        inside = c["in_regime"] and d["in_regime"]
        wrong = same or "disagrees" in (c["agreement"], d["agreement"])
        verdicts.append(SUPPORTED if inside and flipped else CONTRADICTED if inside and wrong else INCONCLUSIVE)
        word = "flips" if flipped else "same outcome" if same else "flips the wrong way" if wrong else "undecided"
        parts.append(f"{_label(c)} -> {d['optimizer']}: end/start {c['ratio'][0]:.3g} vs {d['ratio'][0]:.3g} "
                     f"({word}"
                     f"{'' if inside else ', outside the regime'})")
    verdict = (CONTRADICTED if CONTRADICTED in verdicts else SUPPORTED if SUPPORTED in verdicts
               and all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE)
    return Finding("flip", verdict, statement, "; ".join(parts), ids)


def analyse(results) -> ClaimResult:
    """The coupling claim on a sweep's results (any runs; those without decay are skipped)."""
    runs = [r for r in m.usable(results) if float(m.hparams(r).get("weight_decay", 0.0)) > 0
            and "nc0_rel" in r.series]
    rows = [_condition_row(group) for group in m.conditions(runs).values()]
    findings = [_prediction_finding(rows, VANISHES, "linear optimizers with rate < 1 and coupled decay"),
                _prediction_finding(rows, PERSISTS, "decoupled decay in elementwise-adaptive/sign optimizers"),
                _flip_finding(rows)]
    thresholds = {
        "vanished": (ADAM_MAX_END_FRACTION, "NC0_rel end/start at most this (nctheory.verdict.adaptive)"),
        "persisted": (ADAMW_MIN_END_FRACTION, "NC0_rel end/start at least this (nctheory.verdict.adaptive)"),
        "physical time": (ADAPTIVE_MIN_PHYSICAL_TIME, "lr x steps for nonlinear chains (past the transient)"),
        "decay exposure": (ADAPTIVE_MIN_DECAY_EXPOSURE, "lr x weight_decay x steps for nonlinear chains"),
        "terminal phase": (m.TPT_MIN_BEYOND_FRACTION, "fraction of steps beyond t_TPT")}
    return ClaimResult(NAME, TITLE, findings, m.regime_text(runs), thresholds, rows)


def figures(claim: ClaimResult, outdir) -> list:
    """NC0_rel(t)/NC0_rel(0) and NC3(t) per model, seeds as bands; coupled solid, decoupled dashed."""
    from nctheory.reproduce.figures import FAMILY_COLOURS, PALETTE, draw_band, pyplot, save

    rows = claim.table
    if not rows:
        return []
    plt = pyplot()
    models = list(dict.fromkeys(r["dataset"] or r["model"] for r in rows))
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.4 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        used = set()
        for r in [r for r in rows if (r["dataset"] or r["model"]) == model]:
            style = "--" if r["_coupling"] == DECOUPLED else "-"
            colour = FAMILY_COLOURS.get(r["family"], "#000000")
            if colour in used:  # a second optimizer of the same family: another colour
                colour = next((c for c in PALETTE[::-1] if c not in used and c not in FAMILY_COLOURS.values()), colour)
            used.add(colour)
            label = f"{r['optimizer']} ({r['family']})"
            draw_band(axes[i, 0], r["_runs"], "nc0_rel", label, colour, normalise=True, linestyle=style)
            draw_band(axes[i, 1], r["_runs"], "nc3", label, colour, linestyle=style)
        ax = axes[i, 0]
        ax.axhline(ADAM_MAX_END_FRACTION, color="0.3", lw=0.8, ls=":")
        ax.axhline(ADAMW_MIN_END_FRACTION, color="0.3", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(f"{model}: NC0_rel(t) / NC0_rel(0)")
        ax.set_xlabel("step")
        axes[i, 1].set_yscale("log")
        axes[i, 1].set_title(f"{model}: NC3 (self-duality)")
        axes[i, 1].set_xlabel("step")
        axes[i, 1].legend(loc="lower left", ncol=1)
    fig.suptitle("Coupled (solid) vs decoupled (dashed) weight decay; band: min-max over seeds", y=1.0)
    fig.tight_layout()
    return [save(fig, outdir, "coupling_trajectories"), _bars(claim, outdir)]


def _bars(claim, outdir):
    """End/start NC0_rel per condition (one dot per seed) against the two thresholds."""
    from nctheory.reproduce.figures import FAMILY_COLOURS, pyplot, save

    plt = pyplot()
    rows = claim.table
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows) + 2), 3.6))
    for x, r in enumerate(rows):
        colour = FAMILY_COLOURS.get(r["family"], "#000000")
        ax.scatter([x] * len(r["ratios"]), r["ratios"], color=colour, s=22, zorder=3)
        ax.bar(x, np.exp(np.mean(np.log(np.maximum(r["ratios"], 1e-300)))), color=colour, alpha=0.35)
    ax.axhline(ADAM_MAX_END_FRACTION, color="0.2", lw=0.9, ls="--", label=f"vanished <= {ADAM_MAX_END_FRACTION}")
    ax.axhline(ADAMW_MIN_END_FRACTION, color="0.2", lw=0.9, ls=":", label=f"persisted >= {ADAMW_MIN_END_FRACTION}")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{r['optimizer']}\n{r['dataset'] or r['model']}" for r in rows], rotation=60,
                       ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("NC0_rel end / start")
    ax.set_title("NC0_rel at the end of training, relative to its start (dots: seeds)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save(fig, outdir, "coupling_end_ratio")
