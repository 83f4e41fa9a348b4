r"""The optimizer section of the appendix, one subsection per family of optimizers.

What a family's members share is said once (:func:`optimizers_section`):

* the section's introduction: how the row-sum recurrence arises (multiply the update by
  ``1^T``; the gradient's columns sum to zero), how the rate of a quadratic ``chi`` is read, and
  that stability and acceleration are decided by the Schur--Cohn criterion in Jury's form;
* per family (the kind :func:`nctheory.theory.family.family` derives from the chain, never a
  name): why a recurrence exists or does not, and one comparison table -- source, implementation
  class, hyperparameter ranges, and the rate (where a recurrence exists) or what holds for the
  row sums instead;
* members with an exact recurrence then get a subsection each with their own rows (update rule,
  recurrence and transition matrices, characteristic polynomial, rate, stability, acceleration,
  optimal momentum: :func:`nctheory.render.appendix_optimizers.optimizer_section`);
* members without one share one display of their update rules, and each statement that holds
  for them (box bound, parity floor, ``O(eta)`` plateau, empirical laws) is given once, naming the
  optimizers it is stated for.

Every optimizer keeps its label ``opt:<name>``.
"""

from __future__ import annotations

import re

from nctheory.render.appendix_math import align_lines, update_rule
from nctheory.render.appendix_optimizers import (
    JURY_NOTE,
    QUADRATIC_NOTE,
    RECURRENCE_NOTE,
    _citation_key,
    _interval,
    _roots_sentence,
    _title,
    optimizer_section,
    run_in,
)
from nctheory.render.appendix_statements import NO_RECURRENCE, matrix_map_paragraph, short_tex, statement_tex
from nctheory.theory.family import ADAPTIVE_KIND, COUPLED, LINEAR_KIND, MATRIX_KIND, SIGN_KIND
from nctheory.theory.latex import escape_text, tex

#: family kind -> (subsection title, label); kinds in this order, any other after them
FAMILIES = {
    LINEAR_KIND: ("Linear optimizers", "sec:optimizers-linear"),
    MATRIX_KIND: ("Matrix optimizers", "sec:optimizers-matrix"),
    SIGN_KIND: ("Sign descent", "sec:optimizers-sign"),
    ADAPTIVE_KIND: ("Elementwise adaptive optimizers", "sec:optimizers-adaptive"),
}


def _texttt(path: str) -> str:
    """A class path in typewriter type that may break after its dots and underscores."""
    return r"\texttt{" + escape_text(path).replace(".", r".\allowbreak ").replace(r"\_", r"\_\allowbreak ") + "}"


def _short(spec) -> str:
    """The optimizer's name in a list: its summary up to the first comma, colon or parenthesis."""
    name = re.split(r"[,:(]", spec.summary)[0].strip()
    return escape_text(name[:1].upper() + name[1:])


def short_names(specs) -> dict:
    """spec name -> the name a list or table uses: the short name where it is unique among
    ``specs``, else the longer title (SignGD with coupled and with decoupled decay)."""
    shorts = [_short(s) for s in specs]
    return {s.name: (short if shorts.count(short) == 1 else _title(s)) for s, short in zip(specs, shorts)}


def _source(spec) -> str:
    keys = [k for k in (_citation_key(c) for c in getattr(spec, "citations", ())) if k]
    return rf"\citep{{{','.join(keys)}}}" if keys else "(" + escape_text(spec.reference.split(";")[0]) + ")"


def _implementation(spec) -> str:
    classes = [c.path for c in (*spec.torch, spec.reference_class) if c is not None]
    public = [p for p in classes if not p.startswith("nctheory.")]
    return _texttt(public[0]) if public else "--"


def _outcome(spec, fam) -> str:
    """The last column: the rate where a recurrence exists, else what holds for the row sums."""
    if fam.is_linear:
        sentence = _roots_sentence(spec.row_sum_dynamics(), shared=True)
        return sentence.replace(r"\rate = ", "", 1) if sentence.startswith("$") and "\n" not in sentence else \
            rf"largest root of $\chi$ (\S\ref{{opt:{spec.name}}})"
    statements = spec.nonlinear_theory()
    return "; ".join(short_tex(s) for s in statements) if statements else "no claim"


def facts_table(specs, kind: str) -> str:
    """One comparison table for the optimizers of a family."""
    linear = all(s.family.is_linear for s in specs)
    last = r"Rate $\rate$" if linear else "Row sums"
    rows, names = [], short_names(specs)
    for spec in specs:
        name = rf"{names[spec.name]} {_source(spec)}"
        hyper = ", ".join(f"${_interval(h)}$" for h in spec.hyperparameters)
        rows.append(rf"\raggedright {name} & \raggedright {_implementation(spec)} & \raggedright {hyper} & "
                    rf"\raggedright {_outcome(spec, spec.family)}\tabularnewline")
    # a float that may go where it fits (here, or at the top of a page): a table that cannot break
    # would otherwise leave the rest of a page empty
    return ("\\begin{table}[!htb]\n\\centering\n\\small\n"
            "\\begin{tabular}{@{}p{0.25\\linewidth}p{0.19\\linewidth}p{0.27\\linewidth}p{0.19\\linewidth}@{}}\n"
            f"\\toprule\nOptimizer & Implementation & Hyperparameters & {last}\\tabularnewline\n\\midrule\n"
            + "\n".join(rows) + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n")


def _shared_update_rules(specs) -> str:
    """The update rules of optimizers without a recurrence, in one display."""
    lines = []
    for spec in specs:
        rows, abbreviations = update_rule(spec)
        lines.append(rf"\shortintertext{{\emph{{{_title(spec)}}}:}}")
        body = align_lines([(tex(lhs), "=", rhs, note) for lhs, rhs, note in rows])
        if abbreviations:
            body[-1] += r" \\" + "\n" + r"\shortintertext{where}"
            body += align_lines([(tex(s), "=", v, "") for s, v in abbreviations])
        lines.append(" \\\\\n".join(body) + (r" \\" if spec is not specs[-1] else ""))
    anchors = "".join(rf"\label{{opt:{spec.name}}}" for spec in specs)  # outside the display: one label a row
    return f"\\paragraph{{Update rules.}}{anchors}\n\\begin{{align*}}\n" + "\n".join(lines) + "\n\\end{align*}\n"


def _names(specs, family) -> str:
    names = short_names(family)
    titles = [names[s.name] for s in specs]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def _statements(specs, labels, family) -> str:
    """Each statement once, for every member it holds for (in the order they first appear)."""
    order, holders, objects = [], {}, {}
    for spec in specs:
        for statement in spec.nonlinear_theory():
            if statement.name not in holders:
                order.append(statement.name)
                holders[statement.name], objects[statement.name] = [], statement
            holders[statement.name].append(spec)
    return "".join(statement_tex(objects[n], labels, _names(holders[n], family)) for n in order)


def _family_intro(kind, recurrent, others, labels) -> str:
    parts = []
    if kind == MATRIX_KIND and recurrent:
        parts.append(matrix_map_paragraph(recurrent[0], labels).replace(
            "\\paragraph{Row sums of the matrix map.} The matrix map",
            f"For {_names(recurrent, recurrent + others)} (decoupled decay), the matrix map"))
    if others:
        reason = NO_RECURRENCE.get(kind, escape_text("No linear row-sum recurrence exists."))
        if recurrent or kind == MATRIX_KIND:
            reason = f"For {_names(others, recurrent + others)}, " + reason[:1].lower() + reason[1:]
        parts.append(reason)
        coupled = [s for s in others if s.family.coupling == COUPLED and kind != MATRIX_KIND]
        if coupled and "thm:theorem2" in labels:
            parts.append(f"With coupled decay ({_names(coupled, recurrent + others)}) the stationary points of the coupled objective "
                         r"nevertheless have $\rowsum = 0$ (Theorem~\ref{thm:theorem2}).")
    return "\n".join(p.strip() for p in parts) + ("\n" if parts else "")


def optimizers_section(specs, labels=None, section_label: str = "sec:optimizers") -> str:
    """The ``\\section`` on the optimizers: introduction, then one subsection per family."""
    labels = set(labels or ())
    specs = [spec.without(*spec.hyperparameter_names) for spec in specs]
    kinds = {}
    for spec in specs:
        kinds.setdefault(spec.family.kind, []).append(spec)
    ordered = [k for k in FAMILIES if k in kinds] + sorted(k for k in kinds if k not in FAMILIES)
    intro = (r"The update rules act on one entry of the weights, in the order the step runs; the notation is "
             r"that of Table~\ref{tab:notation}. Each family of optimizers has one table comparing its members.")
    if any(s.family.is_linear for s in specs):
        intro += " " + " ".join((RECURRENCE_NOTE, QUADRATIC_NOTE, JURY_NOTE))
    # the group lets TeX stretch spaces rather than overfill a line (run-in headings, long citations)
    parts = [rf"\section{{The optimizers}}\label{{{section_label}}}", r"\begingroup\emergencystretch=3em", "", intro, ""]
    for kind in ordered:
        members = sorted(kinds[kind], key=lambda s: len(s.hyperparameters))  # the simplest first (stable)
        title, label = FAMILIES.get(kind, (escape_text(kind.capitalize()), f"sec:optimizers-{kind}"))
        recurrent = [s for s in members if s.family.is_linear]
        others = [s for s in members if not s.family.is_linear]
        parts += [rf"\subsection{{{title}}}\label{{{label}}}", _family_intro(kind, recurrent, others, labels)
                  + facts_table(members, kind)]
        if others:
            parts.append(_shared_update_rules(others) + _statements(others, labels, members))
        parts += [optimizer_section(spec, labels, shared=True).strip() for spec in recurrent]
    parts.append(r"\endgroup")
    return run_in("\n".join(p.rstrip() for p in parts if p.strip() or p == "") + "\n")


__all__ = ["FAMILIES", "facts_table", "optimizers_section"]
