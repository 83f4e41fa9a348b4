"""Figures of the sign-scaling claim: plateau vs lr (coupled and decoupled), decoupled plateau
vs weight decay, the parity of K, and the decoupled trajectories in decay time."""

from __future__ import annotations

import numpy as np

from nctheory.reproduce.figures import FAMILY_COLOURS, PALETTE, pyplot, save
from nctheory.reproduce.measure import series
from nctheory.theory.family import COUPLED, DECOUPLED


def figures(claim, outdir) -> list:
    if not claim.table:
        return []
    return [_laws(claim, outdir), _trajectories(claim, outdir)]


def _scan_plot(ax, scans, facts, vary, colour, label):
    for s in scans:
        ids = set(s["run_ids"])
        pts = [f for f in facts if f["run_id"] in ids]
        ax.scatter([f[vary] for f in pts], [f["plateau"] for f in pts], color=colour, s=16, alpha=0.6)
        for f in s["dropped"]:
            ax.scatter([f[vary]], [f["plateau"]], s=22, facecolors="none", edgecolors=colour, alpha=0.8)
        if s["x"]:
            slope = f"slope {s['slope']:.2f}" if np.isfinite(s["slope"]) else "no slope (< 3 values settled)"
            ax.plot(s["x"], s["median"], color=colour, marker="o", label=f"{label}: {slope} (hollow: pattern changing)"
                    if s["dropped"] else f"{label}: {slope}")


def _guide(ax, xs, ys, slope, text):
    xs = np.asarray(xs, float)
    anchor = np.exp(np.mean(np.log(ys)) - slope * np.mean(np.log(xs)))
    grid = np.geomspace(xs.min() / 1.3, xs.max() * 1.3, 20)
    ax.plot(grid, anchor * grid ** slope, color="0.4", ls=":", lw=1, label=text)


def _laws(claim, outdir):
    plt = pyplot()
    facts, derived = claim.table, claim.derived
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    for s in derived["coupled_scans"]:
        if s["x"]:
            _guide(ax, s["x"], s["median"], 1.0, "slope 1 (predicted, coupled)")
    for s in derived["decoupled_scans"]:
        if s["x"]:
            _guide(ax, s["x"], s["median"], 0.0, "slope 0 (predicted, decoupled)")
    _scan_plot(ax, derived["coupled_scans"], facts, "lr", FAMILY_COLOURS["sign_coupled"], "coupled SignGD")
    _scan_plot(ax, derived["decoupled_scans"], facts, "lr", FAMILY_COLOURS["sign_decoupled"], "decoupled SignGD")
    floors = {f["floor"] for f in facts if f["floor"] and any(f["run_id"] in s["run_ids"]
                                                               for s in derived["decoupled_scans"])}
    for fl in floors:
        ax.axhline(fl, color=FAMILY_COLOURS["sign_decoupled"], ls="--", lw=0.8, label=f"sqrt(d)/lambda = {fl:g}")
    ax.set(xscale="log", yscale="log", xlabel="step size lr", ylabel="NC0 plateau (raw)",
           title="NC0 plateau vs step size")
    ax.legend(fontsize=7)
    ax = axes[1]
    for s in derived["lambda_scans"]:
        if s["x"]:
            _guide(ax, s["x"], s["median"], -1.0, "slope -1 (1/lambda, predicted)")
    _scan_plot(ax, derived["lambda_scans"], facts, "weight_decay", FAMILY_COLOURS["sign_decoupled"],
               "decoupled SignGD")
    lam_facts = [f for s in derived["lambda_scans"] for f in facts
                 if f["run_id"] in s["run_ids"] or f in s["dropped"]]
    if lam_facts and lam_facts[0]["d"]:
        grid = np.geomspace(min(f["weight_decay"] for f in lam_facts) / 1.3,
                            max(f["weight_decay"] for f in lam_facts) * 1.3, 20)
        d, K = lam_facts[0]["d"], lam_facts[0]["K"]
        low = np.sqrt(d) / grid if K % 2 else np.full_like(grid, np.nan)
        ax.fill_between(grid, low, K * np.sqrt(d) / grid, color=FAMILY_COLOURS["sign_decoupled"], alpha=0.1,
                        linewidth=0, label=f"predicted band [sqrt(d), K sqrt(d)] / lambda (K = {K}, d = {d})")
    ax.set(xscale="log", yscale="log", xlabel="weight decay lambda", ylabel="NC0 plateau (raw)",
           title="decoupled SignGD: NC0 plateau vs weight decay")
    ax.legend(fontsize=7)
    ax = axes[2]
    dec = [f for f in facts if f["coupling"] == DECOUPLED and f["d"]]
    Ks = sorted({f["K"] for f in dec})
    for K in Ks:
        pts = [f for f in dec if f["K"] == K]
        ys = np.array([f["plateau"] * f["weight_decay"] / np.sqrt(f["d"]) for f in pts])
        xs = np.full(len(ys), K) + np.linspace(-0.15, 0.15, len(ys))
        conv = np.array([f["converged"] for f in pts], bool)
        colour = PALETTE[1] if K % 2 else PALETTE[0]
        first = K == min(k for k in Ks if k % 2 == K % 2)
        ax.scatter(xs[conv], ys[conv], color=colour, s=24,
                   label=(f"{'odd' if K % 2 else 'even'} K, pattern settled" if first else None))
        ax.scatter(xs[~conv], ys[~conv], facecolors="none", edgecolors=colour, s=24,
                   label=(f"{'odd' if K % 2 else 'even'} K, pattern still changing" if first else None))
    ax.axhline(1.0, color="0.2", ls="--", lw=1, label="parity bound (odd K): 1")
    ax.set(yscale="log", xlabel="number of classes K", ylabel="NC0 plateau / (sqrt(d) / lambda)",
           title="decoupled SignGD: parity of K (all lr, wd)")
    ax.set_xticks(Ks)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, outdir, "sign_scaling_laws")


def _trajectories(claim, outdir):
    """NC0(t) against decay time lr*wd*t: decoupled runs at different lr fall on one curve
    (set by 1/lambda), coupled ones sink to an O(lr) floor."""
    plt = pyplot()
    facts = claim.table
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    scans = {COUPLED: claim.derived["coupled_scans"], DECOUPLED: claim.derived["decoupled_scans"]}
    for ax, (coupling, sc) in zip(axes, scans.items()):
        ids = {i for s in sc for i in s["run_ids"]} | {f["run_id"] for s in sc for f in s["dropped"]}
        lrs = sorted({f["lr"] for f in facts if f["run_id"] in ids})
        labelled = set()
        for k, lr in enumerate(lrs):
            for f in [f for f in facts if f["run_id"] in ids and f["lr"] == lr]:
                steps, nc0 = _series(claim, f)
                changing = coupling == DECOUPLED and not f["converged"]
                label = f"lr = {lr:g}" + (" (sign pattern still changing)" if changing else "")
                ax.plot(steps * f["lr"] * f["weight_decay"], nc0, color=PALETTE[k % len(PALETTE)], lw=1, alpha=0.7,
                        ls=":" if changing else "-", label=None if label in labelled else label)
                labelled.add(label)
        ax.set(yscale="log", xlabel="decay time  lr x wd x step", ylabel="NC0 (raw)",
               title=f"{coupling} SignGD: NC0 over decay time (seeds as lines)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, outdir, "sign_scaling_trajectories")


def _series(claim, fact):
    result = claim.derived["results"][fact["run_id"]]
    steps, values = series(result, "nc0")
    return steps, values
