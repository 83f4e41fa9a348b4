"""Figure helpers shared by the claims: one style, seeds drawn as a line and a band, every
figure written as a vector PDF (for the paper) and a PNG (for the Markdown report).

Seeds: the line is the geometric mean over seeds (the metrics span decades and are drawn on
log axes, where the geometric mean is the mean), the band runs from the smallest to the
largest seed, so a band that excludes a threshold excludes it for every seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nctheory.reproduce.measure import series

#: Colours by family of theory (colour-blind-safe Okabe-Ito palette).
FAMILY_COLOURS = {"linear": "#0072B2", "sign_coupled": "#009E73", "sign_decoupled": "#D55E00",
                  "adaptive_coupled": "#56B4E9", "adaptive_decoupled": "#E69F00",
                  "matrix_coupled": "#CC79A7", "matrix_decoupled": "#999999"}
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999", "#332288",
           "#882255", "#44AA99", "#117733")
DPI = 150


def pyplot():
    """matplotlib's pyplot on the Agg backend, with the report's style."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": DPI, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
                         "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False, "lines.linewidth": 1.6, "savefig.bbox": "tight",
                         "pdf.fonttype": 42})
    return plt


def save(fig, outdir, name: str) -> Path:
    """Write ``NAME.pdf`` and ``NAME.png`` under ``outdir``; returns the PNG's path."""
    plt = pyplot()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fig.savefig(outdir / f"{name}.pdf")
    fig.savefig(outdir / f"{name}.png", dpi=DPI)
    plt.close(fig)
    return outdir / f"{name}.png"


def seed_band(runs, metric, normalise: bool = False):
    """``(steps, centre, low, high)`` over the seeds of one condition: geometric mean and
    min-max of ``metric`` (divided by its first value when ``normalise``), on the first run's
    recorded steps (the others interpolated there); None when nothing positive was recorded."""
    curves, grid = [], None
    for r in runs:
        steps, values = series(r, metric)
        if values.size == 0:
            continue
        if normalise and values[0] > 0:
            values = values / values[0]
        if grid is None:
            grid = steps
        curves.append(np.interp(grid, steps, values, right=np.nan))
    if not curves:
        return None
    stack = np.vstack(curves)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.finfo(float).tiny
        centre = np.exp(np.nanmean(np.log(np.maximum(stack, floor)), axis=0))
        low, high = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
    return grid, centre, low, high


def draw_band(ax, runs, metric, label, colour, normalise=False, linestyle="-"):
    """Draw one condition's seed line and band on ``ax``; returns the line (or None)."""
    band = seed_band(runs, metric, normalise)
    if band is None:
        return None
    steps, centre, low, high = band
    (line,) = ax.plot(steps, centre, color=colour, linestyle=linestyle, label=label)
    if len(runs) > 1:
        ax.fill_between(steps, low, high, color=colour, alpha=0.18, linewidth=0)
    return line
