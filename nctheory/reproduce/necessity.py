"""Claim: NC0 -> 0 is necessary for Neural Collapse (Lemma 0), checked across every run of
the reproduction (all experiments, all optimizers, all models).

Per run (in the terminal phase, :func:`nctheory.reproduce.measure.terminal_phase`) the
plateaus (median over the last 20% of recorded points) of NC0_rel, NC1, NC2 (the larger of
its equinorm and equiangularity parts) and NC3. A metric is *small* at or below
:data:`SMALL`. Predictions of the theory:

* **joint** (Lemma 0): a run whose NC1, NC2 and NC3 are all small (Neural Collapse as
  Papyan, Han & Donoho define it) has a small NC0_rel;
* **NC3** alone: for classes whose centred means sum to zero, ``NC3 >= NC0_rel`` exactly
  (:mod:`nctheory.verdict.adaptive`), so a small NC3 forces a small NC0_rel.

NC1 (within-class variability of the features) and NC2 (geometry of the class means) say
nothing about the classifier W, so the theory predicts nothing about them alone; how often
they are small while NC0_rel is not is reported as an observation (``counts=False``).
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.reproduce import measure as m
from nctheory.reproduce.claim import CONTRADICTED, INCONCLUSIVE, SUPPORTED, ClaimResult, Finding

NAME = "necessity"
TITLE = "NC0 -> 0 is necessary for Neural Collapse: NC1-NC3 are small only where NC0_rel is small."
#: "Small": a tenth of the scale at initialisation, where NC0_rel ~ 1/sqrt(K) (0.32-0.45 for
#: K = 5..10), NC3 ~ 1 (W and the class means unaligned) and NC1 >= 1 (measured at step 0 of
#: every run here): an order of magnitude of collapse.
SMALL = 0.1
PARTS = ("nc1", "nc2", "nc3")
#: Figures draw values below float64's relative resolution at this floor.
FLOOR = 1e-16


def nc2(result) -> float:
    a, b = m.plateau(result, "nc2_norm"), m.plateau(result, "nc2_angle")
    return max(a, b) if math.isfinite(a) and math.isfinite(b) else math.nan


def points(results) -> list:
    """One dict per finished run with all four plateaus recorded."""
    out = []
    for r in m.usable(results):
        values = {"nc0_rel": m.plateau(r, "nc0_rel"), "nc1": m.plateau(r, "nc1"), "nc2": nc2(r),
                  "nc3": m.plateau(r, "nc3")}
        if not all(math.isfinite(v) for v in values.values()):
            continue
        phase = m.terminal_phase(r)
        out.append({**values, "run_id": r.run_id, "optimizer": r.run.optimizer, "family": m.family_label(r),
                    "model": m.config(r).get("dataset") or m.config(r).get("model", "ufm"),
                    "in_regime": phase["reached"], "t_tpt": phase["t_tpt"]})
    return out


def _finding(pts, parts, name, counts=True) -> Finding:
    label = " and ".join(p.upper() for p in parts)
    statement = f"every run with {label} <= {SMALL:g} has NC0_rel <= {SMALL:g}"
    inside = [p for p in pts if p["in_regime"]]
    small = [p for p in inside if all(p[k] <= SMALL for k in parts)]
    bad = [p for p in small if p["nc0_rel"] > SMALL]
    ids = [p["run_id"] for p in small]
    if not small:
        return Finding(name, INCONCLUSIVE, statement,
                       f"no run in the terminal phase reached {label} <= {SMALL:g} ({len(inside)} runs in it)", ids, counts)
    text = (f"{len(small)} of {len(inside)} runs in the terminal phase have {label} <= {SMALL:g}; "
            f"their NC0_rel ranges from {min(p['nc0_rel'] for p in small):.3g} to "
            f"{max(p['nc0_rel'] for p in small):.3g}")
    if bad:
        fams = sorted({p["family"] for p in bad})
        text += (f"; {len(bad)} of them have NC0_rel > {SMALL:g} (up to {max(p['nc0_rel'] for p in bad):.3g}; "
                 f"families: {', '.join(fams)})")
        return Finding(name, CONTRADICTED, statement, text, ids, counts)
    return Finding(name, SUPPORTED, statement, text, ids, counts)


def analyse(results) -> ClaimResult:
    pts = points(results)
    findings = [_finding(pts, PARTS, "joint"), _finding(pts, ("nc3",), "nc3_alone"),
                _finding(pts, ("nc1",), "nc1_alone", counts=False), _finding(pts, ("nc2",), "nc2_alone", counts=False)]
    outside = sum(not p["in_regime"] for p in pts)
    regime = (f"{len(pts)} runs with NC0_rel, NC1, NC2 and NC3 recorded; {len(pts) - outside} in the terminal phase "
              f"(the others are drawn hollow and not counted)")
    thresholds = {"small": (SMALL, "a tenth of the metrics' scale at initialisation"),
                  "terminal phase": (m.TPT_MIN_BEYOND_FRACTION, "fraction of steps beyond t_TPT")}
    return ClaimResult(NAME, TITLE, findings, regime, thresholds, pts)


def figures(claim: ClaimResult, outdir) -> list:
    """NC0_rel against max(NC1, NC2, NC3), NC1, NC2, NC3 over every run; the region the theory
    forbids for the joint and NC3 (collapsed but NC0_rel large) shaded."""
    from nctheory.reproduce.figures import FAMILY_COLOURS, pyplot, save

    pts = claim.table
    if not pts:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 8.4))
    panels = (("joint", "max(NC1, NC2, NC3)", lambda p: max(p[k] for k in PARTS), True),
              ("nc3", "NC3", lambda p: p["nc3"], True), ("nc1", "NC1", lambda p: p["nc1"], False),
              ("nc2", "NC2", lambda p: p["nc2"], False))
    markers = {}
    lo = FLOOR / 2

    def clip(v):
        return max(v, FLOOR)
    for ax, (key, label, value, predicted) in zip(axes.ravel(), panels):
        for fam in sorted({p["family"] for p in pts}):
            for model in sorted({p["model"] for p in pts}):
                mk = markers.setdefault(model, "osD^v<>"[len(markers) % 7])
                sel = [p for p in pts if p["family"] == fam and p["model"] == model]
                if not sel:
                    continue
                inside = [p for p in sel if p["in_regime"]]
                out = [p for p in sel if not p["in_regime"]]
                colour = FAMILY_COLOURS.get(fam, "#000000")
                ax.scatter([clip(p["nc0_rel"]) for p in inside], [clip(value(p)) for p in inside], s=18, marker=mk,
                           color=colour, alpha=0.8, label=f"{fam} / {model}")
                ax.scatter([clip(p["nc0_rel"]) for p in out], [clip(value(p)) for p in out], s=18, marker=mk,
                           facecolors="none", edgecolors=colour, alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, 1.5)
        ax.set_ylim(lo, max(10.0, max(value(p) for p in pts) * 2))
        ax.axvline(SMALL, color="0.3", lw=0.8, ls=":")
        ax.axhline(SMALL, color="0.3", lw=0.8, ls=":")
        shade = "#C0392B" if predicted else "0.6"
        ax.fill_between([SMALL, 1.5], lo, SMALL, color=shade, alpha=0.12, linewidth=0)
        ax.text(0.97, 0.03, "forbidden by the theory" if predicted else "no prediction",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color=shade)
        if key == "nc3":
            grid = np.array([lo, 1.5])
            ax.plot(grid, grid, color="0.2", lw=0.8, ls="--", label="NC3 = NC0_rel (lower bound)")
        ax.set_xlabel("NC0_rel (plateau)")
        ax.set_ylabel(f"{label} (plateau)")
        verdict = claim.finding({"joint": "joint", "nc3": "nc3_alone", "nc1": "nc1_alone",
                                 "nc2": "nc2_alone"}[key]).verdict
        ax.set_title(f"{label} vs NC0_rel: {verdict}" + ("" if predicted else " (observation)"))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(f"Every run of the reproduction (hollow: not in the terminal phase); small = {SMALL:g}; "
                 f"values below {FLOOR:g} (float64's floor) drawn at {FLOOR:g}")
    fig.tight_layout()
    return [save(fig, outdir, "necessity_scatter")]
