"""Rendering: the symbolic prediction and a :class:`~nctheory.verdict.Verdict` as terminal
text, and the verdict as a plot (NC0 against the step, predicted and measured, log scale).

Nothing here computes a verdict; it only shows one (ARCHITECTURE.md: prediction +
measurement -> verdict -> report, one module per arrow). matplotlib is imported lazily, with
the non-interactive Agg backend, only when a plot is asked for.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

WIDTH = 96


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> str:
    first = indent if first is None else first
    return textwrap.fill(text, width=WIDTH, initial_indent=first, subsequent_indent=indent + "  ")


def _num(x, digits: int = 8) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}g}"


def _hp_line(values: dict) -> str:
    return ", ".join(f"{k}={float(v):g}" for k, v in values.items())


def render_prediction(prediction, loss: str | None = None) -> str:
    """What a theory predicts, before any run: a
    :class:`~nctheory.verdict.prediction.Prediction` (or a spec, predicted here) as text.

    Linear theories: the update rule (general form), the row-sum recurrence x' = A x with
    its first-step matrix, the characteristic polynomial, eigenvalues and rate. Nonlinear
    theories: the statements of THEORY.md section 4 with hypotheses and status.
    """
    from nctheory.verdict.prediction import Prediction, predict_theory

    if not isinstance(prediction, Prediction):
        prediction = predict_theory(prediction)
    spec = prediction.spec
    general_spec = spec.without(*spec.hyperparameter_names)  # every hyperparameter symbolic
    lines = [f"Theory: {spec.name} -- {spec.summary}", f"  hyperparameters: {_hp_line(spec.values)}",
             f"  reference: {spec.reference}", "  update rule (one weight entry, in execution order):"]
    for lhs, rhs in general_spec.update_equations():
        lines.append(f"    {lhs} = {rhs}")
    if prediction.is_linear:
        dyn = spec.row_sum_dynamics()
        state = ", ".join(str(s) for s in dyn.state)
        lines.append(f"  row-sum recurrence (Lemma 1: 1^T G = 0 for a shift-invariant loss), state x = ({state}):")
        general = general_spec.row_sum_dynamics().matrix
        lines.append(f"    A (general)  = {general.tolist()}")
        lines.append(f"    A            = {dyn.matrix.tolist()}")
        if dyn.first_matrix != dyn.matrix:
            lines.append(f"    A_first      = {dyn.first_matrix.tolist()}   (first step from a fresh optimizer)")
        lines.append(f"    charpoly     = {prediction.charpoly}")
        eig = prediction.eigenvalues
        lines.append("    eigenvalues  = " + ", ".join(
            f"{complex(e.evalf()):.10g}".replace("+0j", "").strip("()") + (f" (x{m})" if m > 1 else "")
            for e, m in eig.items()))
        lines.append(f"    rate (spectral radius) = {prediction.rate:.10f}: ||s_t|| ~ C rate^t")
        ex, minpoly, unexcited = (prediction.excited_rate, prediction.excited_minimal_polynomial,
                                  prediction.unexcited_factor)
        if unexcited:
            lines.append(f"    excited from a fresh state: rate {ex:.10f} (minimal polynomial {minpoly}); "
                         f"the factor {unexcited} is never excited")
        if "weight_decay" in spec.values and "lr" in spec.values:
            a = float(spec.values["lr"] * spec.values["weight_decay"])
            lines.append(f"    plain SGD at the same lr and decay: rate 1 - eta lambda = {1 - a:.10f}")
        lines.append("  prediction: the whole trajectory s_t = A_(t-1) ... A_1 A_first s_0, compared step by step.")
    else:
        from nctheory.theory.symbolic.rowsum import nonlinearity

        lines.append(f"  no linear row-sum recurrence: {nonlinearity(spec)}.")
        statements = prediction.statements
        if not statements:
            lines.append("  THEORY.md section 4 states nothing for this optimizer.")
        for st in statements:
            lines.append(_wrap(f"{st.name} ({st.status}): {st.claim}", indent="  ", first="  * "))
            lines.append(_wrap("hypotheses: " + "; ".join(st.hypotheses), indent="      "))
    if loss is not None:
        lines.append(f"  loss: {loss}")
    return "\n".join(lines)


def render_verdict(verdict, color: bool = False) -> str:
    """A readable report: predicted and measured side by side, the verdict and why."""
    v = verdict
    d = v.details
    lines = []
    title = f"Run: {v.name} with {_hp_line(v.hparams)}"
    if v.theory and (v.theory != v.name or d.get("other_theory")):
        title += f"   judged against: {v.theory} with {_hp_line(v.theory_hparams)}"
    lines.append(title)
    if d.get("classifier"):
        lines.append(f"  classifier: {d['classifier']}   logits computed in {d.get('compute_dtype', '?')}")
    kind = d.get("kind")
    if kind == "linear":
        rows = [("", "predicted", "measured"),
                ("rate (spectral radius / fit)", _num(v.predicted_rate, 10), _num(v.measured_rate, 10))]
        if d.get("predicted_fitted_rate") is not None:
            rows.append(("rate, same fit on prediction", _num(d["predicted_fitted_rate"], 10), _num(v.measured_rate, 10)))
        if d.get("excited_rate") is not None:
            rows.append(("rate of the excited modes", _num(d["excited_rate"], 10), ""))
        series = v.series
        if series.get("measured_nc0") is not None:
            T = len(series["measured_nc0"]) - 1
            for t in sorted({0, T // 2, T}):
                rows.append((f"NC0 = ||s_t|| at step {t}", _num(float(series["predicted_nc0"][t]), 12),
                             _num(float(series["measured_nc0"][t]), 12)))
        rows.append(("max relative error", f"<= {_num(v.tolerance, 3)} ({d.get('dtype')})", _num(v.max_rel_error, 3)))
        rows.append(("rounding noise floor (max, rel.)", "", _num(d.get("noise_floor_relative_max"), 3)))
        if d.get("first_unresolvable_step") is not None:
            rows.append(("steps resolving the tolerance", "", f"{d.get('resolvable_steps')} of {d.get('steps')}"))
            rows.append(("largest error / rounding floor", "<= 1", _num(d.get("max_error_over_floor"), 3)))
        lines.append(_table(rows))
    elif kind in ("sign_coupled", "sign_decoupled"):
        rows = [("step size", "steps", "NC0 plateau", "NC0_rel plateau")]
        for lr, n, p, r in zip(d.get("step_sizes", []), d.get("steps", []), d.get("plateaus", []),
                               d.get("nc0_rel_plateaus", [])):
            rows.append((_num(lr, 4), str(n), _num(p, 4), _num(r, 3)))
        lines.append(_table(rows))
        if "measured_slope" in d:
            lines.append(f"  log-log slope of the plateau vs step size: predicted {_num(d.get('predicted_slope'), 3)}, "
                         f"measured {_num(d['measured_slope'], 3)}")
    elif kind in ("adaptive_coupled", "adaptive_decoupled"):
        rows = [("", "start", "end")]
        for s, e in zip(d.get("nc0_rel_start", []), d.get("nc0_rel_end", [])):
            rows.append(("NC0_rel", _num(s, 4), _num(e, 4)))
        lines.append(_table(rows))
    word = v.verdict.upper()
    if color:
        code = {"verified": "32", "refuted": "31", "inconclusive": "33", "diverged": "35"}[v.verdict]
        word = f"\033[1;{code}m{word}\033[0m"
    lines.append(f"Verdict: {word}")
    lines.append("Why:")
    for reason in v.reasons:
        lines.append(_wrap(reason, indent="  ", first="  - "))
    return "\n".join(lines)


def _table(rows) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        out.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                    for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def plot_verdict(verdict, path) -> str:
    """Save NC0 = ||s_t|| against the step (log scale): measured, and predicted for linear
    theories (with the relative error and the noise floor on a second panel); for
    sign-based and adaptive theories one measured curve per step size. Returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    s = verdict.series
    title = f"{verdict.name} judged as {verdict.theory}: {verdict.verdict}"
    if "measured_nc0" in s:
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
        steps = s["steps"]
        ax.semilogy(steps, _positive(s["measured_nc0"]), label="measured ||W_t^T 1||", lw=2)
        ax.semilogy(steps, _positive(s["predicted_nc0"]), "--", label="predicted (exact recurrence)", lw=1.5)
        if verdict.predicted_rate is not None and s["measured_nc0"][0] > 0:
            ax.semilogy(steps, s["measured_nc0"][0] * verdict.predicted_rate ** steps.astype(float), ":",
                        color="gray", label=f"rate^t, rate = {verdict.predicted_rate:.6f}")
        ax.set_ylabel("NC0")
        ax.legend()
        ax.set_title(title)
        ax2.semilogy(steps[1:], _positive(s["rel_error"][1:]), label="relative error")
        ax2.semilogy(steps[1:], _positive(s["noise_floor_rel"][1:]), ":", label="rounding noise floor")
        if verdict.tolerance:
            ax2.axhline(verdict.tolerance, color="red", lw=1, label=f"tolerance {verdict.tolerance:g}")
        ax2.set_xlabel("step")
        ax2.set_ylabel("||pred - meas|| / ||meas||")
        ax2.legend(fontsize=8)
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for run in s.get("runs", []):
            ax.semilogy(run["steps"] * run["lr"], _positive(run["measured_nc0"]), label=f"lr = {run['lr']:g}")
        ax.set_xlabel("lr x step (physical time)")
        ax.set_ylabel("NC0 = ||W_t^T 1||")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def _positive(x):
    x = np.asarray(x, dtype=float).copy()
    x[~(x > 0)] = np.nan
    return x
