r"""The numerical evidence of the appendix: predicted against measured, with verdicts, and figures.

:func:`evidence_section` runs the package's own check (:func:`nctheory.cli.check.run_check`,
the code behind ``python -m nctheory.check``: training with the reference implementation, the
prediction read back from the live optimizer, the verdict of :mod:`nctheory.verdict`) on

* every spec whose row sums follow an exact linear recurrence: one run of 150 steps of constant
  step size with ``eta lambda = 0.05``, so that the rate is visibly below 1 (at 300 steps the
  matrix chains' row sums fall to ~1e-7 of their start, where the verdict's rounding floor does
  not model the matrix maps' rounding and Muon and SOAP come out refuted at 1e-9 relative); the table gives the
  geometric rate fitted to the later half of the measured ``||s_t||`` against the same fit on
  the predicted trajectory (the spectral radius alongside), and the largest relative error
  of the whole trajectory; the verdict compares the whole trajectory (tolerance ``1e-9`` in
  float64, above the rounding floor);
* the sign-descent specs: the log-log slope of the NC0 plateau against ``eta`` (runs at
  ``eta``, ``eta/3``, ``eta/9``), predicted 0 (decoupled) or an O(eta) law (coupled);
* the other specs whose family has the box bound: ``max ||W_t||_inf`` against the bound;

and a negative control: a linear run judged against the recurrence with a wrong weight decay
(a wrong predicted rate), which must come out refuted. ``quick=True`` keeps two linear specs
(100 steps) and the control, for tests. Figures: :mod:`nctheory.render.appendix_figures`.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from nctheory.errors import NCTheoryError
from nctheory.theory.latex import escape_text

#: eta * lambda of the linear evidence runs: rate 1 - 0.05 for plain SGD, visible in 150 steps (NC0 falls
#: to ~5e-4 of its start, well above the rounding floor; see the module docstring).
EVIDENCE_ETA_LAMBDA = 0.05
LINEAR_STEPS, QUICK_STEPS = 150, 100
EVIDENCE_MOMENTUM = 0.5
#: factor applied to the weight decay of the negative control's theory
CONTROL_DECAY_FACTOR = 1.2


@dataclass
class EvidenceRow:
    """One line of the table: what was predicted and measured, and the verdict."""

    optimizer: str
    setting: str  # LaTeX
    quantity: str  # LaTeX
    predicted: str  # LaTeX
    measured: str  # LaTeX
    error: str  # LaTeX
    verdict: str
    series: dict = field(default_factory=dict, repr=False)
    control: bool = False


def _num(value, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "--"
    if isinstance(value, str):
        return escape_text(value)
    value = float(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.1e}".split("e")
        return rf"${mantissa} \times 10^{{{int(exponent)}}}$"
    return f"${value:.{digits}g}$"


def _check(name: str, options: dict, seed: int, theory: str | None = None):
    """One run of the check command (parsed like the command line), returning its Verdict."""
    from nctheory.cli.check import build_parser, run_check

    argv = [name, "--quiet", "--json", "--seed", str(seed)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value) if isinstance(value, (int, str)) else repr(float(value))]
    if theory:
        argv += ["--theory", theory]
    with warnings.catch_warnings():
        # qhoptim (the QHM reference implementation) calls torch overloads torch deprecates; the
        # warning says nothing about the run, so it is silenced here, for qhoptim only
        warnings.filterwarnings("ignore", message=r"This overload of \w+ is deprecated", category=UserWarning,
                                module=r"qhoptim\.")
        return run_check(build_parser().parse_args(argv), out=io.StringIO())


def _linear_options(spec, steps: int) -> dict:
    """Constant ``lr`` (the spec's example), ``eta lambda = 0.05``; momentum :data:`EVIDENCE_MOMENTUM` for
    the linear kind, where the roots are then real: ``||s_t||`` decays geometrically and has a rate to fit
    (at the example momentum 0.9 with dampening 0.3 the roots are complex, ``||s_t||`` oscillates through
    0 and no geometric fit exists; the verdict, by whole trajectory, is the same)."""
    from nctheory.theory.family import LINEAR_KIND

    lr = float(spec.example_values()["lr"])
    options = {"lr": lr, "weight_decay": EVIDENCE_ETA_LAMBDA / lr, "steps": steps, "constant_lr": True}
    if spec.family.kind == LINEAR_KIND and "momentum" in spec.hyperparameter_names:
        options["momentum"] = EVIDENCE_MOMENTUM
    return options


def _linear_row(spec, steps: int, seed: int, theory: str | None = None) -> EvidenceRow:
    options = _linear_options(spec, steps)
    verdict = _check(spec.name, options, seed, theory)
    setting = rf"$\lr\wdecay = {EVIDENCE_ETA_LAMBDA:g}$" + (rf", $\mom = {options['momentum']:g}$" if "momentum" in options
                                                    else "") + f", {steps} steps"
    quantity = r"fitted rate (spectral radius " + _num(verdict.predicted_rate) + ")"
    if theory:
        setting += rf", judged with ${CONTROL_DECAY_FACTOR:g}\wdecay$"
    return EvidenceRow(spec.name, setting, quantity, _num(verdict.details.get("predicted_fitted_rate")),
                       _num(verdict.measured_rate), _num(verdict.max_rel_error, 2), verdict.verdict,
                       verdict.series, control=bool(theory))


def _named_check(verdict, name: str):
    for check in verdict.details.get("checks", []):
        if check["name"] == name:
            return check
    return None


def _nonlinear_row(spec, seed: int) -> EvidenceRow | None:
    from nctheory.theory.family import SIGN_KIND

    wanted = "scaling_law" if spec.family.kind == SIGN_KIND else "box_bound"
    verdict = _check(spec.name, {}, seed)
    check = _named_check(verdict, wanted)
    if check is None:
        return None
    lr = float(spec.example_values()["lr"])
    if wanted == "scaling_law":
        quantity = r"slope of $\log \NCzero$ plateau in $\log \lr$"
        setting = rf"$\lr = {lr:g}$, $\lr / 3$, $\lr / 9$"
    else:
        quantity = r"largest $\norm{W_t}_\infty$ (bound: box)"
        setting = rf"$\lr = {lr:g}$, $\lr t = 3$"
    return EvidenceRow(spec.name, setting, quantity, _num(check["predicted"], 3), _num(check["measured"], 3),
                       "--", verdict.verdict)


def evidence_rows(seed: int = 0, quick: bool = False) -> list:
    """Run the checks (module docstring) and return their :class:`EvidenceRow` s, the negative
    control last."""
    from nctheory.optimizers import REGISTRY
    from nctheory.theory.family import SIGN_KIND

    from nctheory.theory.family import LINEAR_KIND

    linear = [s for s in REGISTRY.values() if s.family.is_linear]
    # the linear kind first (matrix chains with an exact recurrence after it), registry order within
    with_momentum = sorted((s for s in linear if "momentum" in s.hyperparameter_names),
                           key=lambda s: s.family.kind != LINEAR_KIND)
    steps = QUICK_STEPS if quick else LINEAR_STEPS
    chosen = with_momentum[:2] if quick else linear
    rows = [_linear_row(spec, steps, seed) for spec in chosen]
    if not quick:
        for spec in REGISTRY.values():
            if spec.family.kind == SIGN_KIND or (spec.family.box_bounded and not spec.family.is_linear):
                row = _nonlinear_row(spec, seed)
                if row is not None:
                    rows.append(row)
    control = with_momentum[0] if with_momentum else linear[0]
    wrong = float(_linear_options(control, steps)["weight_decay"]) * CONTROL_DECAY_FACTOR
    rows.append(_linear_row(control, steps, seed, theory=f"{control.name}:weight_decay={wrong!r}"))
    return rows


def evidence_table(rows) -> str:
    """The predicted-against-measured table (``tab:evidence``)."""
    lines = []
    for row in rows:
        breakable = escape_text(row.optimizer).replace(r"\_", r"\_\allowbreak{}")  # a long name may wrap
        name = rf"\texttt{{{breakable}}}" + (r"\newline(control)" if row.control else "")
        lines.append(f"{name} & {row.quantity}\\newline {row.setting} & {row.predicted} & {row.measured} & "
                     f"{row.error} & {row.verdict} \\\\")
    return ("\\begin{table}[ht]\n\\centering\n\\footnotesize\n"
            "\\caption{Predicted against measured. Linear rows: geometric rate fitted to the later half of "
            "$\\norm{\\rowsum_t}$, measured and on the predicted trajectory, and the largest relative error of the "
            "whole trajectory (tolerance $10^{-9}$, float64). The control is a run judged against a wrong weight "
            "decay; it must be refuted.}\\label{tab:evidence}\n"
            "\\setlength{\\tabcolsep}{3pt}\n\\begin{tabular}{@{}p{1.7cm}p{3.2cm}llll@{}}\n\\toprule\n"
            "Optimizer & Quantity and setting & Predicted & Measured & Error & Verdict \\\\\n\\midrule\n"
            + "\n".join(lines) + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n")


def _writable_dir(figure_dir) -> Path:
    path = Path(figure_dir)
    if not path.is_dir():
        raise NCTheoryError(f"figure_dir {str(path)!r} is not an existing directory")
    if not os.access(path, os.W_OK):
        raise NCTheoryError(f"figure_dir {str(path)!r} is not writable")
    return path


def evidence_section(figure_dir, seed: int = 0, quick: bool = False, figure_prefix: str = "figures/") -> str:
    """Run the checks, write the figures into ``figure_dir`` and return the section's LaTeX.

    ``figure_prefix`` is how the document reaches ``figure_dir`` (``\\includegraphics``).
    """
    from nctheory.render.appendix_figures import write_figures

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise NCTheoryError(f"seed must be a non-negative integer, got {seed!r}")
    directory = _writable_dir(figure_dir)
    rows = evidence_rows(seed, quick)
    figures = write_figures(directory, rows)
    text = ("\\section{Numerical evidence}\\label{sec:evidence}\n"
            "Every prediction below was checked against training runs of the unconstrained-features model "
            f"(seed {seed}, float64) with the reference implementation of each optimizer. The prediction is made "
            "before training, from the optimizer read back from the live implementation; Table~\\ref{tab:evidence} "
            "lists predicted and measured values with the verdict of the comparison.\n" + evidence_table(rows))
    return text + "".join(figure_tex(name, caption, figure_prefix) for name, caption in figures)


def figure_tex(name: str, caption: str, prefix: str) -> str:
    return ("\\begin{figure}[ht]\n\\centering\n"
            f"\\includegraphics[width=\\linewidth]{{{prefix}{name}.pdf}}\n"
            f"\\caption{{{caption}}}\\label{{fig:{name.replace('_', '-')}}}\n\\end{{figure}}\n")


__all__ = ["CONTROL_DECAY_FACTOR", "EVIDENCE_ETA_LAMBDA", "EvidenceRow", "evidence_rows", "evidence_section",
           "evidence_table", "figure_tex"]
