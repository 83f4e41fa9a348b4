r"""Vector figures of the appendix's evidence, written deterministically.

* :func:`trajectory_figure` -- NC0 = ``||s_t||`` against the step, measured (markers) and
  predicted by the exact recurrence (lines), one curve per checked run;
* :func:`rate_figure` -- the rate (spectral radius of the row-sum recurrence) against the
  momentum for chosen specs at a fixed ``eta lambda``, with plain gradient descent's
  ``1 - eta lambda`` and each spec's thresholds marked;
* :func:`region_figure` -- the stability (``rate < 1``) and acceleration (``rate < 1 - eta
  lambda``) regions in the ``(eta lambda, mu)`` plane, one panel per spec.

Rates and regions come from :func:`nctheory.theory.symbolic.maps.region_map` (the exact
characteristic polynomial and Schur-Cohn inequalities, evaluated on a grid). The files are
byte-identical for identical inputs: matplotlib's PDF backend with no creation date, producer
or creator, a fixed bundled font (DejaVu Sans, embedded as a Type 3 subset) and no raster content.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from nctheory.errors import NCTheoryError

#: rcParams that make the output independent of the machine and the date.
STYLE = {"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "pdf.fonttype": 3,
         "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "lines.linewidth": 1.3, "svg.hashsalt": "nctheory",
         "path.simplify": False, "figure.dpi": 100, "savefig.dpi": 100}
METADATA = {"CreationDate": None, "Producer": None, "Creator": None}
COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#444444")


@contextlib.contextmanager
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(STYLE):
        yield plt


def _save(fig, plt, path: Path) -> Path:
    path = Path(path)
    if path.suffix != ".pdf":
        raise NCTheoryError(f"figure path must end in .pdf (vector graphics), got {path}")
    fig.savefig(path, format="pdf", metadata=METADATA, bbox_inches=None)
    plt.close(fig)
    return path


def trajectory_figure(curves, path) -> Path:
    """``curves``: ``[(label, steps, measured, predicted)]`` (arrays); NC0 relative to its start."""
    if not curves:
        raise NCTheoryError("trajectory_figure needs at least one run")
    with _pyplot() as plt:
        fig, ax = plt.subplots(figsize=(5.4, 3.0))
        for (label, steps, measured, predicted), colour in zip(curves, COLOURS):
            start = float(measured[0])
            every = max(1, len(steps) // 25)
            ax.plot(steps, np.asarray(predicted) / start, color=colour, label=label)
            ax.plot(steps[::every], np.asarray(measured)[::every] / start, "o", color=colour, markersize=3,
                    markerfacecolor="none")
        ax.set_yscale("log")
        ax.set_xlabel("step $t$")
        ax.set_ylabel(r"$\mathrm{NC}_0(W_t)\,/\,\mathrm{NC}_0(W_0)$")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(ncol=2, frameon=False, loc="lower left", title="line: predicted, circles: measured",
                  title_fontsize=7.5)
        fig.tight_layout()
        return _save(fig, plt, path)


def rate_figure(panels, eta_lambda: float, path) -> Path:
    """``panels``: ``[(title, spec, marks)]`` with ``spec`` having every hyperparameter but
    ``momentum`` set (``lr * weight_decay = eta_lambda``) and ``marks`` ``[(mu, label)]``."""
    from nctheory.theory.symbolic.maps import region_map

    mu = np.linspace(0.0, 0.995, 800)
    with _pyplot() as plt:
        fig, axes = plt.subplots(1, len(panels), figsize=(5.6, 3.4), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, (title, spec, marks) in zip(axes, panels):
            rates = region_map(spec, momentum=mu).rate
            ax.plot(mu, rates, color=COLOURS[0], label=r"rate $\rho(\mu)$")
            ax.axhline(1 - eta_lambda, color="0.35", linestyle="--", linewidth=1.0, label=r"$1 - \eta\lambda$")
            for (value, label), colour in zip(marks, COLOURS[1:]):
                ax.axvline(value, color=colour, linestyle=":", linewidth=1.3, label=label)
            ax.set_title(title)
            ax.set_xlabel(r"momentum $\mu$")
            ax.set_xlim(0, 1)
            ax.set_xticks([0, 0.5, 1])
            ax.set_ylim(0.7, 1.02)
            ax.grid(True, alpha=0.3)
            ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=7)
        axes[0].set_ylabel(r"rate $\rho$ (spectral radius)")
        fig.suptitle(rf"$\eta\lambda = {eta_lambda:g}$, dampening $\tau = 0$", fontsize=8.5)
        fig.subplots_adjust(left=0.1, right=0.98, top=0.86, bottom=0.42, wspace=0.25)
        return _save(fig, plt, path)


def region_figure(panels, path, eta_lambda_max: float = 2.5, points: int = 240) -> Path:
    """``panels``: ``[(title, spec)]`` with every hyperparameter but ``lr`` and ``momentum``
    set (``weight_decay = 1``, so ``lr`` is ``eta lambda``)."""
    from nctheory.theory.symbolic.maps import region_map

    a, mu = np.meshgrid(np.linspace(1e-3, eta_lambda_max, points), np.linspace(0.0, 0.995, points))
    with _pyplot() as plt:
        fig, axes = plt.subplots(1, len(panels), figsize=(5.6, 2.3), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, (title, spec) in zip(axes, panels):
            regions = region_map(spec, momentum=mu, lr=a)
            ax.contourf(a, mu, regions.stable.astype(float), levels=[0.5, 1.5], colors=["#a6cee3"])
            if regions.accelerates.any():
                ax.contourf(a, mu, regions.accelerates.astype(float), levels=[0.5, 1.5], colors=["#1f78b4"])
            ax.set_title(title)
            ax.set_xlabel(r"$\eta\lambda$")
            ax.set_xlim(0, eta_lambda_max)
            ax.set_ylim(0, 1)
        axes[0].set_ylabel(r"momentum $\mu$")
        from matplotlib.patches import Patch

        handles = [Patch(color="#a6cee3", label=r"stable: $\rho < 1$"),
                   Patch(color="#1f78b4", label=r"accelerated: $\rho < 1 - \eta\lambda$")]
        fig.legend(handles=handles, loc="upper center", ncol=2, frameon=False, fontsize=7.5)
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        return _save(fig, plt, path)


__all__ = ["METADATA", "STYLE", "rate_figure", "region_figure", "trajectory_figure"]


# ------------------------------------------------------------------------- the appendix's set
def _momentum_thresholds(spec_name: str, eta_lambda: float) -> list:
    """``[(mu, label)]``: where acceleration ends (from THEORY's claimed region at tau = 0, solved
    for mu), or, with no acceleration, where the momentum root overtakes ``1 - eta lambda``;
    and the optimal momentum where a theorem proves one."""
    import sympy as sp

    from nctheory.theorems.algebra import A_, MU
    from nctheory.theorems.linear_claims import CLAIMS
    from nctheory.theorems.optimal_momentum import OPTIMAL_MOMENTUM
    from nctheory.theory.symbolic.rowsum import X

    from nctheory.theory.latex import tex, tidy

    claim, marks = CLAIMS[spec_name], []
    names = {"a": r"\eta\lambda", "mu": r"\mu", "eta": r"\eta", "lambda": r"\lambda"}

    def label(expr, prefix=r"\mu = "):
        return "$" + prefix + tex(tidy(expr), names) + "$"

    for region in claim.accelerations:
        if region.values.get("dampening", None) != 0 and len(claim.accelerations) > 1:
            continue
        for condition in region.conditions:
            if sp.degree(condition, MU) == 1 and condition.has(A_):
                bound = sp.solve(condition, MU)[0]
                marks.append((float(bound.subs(A_, eta_lambda)), label(bound)))
    if not marks:
        charpoly = claim.charpoly.subs(sp.Symbol("tau", nonnegative=True), 0)
        roots = list(sp.roots(sp.Poly(charpoly.subs(sp.Symbol("eta", positive=True) * sp.Symbol(
            "lambda", nonnegative=True), A_), X)))
        moving = [r for r in roots if r.has(MU)]
        fixed = [r for r in roots if not r.has(MU)]
        for r in moving:
            for q in fixed:
                for bound in sp.solve(sp.Eq(r, q), MU):
                    marks.append((float(bound.subs(A_, eta_lambda)), label(bound)))
    theorem = OPTIMAL_MOMENTUM.get(spec_name)
    if theorem is not None:
        marks.append((float(theorem.claimed_momentum.subs(A_, eta_lambda)), r"$\mu^\star$ (optimal)"))
    return marks


def comparison_specs():
    """(title, registry name) of heavy ball, Nesterov and SGDW, from the theorem objects."""
    from nctheory.theorems.linear_claims import SGDW
    from nctheory.theorems.optimal_momentum import HEAVY_BALL, NESTEROV

    return (("heavy ball", HEAVY_BALL.spec_name), ("Nesterov", NESTEROV.spec_name), ("SGDW", SGDW.spec_name))


def write_figures(directory: Path, rows, eta_lambda: float = 0.05) -> list:
    """Write the three figures into ``directory``; returns ``[(name, caption LaTeX)]``."""
    from nctheory.optimizers import optimizer

    curves, seen = [], set()
    for row in rows:  # one curve per distinct rate (runs with equal rates would hide each other)
        if not row.control and "predicted_nc0" in row.series and row.predicted not in seen and len(curves) < 5:
            seen.add(row.predicted)
            curves.append((row.optimizer.replace("_", " "), row.series["steps"], row.series["measured_nc0"],
                           row.series["predicted_nc0"]))
    out = []
    if curves:
        trajectory_figure(curves, Path(directory) / "nc0_trajectories.pdf")
        out.append(("nc0_trajectories", r"$\NCzero(W_t) = \norm{\rowsum_t}$ relative to its start: measured "
                    r"(circles) and predicted by the exact row-sum recurrence (lines), for the runs of "
                    r"Table~\ref{tab:evidence}."))
    specs = comparison_specs()
    panels = []
    for title, name in specs:
        spec = optimizer(name, lr=eta_lambda, weight_decay=1.0)
        spec = spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec
        panels.append((title, spec.without("momentum"), _momentum_thresholds(name, eta_lambda)))
    rate_figure(panels, eta_lambda, Path(directory) / "rate_vs_momentum.pdf")
    out.append(("rate_vs_momentum", r"The rate $\rate$ against the momentum at $\lr\wdecay = "
                f"{eta_lambda:g}" r"$ and $\damp = 0$, with the rate $1 - \lr\wdecay$ of plain gradient descent "
                r"(dashed). Heavy ball beats it for $\mom < (1 - \lr\wdecay)^2$ and Nesterov for $\mom < 1 - \lr\wdecay$; "
                r"both are fastest at $\mom^\star$. SGDW never beats it: its rate is $\max(1 - \lr\wdecay, \mom)$, "
                r"and a fresh run never excites the $\mom$ mode."))
    region_panels = []
    for title, name in specs:
        spec = optimizer(name, weight_decay=1.0)
        spec = spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec
        region_panels.append((title, spec.without("lr", "momentum")))
    region_figure(region_panels, Path(directory) / "regions.pdf")
    out.append(("regions", r"Stability ($\rate < 1$, light) and acceleration ($\rate < 1 - \lr\wdecay$, dark) "
                r"regions in the $(\lr\wdecay, \mom)$ plane at $\damp = 0$, from the Schur--Cohn conditions of "
                r"each characteristic polynomial. SGDW has no acceleration region."))
    return out
