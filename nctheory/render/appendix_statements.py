r"""What the appendix says about optimizers without a linear row-sum recurrence.

For sign-based, elementwise-adaptive and coupled matrix chains the statements are those of
:func:`nctheory.theory.symbolic.signbased.nonlinear_theory` (chosen by the derived family);
here each gets its display in the shared notation and its hypotheses in mathematics.
A statement this module does not know yet is shown with the LaTeX it carries and its
hypotheses as escaped text, so an optimizer added later still gets a complete section.
"""

from __future__ import annotations

from nctheory.theory.family import ADAPTIVE_KIND, COUPLED, MATRIX_KIND, SIGN_KIND
from nctheory.theory.latex import escape_text

#: statement name -> (title, display, hypotheses, theorem the proof or the argument is in)
STATEMENTS = {
    "box_bound": (
        "Box bound",
        r"\norm{W_t}_\infty \le (1 - \lr\wdecay)^t \norm{W_0}_\infty + \frac{1 - (1 - \lr\wdecay)^t}{\wdecay}"
        r" \le \max\left(\norm{W_0}_\infty, \frac{1}{\wdecay}\right)",
        r"decoupled weight decay $\wdecay > 0$ with $0 < \lr\wdecay \le 1$, and a step direction with entries in $[-1, 1]$",
        "sign_bounds"),
    "parity_lower_bound": (
        "Parity lower bound",
        r"\lim_{t \to \infty} \norm{\rowsum_t} = \frac{\norm{S^\top \ones}}{\wdecay} \ge \frac{\sqrt{d}}{\wdecay}",
        r"$K$ odd, $0 < \lr\wdecay < 1$, no zero gradient entry, and a sign pattern $S = \operatorname{sign}(G_t)$"
        r" that is eventually constant; the limit does not depend on $\lr$",
        "sign_bounds"),
    "coupled_sign_neighbourhood": (
        "Neighbourhood of the centred stationary points",
        r"\limsup_{t \to \infty} \norm{\rowsum_t} = O(\lr)",
        r"coupled weight decay $\wdecay > 0$ and a constant step size $\lr$: the stationary points of"
        r" $L(W) + \frac{\wdecay}{2}\norm{W}_F^2$ have $\rowsum = 0$, but every entry moves by exactly $\lr$"
        r" per step, so the plateau of $\NCzero$ scales linearly in $\lr$",
        "theorem2"),
    "adam_nc0_decreases": (
        "Row sums decrease (empirical)",
        r"\norm{\rowsum_t} \to 0 \quad \text{(slowly)}",
        r"coupled weight decay $\wdecay > 0$, general $\beta_1, \beta_2, \varepsilon$; the stationary points"
        r" have $\rowsum = 0$",
        "theorem2"),
    "adamw_nc0_persists": (
        "Row sums persist (empirical)",
        r"\liminf_{t \to \infty} \frac{\norm{\rowsum_t}}{\sqrt{K}\,\norm{W_t}_F} > 0",
        r"decoupled weight decay $\wdecay > 0$, general $\beta_1, \beta_2, \varepsilon$",
        None),
    "coupled_matrix_neighbourhood": (
        "Neighbourhood of the centred stationary points",
        r"\limsup_{t \to \infty} \frac{\norm{\rowsum_t}}{\sqrt{K}\,\norm{W_t}_F} = O(\lr)",
        r"coupled weight decay $\wdecay > 0$, a constant step size $\lr$, weights bounded away from $0$:"
        r" the orthogonalised step keeps its singular values near $1$ however small the gradient",
        "theorem2"),
}

#: why no linear recurrence exists, by family kind (the derived reason, in words)
NO_RECURRENCE = {
    SIGN_KIND: r"The update applies $\operatorname{sign}$ entrywise, so the row sum of the update is not a "
               r"function of the row sums of $W_t$ and $G_t$: no linear recurrence exists.",
    ADAPTIVE_KIND: r"The update divides entrywise by a function of the gradients (or takes a sign), so the row "
                   r"sum of the update is not a function of row sums: no linear recurrence exists.",
    MATRIX_KIND: r"The weight decay is coupled: the argument of the matrix map has row sum "
                 r"$\ones^\top (G_t + \wdecay W_t) = \wdecay \rowsum_t \neq 0$, so the map's output need not have zero "
                 r"row sums and the row sum of the update depends on the whole matrices: no linear recurrence "
                 r"exists.",
}

_STATUS = {"proved symbolically": "proved", "checked numerically": "checked numerically"}


def _reference(theorem: str | None, labels) -> str:
    label = f"thm:{theorem}" if theorem else None
    return rf" (Theorem~\ref{{{label}}})" if label and label in labels else ""


#: statement name -> the short form a family's comparison table shows
SHORT = {"box_bound": r"$\norm{W_t}_\infty$ bounded", "parity_lower_bound": r"$\NCzero \ge \sqrt{d}/\wdecay$ ($K$ odd)",
         "coupled_sign_neighbourhood": r"$O(\lr)$ plateau", "adam_nc0_decreases": r"$\to 0$ slowly",
         "adamw_nc0_persists": "persist", "coupled_matrix_neighbourhood": r"$O(\lr)$ plateau"}


def short_tex(statement) -> str:
    """What the statement says in a few words (a table cell)."""
    return SHORT.get(statement.name) or escape_text(statement.name.replace("_", " "))


def statement_tex(statement, labels, who: str = "") -> str:
    """One statement: its title, hypotheses, display and status; ``who``: the optimizers it
    is stated for, where a family states it once for several."""
    known = STATEMENTS.get(statement.name)
    if known is None:
        title = escape_text(statement.name.replace("_", " ").capitalize())
        display, hypotheses, theorem = statement.latex, escape_text("; ".join(statement.hypotheses)), None
    else:
        title, display, hypotheses, theorem = known
    status = _STATUS.get(statement.status, escape_text(statement.status))
    subject = f"For {who}, under" if who else "Under"
    where = _reference(theorem, labels).strip()[1:-1]  # " (Theorem~\ref{...})" -> "Theorem~\ref{...}"
    status += f"; {where}" if where else ""
    return (f"\\paragraph{{{title}}} ({status}). {subject} the hypotheses "
            f"({hypotheses}),\n\\[ {display}. \\]\n")


def nonlinear_rows(spec, fam, labels) -> str:
    """The rows of a section without a recurrence: why not, then what holds instead."""
    reason = NO_RECURRENCE.get(fam.kind, escape_text("No linear row-sum recurrence exists."))
    text = f"\\paragraph{{Row sums.}} {reason}\n"
    statements = spec.nonlinear_theory()
    if not statements:
        return text + "No statement about the row sums is claimed for this optimizer.\n"
    if fam.coupling == COUPLED and fam.kind != MATRIX_KIND:
        text += ("Stationary points of the coupled objective nevertheless have $\\rowsum = 0$"
                 f"{_reference('theorem2', labels)}.\n")
    return text + "".join(statement_tex(s, labels) for s in statements)


def matrix_map_paragraph(spec, labels) -> str:
    """Why a matrix chain with decoupled decay still has an exact recurrence."""
    return ("\\paragraph{Row sums of the matrix map.} The matrix map is left-orthogonally equivariant and its "
            "argument is built from gradients only, whose row sums vanish; so its output has zero row sums"
            f"{_reference('matrix_row_sums', labels)}, and the row sums follow the linear recurrence below, "
            "exactly as for a linear optimizer.\n")


__all__ = ["NO_RECURRENCE", "SHORT", "STATEMENTS", "short_tex", "matrix_map_paragraph", "nonlinear_rows", "statement_tex"]
