"""Figures of the momentum claim: speed-up against momentum (predicted curve from the spec,
measured NC0, NC1-NC3 and loss per seed), and the trajectories behind it."""

from __future__ import annotations

import numpy as np

from nctheory.reproduce.figures import PALETTE, draw_band, pyplot, save

MARKERS = {"nc0": ("o", "#000000", "NC0 (raw)"), "nc1": ("s", "#0072B2", "NC1"), "nc2": ("D", "#009E73", "NC2"),
           "nc3": ("^", "#D55E00", "NC3"), "loss_gap": ("x", "#777777", "loss - loss_end")}


def _curve(spec, base_rate, grid):
    """Asymptotic speed-up log(rate(mu)) / log(1 - eta lambda) along ``grid`` (the excited modes)."""
    out = []
    for mu in grid:
        try:
            rate = spec.with_hparams(momentum=float(mu)).excited_rate()
        except Exception:  # noqa: BLE001 -- outside the declared range
            out.append(np.nan)
            continue
        out.append(np.log(rate) / np.log(base_rate) if 0 < rate < 1 else np.nan)
    return np.asarray(out)


def figures(claim, outdir) -> list:
    rows = claim.table
    if not rows:
        return []
    return [_speedups(claim, outdir), _trajectories(claim, outdir)]


def _speedups(claim, outdir):
    plt = pyplot()
    rows = claim.table
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    fig, axes = plt.subplots(1, len(optimizers), figsize=(5.2 * len(optimizers), 4.2), squeeze=False, sharey=True)
    grid = np.linspace(0.01, 0.999, 300)
    for ax, opt in zip(axes[0], optimizers):
        sel = [r for r in rows if r["optimizer"] == opt]
        spec = sel[0]["_spec"]
        base = 1 - float(sel[0]["lr"]) * float(sel[0]["weight_decay"])
        ax.plot(grid, _curve(spec, base, grid), color="0.25", lw=1.2, label="predicted (asymptotic rate ratio)")
        ax.scatter([r["momentum"] for r in sel], [r["predicted_speedup"] for r in sel], marker="*", s=260, linewidths=0.8,
                   facecolors="none", edgecolors="k", zorder=4, label="predicted NC0 (exact, settling to 1e-3)")
        for k, (mk, colour, label) in MARKERS.items():
            xs, ys = [], []
            for r in sel:
                for v in r["speedups"][k]:
                    if np.isfinite(v):
                        xs.append(r["momentum"])
                        ys.append(v)
            jitter = {"nc0": 0, "nc1": -0.006, "nc2": 0.006, "nc3": 0.012, "loss_gap": -0.012}[k]
            ax.scatter(np.asarray(xs) + jitter, ys, marker=mk, color=colour, s=20, alpha=0.8, label=f"measured {label}")
        derived = claim.derived.get((opt, sel[0]["lr"], sel[0]["weight_decay"]), {})
        if derived.get("optimal") is not None:
            ax.axvline(derived["optimal"], color=PALETTE[2], ls="--", lw=1)
            ax.text(derived["optimal"], 0.98, f" mu* = {derived['optimal']:.4f}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=8, color=PALETTE[2])
        if derived.get("threshold") is not None:
            ax.axvline(derived["threshold"], color=PALETTE[1], ls=":", lw=1.2)
            ax.text(derived["threshold"], 0.06, f"threshold {derived['threshold']:.4f} ",
                    transform=ax.get_xaxis_transform(), ha="right", fontsize=8, color=PALETTE[1])
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("momentum mu")
        ax.set_title(f"{opt} (lr={sel[0]['lr']:g}, wd={sel[0]['weight_decay']:g}): speed-up vs plain SGD")
    axes[0, 0].set_ylabel("speed-up  T_settle(SGD) / T_settle(mu)")
    axes[0, -1].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return save(fig, outdir, "momentum_speedup")


def _trajectories(claim, outdir):
    plt = pyplot()
    rows = claim.table
    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    metrics = (("nc0", "NC0(t) / NC0(0)", True), ("nc3", "NC3(t)", False),
               ("loss_gap", "|loss(t) - loss(end)|", False))
    fig, axes = plt.subplots(len(optimizers), len(metrics), figsize=(14, 3.6 * len(optimizers)), squeeze=False)
    for i, opt in enumerate(optimizers):
        sel = [r for r in rows if r["optimizer"] == opt]
        base_runs = [b for b, _ in sel[0]["_pairs"]]
        for j, (metric, label, norm) in enumerate(metrics):
            ax = axes[i, j]
            draw_band(ax, base_runs, metric, "plain SGD (no momentum)", "#000000", normalise=norm)
            for k, r in enumerate(sel):
                colour = PALETTE[(k + 1) % len(PALETTE)]
                draw_band(ax, [x for _, x in r["_pairs"]], metric, f"mu = {r['momentum']:.4g}", colour, normalise=norm)
                if metric == "nc0":
                    from nctheory.reproduce.momentum import predicted_ratio

                    phi = predicted_ratio(r["_pairs"][0][1])
                    ax.plot(np.arange(phi.size), phi, color=colour, lw=0.7, ls="--")
            ax.set_yscale("log")
            ax.set_ylim(1e-12, 5)
            ax.set_xlabel("step")
            ax.set_title(f"{opt}: {label}" + (" (dashed: exact prediction)" if metric == "nc0" else ""))
        axes[i, -1].legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return save(fig, outdir, "momentum_trajectories")
