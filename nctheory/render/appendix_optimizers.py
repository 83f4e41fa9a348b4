r"""The optimizer part of the appendix: one section per spec, the same layout for a family.

:func:`optimizer_section` renders, from the spec alone (its hyperparameters left symbolic):

* for every spec: a table of facts (source, hyperparameters with their ranges, how the
  weight decay enters, the theory that applies) and the update rule on one weight entry
  (:func:`nctheory.render.appendix_math.update_rule`);
* where the row sums follow an exact linear recurrence (the linear family, and matrix chains
  whose matrix maps keep zero row sums): the recurrence ``x_{t+1} = A x_t`` of Lemma 1 with the
  first step's matrix, the characteristic polynomial ``chi(z) = det(z I - A)``, the rate
  (spectral radius) with the modes a fresh optimizer excites, the stability conditions
  (``rate < 1``: Jury's form of Schur-Cohn), the acceleration conditions (``rate < 1 - eta
  lambda``, Schur-Cohn on ``chi((1 - eta lambda) y)``) and the optimal momentum (the proved
  theorem where there is one, else the engine's discriminant root);
* otherwise: why no recurrence exists and the statements that hold instead (box and parity
  bounds, the O(eta) neighbourhood, the empirical NC0 laws), with their hypotheses.

Which rows appear is decided by :func:`nctheory.theory.family.family` (never by a name).
:func:`notation_section` is the one notation table all sections share.
"""

from __future__ import annotations

import re

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.render.appendix_math import LINE_WIDTH, Z, align_rows, condition_tex, gather, polynomial_terms, \
    polynomial_tex, state_symbols, update_rule
from nctheory.theory.family import COUPLED, MATRIX_KIND, SIGN_KIND
from nctheory.theory.latex import escape_text, tex, tidy, width
from nctheory.theory.symbolic.rowsum import X

NOTATION = (
    (r"$W_t \in \R^{K \times d}$", r"last-layer weights at step $t$ (rows: the $K$ classes)"),
    (r"$G_t$", r"the gradient of the loss with respect to $W_t$"),
    (r"$\ones = \ones_K$", r"the all-ones vector of $\R^K$"),
    (r"$\rowsum_t = W_t^\top \ones$", r"the row sum of the weights; $\NCzero(W_t) = \norm{\rowsum_t}$"),
    (r"$u_t, m_t, v_t$", r"optimizer buffers (momentum, first and second moments), entrywise like $W_t$"),
    (r"$\rowsum^{u}_t = u_t^\top \ones$", r"the row sum of a buffer $u_t$"),
    (r"$\lr,\ \wdecay$", r"learning rate and weight decay; the product $\lr\wdecay$ sets the rates"),
    (r"$\mom,\ \damp$", r"heavy-ball momentum and its dampening ($\mom$ always denotes momentum)"),
    (r"$\beta_1,\ \beta_2,\ \varepsilon$", r"Adam-type moment decays and denominator offset"),
    (r"$A,\ \tilde A$", r"transition matrix of the row-sum state, and that of the first step"),
    (r"$\chi(z) = \det(zI - A)$", r"the characteristic polynomial of $A$"),
    (r"$\rate$", r"the rate: the spectral radius of $A$, so that $\norm{\rowsum_t} \sim C \rate^t$"),
)


def notation_section(labels=None) -> str:
    """The notation table shared by the optimizer and evidence sections (a ``table``).

    ``labels``: the theorem labels of the document; the gradient row-sum lemma is referred to
    by its label where it is present (its number depends on the document), else by name."""
    rows = "\n".join(f"{symbol} & {meaning} \\\\" for symbol, meaning in NOTATION)
    lemma = (r"Lemma~\ref{thm:lemma1}" if labels is not None and "thm:lemma1" in labels
             else "the gradient row-sum lemma")
    return ("\\section{Notation}\\label{sec:notation}\n"
            "All optimizers act entrywise on matrices unless stated; the row-sum recurrences hold for every\n"
            f"loss that is invariant under adding a constant to all logits ({lemma}: $\\ones^\\top G_t = 0$).\n"
            "\\begin{table}[h]\n\\centering\n\\caption{Notation.}\\label{tab:notation}\n"
            "\\begin{tabular}{@{}lp{0.72\\linewidth}@{}}\n\\toprule\nSymbol & Meaning \\\\\n\\midrule\n"
            f"{rows}\n\\bottomrule\n\\end{{tabular}}\n\\end{{table}}\n")


# ---------------------------------------------------------------------------- facts
def _citation_key(entry: str) -> str | None:
    match = re.match(r"\s*@\w+\s*\{\s*([^,\s]+)\s*,", entry)
    return match.group(1) if match else None


def _interval(h) -> str:
    left = "(" if h.low_open or h.low is None else "["
    right = ")" if h.high_open or h.high is None else "]"
    low = r"-\infty" if h.low is None else _number(h.low)
    high = r"\infty" if h.high is None else _number(h.high)
    return rf"{tex(h.symbol)} \in {left}{low}, {high}{right}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _title(spec) -> str:
    summary = spec.summary.split(" (")[0]
    while len(summary) > 60 and ", " in summary:  # a heading on one line: the table gives the rest
        summary = summary[:summary.rindex(", ")]
    return escape_text(summary[:1].upper() + summary[1:])


def _theory_sentence(fam) -> str:
    if fam.is_linear:
        return "exact linear row-sum recurrence"
    coupling = "coupled" if fam.coupling == COUPLED else "decoupled"
    kinds = {SIGN_KIND: "sign descent", MATRIX_KIND: "matrix map"}
    return f"{kinds.get(fam.kind, 'elementwise adaptive')}, {coupling} weight decay: no linear recurrence"


def _facts(spec, fam) -> str:
    keys = [k for k in (_citation_key(c) for c in getattr(spec, "citations", ())) if k]
    source = rf"\citet{{{','.join(keys)}}}" if keys else escape_text(spec.reference.split(";")[0])
    hyper = ", ".join(f"${_interval(h)}$" for h in spec.hyperparameters)
    classes = [c.path for c in (*spec.torch, spec.reference_class) if c is not None]
    public = [p for p in classes if not p.startswith("nctheory.")]
    implementation = rf"\texttt{{{escape_text(public[0])}}}" if public else ""
    rows = [("Source", source), ("Hyperparameters", hyper), ("Theory", _theory_sentence(fam)),
            ("Package name", rf"\texttt{{{escape_text(spec.name)}}}")]
    if implementation:
        rows.insert(1, ("Implementation", implementation))
    body = "\n".join(f"{k} & {v} \\\\" for k, v in rows)
    return ("\\begin{center}\n\\small\n\\begin{tabular}{@{}lp{0.74\\linewidth}@{}}\n\\toprule\n"
            f"{body}\n\\bottomrule\n\\end{{tabular}}\n\\end{{center}}\n")


# ---------------------------------------------------------------------------- rows
#: What every linear section would repeat; said once in the optimizer section's introduction
#: (:func:`nctheory.render.appendix_families.optimizers_section`), or in a section on its own.
RECURRENCE_NOTE = (r"Multiplying the update by $\ones^\top$ and using $\ones^\top G_t = 0$ gives, for every data "
                   r"set, a linear recurrence $x_{t+1} = A x_t$ for the row sums $x_t$ of the weights and buffers; "
                   r"a fresh optimizer state takes its first step with $\tilde A$ instead.")
QUADRATIC_NOTE = (r"For a quadratic $\chi(z) = z^2 + bz + c$, complex roots ($b^2 < 4c$) have modulus "
                  r"$\rate = \sqrt{c}$, real ones $\rate = \left|\tfrac{b}{2}\right| + \sqrt{\tfrac{b^2}{4} - c}$.")
JURY_NOTE = (r"Stability ($\rate < 1$) and acceleration ($\rate < 1 - \lr\wdecay$, faster than plain gradient "
             r"descent, for $0 < \lr\wdecay < 1$) are decided by the Schur--Cohn criterion in Jury's form, applied "
             r"to $\chi(z)$ and to $\chi((1 - \lr\wdecay) y)$.")


def _update_rule(spec, shared: bool = False) -> str:
    rows, abbreviations = update_rule(spec)
    out = align_rows([(tex(lhs), "=", rhs, note) for lhs, rhs, note in rows])
    # in a family's section the update rule comes first under the optimizer's heading, unlabelled
    text = ("" if shared else "\\paragraph{Update rule.} On one entry of the weights, in the order the step runs:\n")
    text += out + "\n"
    if abbreviations:
        text += "where\n" + align_rows([(tex(s), "=", v, "") for s, v in abbreviations]) + "\n"
    return text


def _matrix_tex(matrix) -> str:
    rows = [" & ".join(tex(tidy(e)) for e in matrix.row(i)) for i in range(matrix.rows)]
    return "\\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"


def _factor_tex(expr) -> str:
    """A coefficient of a state variable: in parentheses when it is a sum."""
    expr = tidy(expr)
    return rf"\left({tex(expr)}\right)" if sp.sympify(expr).is_Add else tex(expr)


#: Mathematics at most this wide (units of ``width``) is set inline in the running text, not displayed.
INLINE_WIDTH = 40


def _shown(math: str, tail: str = ".") -> str:
    """``math`` inline where it is short, else displayed; ``tail`` ends the sentence."""
    if width(math) <= INLINE_WIDTH:
        return f"${math}${tail}\n"
    return f"\\[ {math}{tail} \\]\n"


def run_in(text: str) -> str:
    """Run-in row headings without the vertical space of ``\\paragraph`` (a page holds more rows)."""
    return re.sub(r"\\paragraph\{([^{}]*)\}", r"\\par\\noindent\\textbf{\1}", text)


def _recurrence(spec, dyn, shared: bool = False) -> str:
    now, nxt = state_symbols(dyn)
    vec = lambda entries: "\\begin{pmatrix} " + r" \\ ".join(entries) + r" \end{pmatrix}"  # noqa: E731
    intro = "\\paragraph{Row-sum recurrence.}" + ("" if shared else " " + RECURRENCE_NOTE) + " "
    if dyn.matrix.shape == (1, 1):
        first = dyn.first_matrix[0, 0]
        text = intro + _shown(f"{nxt[0]} = {_factor_tex(dyn.matrix[0, 0])}\\, {now[0]}",
                              "" if first != dyn.matrix[0, 0] else ".")
        if first != dyn.matrix[0, 0]:
            first_tex = "" if first == 1 else _factor_tex(first) + r"\, "
            text = text.rstrip("\n") + rf" and, at the first step, $\rowsum_1 = {first_tex}\rowsum_0$." + "\n"
        return text
    head = f"{vec(nxt)} = A {vec(now)}"
    if shared:  # the family says x_{t+1} = A x_t; name the state and show the matrices
        intro += rf"The state is $x_t = ({', '.join(now)})$ and" + "\n"
    matrices = [f"A = {_matrix_tex(dyn.matrix)}"]
    if dyn.first_matrix != dyn.matrix:
        matrices.append(rf"\tilde A = {_matrix_tex(dyn.first_matrix)}")
    from nctheory.theorems.tex import width as matrix_width  # counts a matrix by its columns

    one_line = r", \qquad ".join(([] if shared else [head]) + matrices)
    if matrix_width(one_line) <= LINE_WIDTH - 4:
        return intro + rf"\[ {one_line}. \]" + "\n"
    rest = r", \qquad ".join(matrices)
    lines = ([] if shared else [head]) + ([rest] if matrix_width(rest) <= LINE_WIDTH - 4 else matrices)
    return intro + "\\begin{gather*}\n" + ", \\\\\n".join(lines) + ".\n\\end{gather*}\n"


def _charpoly(dyn) -> str:
    from nctheory.render.appendix_math import _split_terms

    budget = LINE_WIDTH - width(r"\chi(z) = ")
    lines = _split_terms(polynomial_terms(dyn.charpoly(X), X), budget)
    lines[-1] += "."
    if len(lines) == 1:
        return "\\paragraph{Characteristic polynomial.} " + _shown(rf"\chi(z) = {lines[0][:-1]}")
    body = r"\chi(z) &= " + " \\\\\n  &\\qquad ".join(lines)
    return "\\paragraph{Characteristic polynomial.}\n\\begin{align*}\n  " + body + "\n\\end{align*}\n"


def _roots_sentence(dyn, shared: bool = False) -> str:
    poly = sp.Poly(sp.expand(dyn.charpoly(X).subs(X, Z)), Z)
    factors = [f for f in sp.Mul.make_args(sp.factor(poly.as_expr())) if f.has(Z)]
    linear = [f.as_base_exp()[0] for f in factors if sp.degree(f.as_base_exp()[0], Z) == 1]
    if len(linear) == len(factors) and poly.degree() > 1:
        roots = [tidy(sp.solve(f, Z)[0]) for f in linear]
        listed = ", ".join(rf"\left|{tex(r)}\right|" for r in roots)
        return rf"$\rate = \max\left\{{{listed}\right\}}$"
    if poly.degree() == 1:
        root = tidy(sp.solve(poly.as_expr(), Z)[0])
        return rf"$\rate = \left|{tex(root)}\right|$"
    if poly.degree() == 2 and poly.LC() == 1:
        _, b, c = poly.all_coeffs()
        display = rf"-\tfrac{{b}}{{2}} = {tex(tidy(-b / 2))}, \qquad c = {tex(tidy(c))}"
        text = "with " + (_shown(display).rstrip("\n").replace(r", \qquad ", "$ and $")
                          if width(display) <= LINE_WIDTH else
                           rf"\begin{{gather*}} -\tfrac{{b}}{{2}} = {tex(tidy(-b / 2))}, \\ c = {tex(tidy(c))}. "
                           r"\end{gather*}") + "\n"
        lead = (r"For $\chi(z) = z^2 + bz + c$, " if shared else
                r"$\rate$ is the largest modulus of the roots of $\chi(z) = z^2 + bz + c$, ")
        return (lead + (text[len("with "):] if shared else text)
                + ("" if shared else QUADRATIC_NOTE + "\n"))
    return r"$\rate$ is the largest modulus of the roots of $\chi$"


def _rate(spec, dyn, shared: bool = False) -> str:
    sentence = _roots_sentence(dyn, shared)
    text = "\\paragraph{Rate.} " + sentence + ("" if sentence.endswith("\n") else ". ")
    example = spec.with_hparams(**spec.example_values())
    values = ", ".join(rf"{tex(h.symbol)} = {_number(float(example.values[h.name]))}"
                       for h in spec.hyperparameters if h.symbol in dyn.matrix.free_symbols)
    bound = example.row_sum_dynamics()
    modes = bound.excited_modes()
    text += f"At ${values}$, $\\rate = {bound.rate():.6g}$"
    if sp.expand(sp.sympify(modes.unexcited) - 1) != 0:
        text += (f"; a fresh optimizer state never excites the factor ${polynomial_tex(modes.unexcited, X)}$ of "
                 f"$\\chi$ (the buffer's row sum starts at $0$ and stays there), so a run shows the rate "
                 f"${modes.rate:.6g}$ of the remaining modes")
    return text + ".\n"


def _conditions(inequalities, certify) -> tuple:
    out = []
    for inequality in inequalities:
        result = condition_tex(inequality, certify)
        if result is False:
            return None
        if result is not True:
            out.append(result)
    return tuple(dict.fromkeys(out))


def _jury(dyn, radius):
    from nctheory.theorems.algebra import jury_form
    from nctheory.theory.symbolic.schur_cohn import schur_cohn_inequalities

    poly = dyn.charpoly(X)
    if sp.Poly(poly, X).degree() <= 2:
        return jury_form(poly, X, radius)[0]
    return schur_cohn_inequalities(poly, X, radius=radius)


def _conditions_text(conditions, empty: str) -> str:
    if conditions is None:
        return empty
    if not conditions:
        return "holds for every value of the hyperparameters in their ranges.\n"
    if len(conditions) == 1 or width(r",\ ".join(conditions)) <= INLINE_WIDTH:
        pieces = [f"${c}$" for c in conditions]  # one formula each, so the line may break between them
        joined = pieces[0] if len(pieces) == 1 else ", ".join(pieces[:-1]) + " and " + pieces[-1]
        return f"holds if and only if {joined}.\n"
    return "holds if and only if\n" + gather(conditions) + "\n"


def _stability(spec, dyn, shared: bool = False) -> str:
    from nctheory.theorems.algebra import certified_positive

    conditions = _conditions(_jury(dyn, 1), certified_positive)
    how = "" if shared else " (Schur--Cohn criterion in Jury's form)"
    return (f"\\paragraph{{Stability.}} $\\rate < 1${how} " + _conditions_text(conditions, "never holds.\n"))


def _acceleration(spec, dyn, shared: bool = False) -> str:
    from nctheory.theorems.algebra import OPEN_UNIT_A, certified_positive, in_terms_of_a
    from nctheory.theory.hyperparams import SYMBOLS

    def certify(f):
        try:
            return certified_positive(in_terms_of_a(f), OPEN_UNIT_A)
        except ValueError:
            return certified_positive(f)

    radius = 1 - SYMBOLS["lr"] * SYMBOLS["weight_decay"]
    conditions = _conditions(_jury(dyn, radius), certify)
    empty = ("never holds.\n" if shared else
             "never holds: no hyperparameters make the row sums decay faster than under plain gradient descent.\n")
    how = "" if shared else r" (Schur--Cohn applied to $\chi((1 - \lr\wdecay) y)$)"
    return (f"\\paragraph{{Acceleration.}} For $0 < \\lr\\wdecay < 1$, $\\rate < 1 - \\lr\\wdecay${how} "
            + _conditions_text(conditions, empty))


def _optimal_momentum(spec, dyn, labels) -> str:
    from nctheory.theorems.algebra import A_, with_a
    from nctheory.theorems.optimal_momentum import OPTIMAL_MOMENTUM

    theorem = OPTIMAL_MOMENTUM.get(spec.name)
    damping = " and $\\damp = 0$" if "dampening" in spec.hyperparameter_names else ""
    if theorem is not None:
        ref = rf" (Theorem~\ref{{thm:{theorem.name}}})" if labels and f"thm:{theorem.name}" in labels else ""
        extra = "".join(", $" + _plain_math(h) + "$" for h in theorem.hypotheses if "nu" in h.split())
        mu, rho = (tex(tidy(with_a(sp.sympify(e).xreplace({sp.sqrt(A_): _SQRT_ETA_LAMBDA}))),
                       {_SQRT_ETA_LAMBDA.name: r"\sqrt{\lr\wdecay}"})
                   for e in (theorem.claimed_momentum, theorem.claimed_rate))
        pair = rf"\mom^\star = {mu}, \qquad \rate^\star = {rho}"
        display = (rf"\[ {pair}, \]" if width(pair) <= LINE_WIDTH else
                   "\\begin{align*}\n" + rf"\mom^\star &= {mu}, \\" + "\n" + rf"\rate^\star &= {rho}," + "\n\\end{align*}")
        return (f"\\paragraph{{Optimal momentum.}} For $0 < \\lr\\wdecay < 1${damping}{extra}, the rate is smallest "
                f"exactly at{ref}\n{display}\nand $\\rate^\\star < 1 - \\lr\\wdecay$.\n")
    try:
        undamped = spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec
        best = undamped.optimal_momentum()
    except NCTheoryError:
        return ""
    where = tex(tidy(best.momentum))
    if not best.beats_sgd:
        return (f"\\paragraph{{Optimal momentum.}} The two roots of $\\chi$ meet at $\\mom = {where}$, where the "
                f"rate is ${tex(tidy(best.rate))}$; no momentum makes it smaller than $1 - \\lr\\wdecay$, the rate "
                f"without momentum.\n")
    return (f"\\paragraph{{Optimal momentum.}} For $0 < \\lr\\wdecay < 1${damping}, the discriminant of $\\chi$ "
            f"vanishes at\n\\[ \\mom^\\star = {where}, \\qquad \\rate^\\star = {tex(tidy(best.rate))}. \\]\n")


#: sqrt(eta lambda), kept whole on the page (sympy would split it into sqrt(eta) sqrt(lambda));
#: named like an ordinary quantity so that ``1 - sqrt(eta lambda)`` prints with the 1 first.
_SQRT_ETA_LAMBDA = sp.Symbol("q_sqrt_eta_lambda", positive=True)


def _plain_math(text: str) -> str:
    """``0 < nu <= 1`` -> ``0 < \\nu \\le 1`` (a hypothesis written in plain text)."""
    words = {"<=": r"\le", ">=": r"\ge", "!=": r"\neq"}
    return " ".join(words.get(w, tex(sp.Symbol(w)) if re.fullmatch(r"[A-Za-z_]+\d*", w) else w)
                    for w in text.split())


def linear_rows(spec, dyn, labels, shared: bool = False) -> str:
    """Recurrence, characteristic polynomial, rate, stability, acceleration and optimal momentum."""
    parts = [_recurrence(spec, dyn, shared), _charpoly(dyn), _rate(spec, dyn, shared), _stability(spec, dyn, shared),
             _acceleration(spec, dyn, shared)]
    if "momentum" in spec.hyperparameter_names:
        parts.append(_optimal_momentum(spec, dyn, labels))
    return "".join(parts)


from nctheory.render.appendix_statements import matrix_map_paragraph, nonlinear_rows  # noqa: E402


def optimizer_section(spec, labels=None, shared: bool = False) -> str:
    """The appendix section of one optimizer (LaTeX, labelled ``opt:<name>``).

    ``labels``: the theorem labels present in the document (``thm:...``); references are made
    only to those, so a document with a subset of the theorems has no undefined reference.
    ``shared``: the section is part of its family's (:mod:`nctheory.render.appendix_families`),
    which gives the facts table and the explanations common to the family once: a
    ``\\subsubsection`` without them. Otherwise a self-contained ``\\subsection``.
    """
    from nctheory.theory.spec import OptimizerSpec

    if not isinstance(spec, OptimizerSpec):
        raise NCTheoryError(f"optimizer_section: spec must be an OptimizerSpec (e.g. nctheory.get_spec(name)), "
                            f"got {type(spec).__name__}")
    spec = spec.without(*spec.hyperparameter_names)
    fam = spec.family
    labels = set(labels or ())
    level = "subsubsection" if shared else "subsection"
    parts = [f"\\{level}{{{_title(spec)}}}\\label{{opt:{spec.name}}}\n"]
    if not shared:
        parts.append(_facts(spec, fam))
    parts.append(_update_rule(spec, shared))
    if fam.is_linear:
        if fam.kind == MATRIX_KIND and not shared:
            parts.append(matrix_map_paragraph(spec, labels))
        parts.append(linear_rows(spec, spec.row_sum_dynamics(), labels, shared))
    else:
        parts.append(nonlinear_rows(spec, fam, labels))
    return run_in("".join(parts))


__all__ = ["JURY_NOTE", "LINE_WIDTH", "NOTATION", "QUADRATIC_NOTE", "RECURRENCE_NOTE", "linear_rows",
           "notation_section", "optimizer_section", "run_in", "width"]
