r"""The machine verification of a theorem as a LaTeX log: each step and how it was decided.

This is the optional "verification log" of the appendix, kept apart from the proof a
reader reads (:meth:`~nctheory.theorems.base.Theorem.paper_tex`). Every step of
:meth:`~nctheory.theorems.base.Theorem.prove` is one item, marked with a check mark when
it holds and **fails** when not, its description translated from plain text
(:func:`nctheory.theorems.plain_math.plain_to_tex`) and, when they fit, the sympy objects
it rests on (:mod:`nctheory.theorems.tex`). A prefix shared by consecutive steps (a case,
"stability (radius 1)", an instance) is written once as a heading of the group. Items
are not numbered (no "5. 1." double numbering).

How a step is decided: an *identity* holds when the difference of its two sides reduces
to 0 by exact simplification; a *difference* when an exact witness point makes it
nonzero; any other step by an exact boolean (a positivity certificate, a solved
equation, an enumeration). Nothing is decided within a floating tolerance.
"""

from __future__ import annotations

import re

import sympy as sp

from nctheory.theorems.plain_math import plain_to_tex
from nctheory.theorems.tex import LINE_CHARS, equation, fits, nicest, tex, width

#: Objects whose LaTeX is longer than this are not printed in the log (the description
#: says what was checked); shorter ones are simplified and broken across lines.
MAX_PRINTED = 700
#: Objects whose LaTeX is longer than this are printed as they are (simplifying them is slow).
MAX_SIMPLIFIED = 400

_DECIDED = {"=": "identity: the difference reduces to 0", r"\ne": "differs: exact witness point",
            None: "decided exactly"}


def _prefix(description: str) -> tuple[str, str]:
    """``(group heading, rest)``: a leading ``[case]`` or ``label (...):`` shared by steps."""
    match = re.match(r"^(\[[^\]]+\])\s+(.*)$", description)
    if match:
        return match.group(1)[1:-1], match.group(2)
    match = re.match(r"^((?:stability|acceleration|instance|closed form|induction|box bound|negative control)"
                     r"[^:]{0,90}?):\s+(.*)$", description)
    if match:
        return match.group(1), match.group(2)
    return "", description


def _printable(obj) -> bool:
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        return len(sp.latex(obj)) <= MAX_PRINTED
    return isinstance(obj, (int, bool))


def _simplified(obj):
    if isinstance(obj, (sp.Basic, sp.MatrixBase)) and len(sp.latex(obj)) <= MAX_SIMPLIFIED:
        return nicest(obj, ("factor", "cancel"))
    return obj


def _is_zero_object(obj) -> bool:
    if isinstance(obj, sp.MatrixBase):
        return obj.is_zero_matrix is True
    return isinstance(obj, (sp.Basic, int)) and sp.sympify(obj) == 0


def step_display(step) -> str:
    """The display of one step's objects ("" when there is nothing worth printing, or when
    it would not fit the text width even broken across lines: the description says what
    was checked)."""
    display = _step_display(step)
    return display if fits(display, margin=-2) and display.count(r"\\") <= 8 else ""


def _step_display(step) -> str:
    objects = [o for o in step.objects if _printable(o)]
    if len(objects) != len(step.objects) or not objects:
        return ""
    if step.relation and len(objects) == 2:
        lhs, rhs = (_simplified(o) for o in objects)
        if _is_zero_object(lhs) and _is_zero_object(rhs):
            return ""  # 0 = 0 says nothing
        relation = step.relation if step.holds else r"\stackrel{?}{" + step.relation + "}"
        if tex(lhs) == tex(rhs):  # the two forms agree on the page: show the object once
            return _single(lhs)
        if _is_zero_object(lhs):
            lhs, rhs = rhs, lhs
        return equation(lhs, rhs, relation)
    shown = [_simplified(o) for o in objects if not _is_zero_object(o)]
    if not shown:
        return ""
    if len(shown) == 1:
        return _single(shown[0])
    line = r",\quad ".join(tex(o) for o in shown)
    if width(line) <= LINE_CHARS:
        return rf"\[ {line} \]"
    return "\n".join(_single(o) for o in shown)


def _single(obj) -> str:
    text = tex(obj)
    if width(text) <= LINE_CHARS:
        return rf"\[ {text} \]"
    if isinstance(obj, sp.MatrixBase):
        return equation("", obj, "", lhs_tex=r"\phantom{0}")
    return equation(r"\phantom{0}", obj, "", lhs_tex="")


def verification_tex(theorem) -> str:
    """The verification log of ``theorem`` (see the module docstring)."""
    proof = theorem.prove()
    failing = len(proof.failing_steps)
    verdict = ("every step holds" if proof.holds else
               rf"\textbf{{{failing} of {len(proof.steps)} steps fail}}")
    lines = [rf"\paragraph{{Verification log: {_title(theorem)}.}}",
             rf"{len(proof.steps)} exact steps; {verdict}. An identity holds when the difference of its sides "
             r"reduces to $0$ by exact simplification, a difference when an exact witness makes it nonzero; the "
             r"other steps are decided by exact computations (certificates, solved equations, enumerations).",
             r"{\sloppy\emergencystretch=3em", r"\begin{itemize}"]
    if theorem.hypotheses:
        lines.append(r"\item[] \textit{Hypotheses the verification works under.}")
        lines += [rf"\item[--] {plain_to_tex(h)}" for h in theorem.hypotheses]
    group = None
    for step in proof.steps:
        heading, rest = _prefix(step.description)
        if heading != group:
            if heading:
                lines.append(rf"\item[] \textit{{{plain_to_tex(heading[0].upper() + heading[1:])}.}}")
            group = heading
        mark = r"$\checkmark$" if step.holds else r"\textbf{(fails)}"
        rest = rest[0].upper() + rest[1:] if rest else rest
        lines.append(rf"\item[{mark}] {plain_to_tex(rest)} \hfill {{\small({_DECIDED.get(step.relation, _DECIDED[None])})}}")
        display = step_display(step)
        if display:
            lines.append(display)
    lines += [r"\end{itemize}", "}"]
    return "\n".join(lines)


def _title(theorem) -> str:
    return plain_to_tex(getattr(theorem, "title_plain", theorem.title))


__all__ = ["MAX_PRINTED", "step_display", "verification_tex"]
