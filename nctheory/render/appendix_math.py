r"""Displayed mathematics for the optimizer appendix: update rules, polynomials, inequalities.

Everything is rendered from the sympy objects the package derives (the spec's own chain,
run on symbols; the row-sum matrices of Lemma 1; the Schur-Cohn/Jury conditions) and every
rewriting is an exact identity:

* :func:`update_rule` -- the chain's equations with the intermediate updates ``d_i``
  substituted into one another where the result still fits a line; a direction too wide
  for a line is kept under its own name, and one still too wide is written with named
  common subexpressions (``sympy.cse``), listed after "where". Nothing is elided.
* :func:`polynomial_tex` -- a characteristic polynomial in ``z``: as a product of its
  factors where it factors, else collected by powers of ``z`` with tidy coefficients.
* :func:`condition_tex` -- ``p > 0`` with the factors that are positive under the stated
  hypotheses removed (certified exactly by :func:`nctheory.theorems.algebra.certified_positive`),
  written as ``lhs < rhs`` where that is shorter.
* :func:`align_rows` -- an ``align*`` whose wide right-hand sides continue on the next line
  between terms (:data:`LINE_WIDTH` in units of :func:`~nctheory.theory.latex.width`).
"""

from __future__ import annotations

import sympy as sp

from nctheory.theory.latex import is_state, tex, tidy, update_equations, width

#: Units of :func:`nctheory.theory.latex.width` a display line may use (about 5.5pt each:
#: 64 x 5.5pt = 352pt, inside ICLR's 5.5in = 397.48pt text width, the appendix's layout).
LINE_WIDTH = 64
Z = sp.Symbol("z")
W_T, G_T = sp.Symbol("W_{t}"), sp.Symbol("G_{t}")


# ------------------------------------------------------------------------- update rule
def _first_step_symbol(name: str):
    """``d_{i}|_{t=0}`` (the machine's name for torch's first buffer value) -> ``d_{i}``."""
    return name.split("|")[0] if "|_{t=0}" in name else None


def update_rule(spec, line_width: float = LINE_WIDTH):
    """``(rows, abbreviations)``: the update rule on one weight entry as ``(lhs, rhs, note)``
    rows (sympy), and ``[(symbol, expression)]`` for the named subexpressions used."""
    equations = update_equations(spec)
    named: set = set()
    while True:
        rows, values = _inline(equations, named)
        too_wide = [r for r in rows if not str(r[0]).startswith("D") and width(tex(r[1])) + 6 > line_width]
        candidates = [d for d in values if d not in named and values[d] != G_T]
        if not too_wide or not candidates:
            break
        # keep the widest intermediate update under its own name and try again
        widest = max(candidates, key=lambda d: (width(tex(values[d])), d))
        if width(tex(values[widest])) < 8:
            break
        # the innermost of nearly as wide ones: the direction, not the direction times -eta
        widest = next(d for d in sorted(candidates) if width(tex(values[d])) >= 0.8 * width(tex(values[widest])))
        named.add(widest)
    abbreviations = []
    final = []
    for lhs, rhs, note in rows:
        if width(tex(lhs)) + width(tex(rhs)) + 3 > 1.2 * line_width:
            rhs, extra = _abbreviate(rhs, len(abbreviations))
            abbreviations += extra
        final.append((lhs, rhs, note))
    return final, abbreviations


def _inline(equations, named):
    """Substitute every intermediate ``d_i`` not in ``named``; named ones become ``D_t``."""
    values, rows, subs, names = {}, [], {}, {}
    for lhs, rhs in equations:
        rhs = rhs.subs(subs)
        first = {s: values[_first_step_symbol(s.name)].subs({W_T: sp.Symbol("W_{0}"), G_T: sp.Symbol("G_{0}")})
                 for s in rhs.free_symbols if _first_step_symbol(s.name) in values}
        rhs = rhs.subs(first)
        name = lhs.name
        if name == "d_{0}":
            subs[lhs] = G_T
            values[name] = G_T
            continue
        if name.startswith("d_{"):
            values[name] = rhs
            if name in named:
                label = sp.Symbol("D_{t}" if len(named) == 1 else f"D^{{({len(names) + 1})}}_{{t}}")
                names[name] = label
                rows.append((label, rhs, ""))
                subs[lhs] = label
            else:
                subs[lhs] = rhs
            continue
        note = "first step" if name.endswith("_{1}") else ""
        rows.append((lhs, rhs, note))
    return rows, values


def _abbreviate(expr, start: int):
    """``expr`` with its common subexpressions named ``\\kappa_i`` (exact: sympy.cse)."""
    symbols = (sp.Symbol(rf"\kappa_{{{i}}}") for i in range(start + 1, start + 50))
    replacements, (reduced,) = sp.cse(expr, symbols=symbols)
    keep, back = [], {}
    for symbol, value in replacements:
        value = value.subs(back)
        if width(tex(value)) <= 6:  # trivial (t + 1, beta_1 kappa_1): substitute back
            back[symbol] = value
        else:
            keep.append((symbol, value))
    reduced = reduced.subs(back)
    renamed = {old: sp.Symbol(rf"\kappa_{{{start + i + 1}}}") for i, (old, _) in enumerate(keep)}
    keep = [(renamed[s], v.subs(renamed)) for s, v in keep]
    return reduced.subs(renamed), keep


# ------------------------------------------------------------------------- polynomials
def polynomial_terms(expr, x) -> list:
    """The characteristic polynomial ``expr`` in ``x``, written in ``z``, as ``[(sign, tex)]``
    terms: one term per factor where it factors (a product), else one per power of ``z``."""
    poly_expr = sp.expand(sp.sympify(expr).subs(x, Z))
    factored = sp.factor(poly_expr)
    z_factors = [f for f in sp.Mul.make_args(factored) if f.has(Z)]
    constant = sp.Mul(*[f for f in sp.Mul.make_args(factored) if not f.has(Z)])
    if len(z_factors) > 1 or (len(z_factors) == 1 and z_factors[0].is_Pow):
        pieces = []
        for f in z_factors:
            base, exp = f.as_base_exp()
            piece = r"\left(" + " ".join(f"{sg} {t}".strip() for sg, t in _powers(base)) + r"\right)"
            pieces.append(piece if exp == 1 else f"{piece}^{{{tex(exp)}}}")
        lead = "" if constant == 1 else ("- " if constant == -1 else tex(constant) + " ")
        return [("", lead + " ".join(pieces))]
    return _powers(poly_expr)


def polynomial_tex(expr, x) -> str:
    """:func:`polynomial_terms` on one line."""
    return " ".join(f"{sign} {text}".strip() for sign, text in polynomial_terms(expr, x))


def _powers(expr) -> list:
    """``sum_k c_k z^k`` from the highest power, each coefficient tidy, as ``[(sign, tex)]``."""
    from nctheory.theory.latex import _mostly_negative

    poly = sp.Poly(sp.expand(expr), Z)
    out = []
    for k in range(poly.degree(), -1, -1):
        c = poly.coeff_monomial(Z ** k)
        if c == 0:
            continue
        c = tidy(c)
        monomial = "" if k == 0 else ("z" if k == 1 else f"z^{{{k}}}")
        negative = _mostly_negative(c) if c.is_Add else c.could_extract_minus_sign()
        body = sp.Add(*[-a for a in c.args]) if (negative and c.is_Add) else (-c if negative else c)
        if body == 1 and monomial:
            text = monomial
        else:
            text = tex(body)
            if body.is_Add and (monomial or negative):
                text = rf"\left({text}\right)"
            text = f"{text} {monomial}".strip()
        out.append(("-" if negative else ("+" if out else ""), text))
    return out


# ------------------------------------------------------------------------- inequalities
def condition_tex(expr, certify=None, rewrite=None):
    """LaTeX of ``expr > 0`` simplified under hypotheses, or True (holds under them) or
    False (never holds: identically 0 or certified negative).

    ``certify(f)`` says whether ``f > 0`` holds under the hypotheses (default: the symbols'
    sign assumptions); ``rewrite`` maps a factor to the variables ``certify`` reads (and
    ``rewrite.inverse`` back). A factor ``f^2`` needs only ``f != 0``.
    """
    from nctheory.theorems.algebra import certified_positive

    certify = certify or certified_positive
    expr = sp.factor(sp.sympify(expr))
    if expr == 0:
        return False
    coefficient, kept, nonzero = sp.Integer(1), [], []
    for factor in sp.Mul.make_args(expr):
        base, exp = factor.as_base_exp()
        if factor.is_Number:
            coefficient *= factor
        elif certify(base):
            continue
        elif certify(-base):
            coefficient *= (-1) ** exp
        elif exp.is_Integer and exp % 2 == 0:
            nonzero.append(base)
        else:
            kept.append(base if exp.is_Integer else factor)
    if certify(-expr) and not kept:
        return False
    if not kept:
        if coefficient < 0:
            return False
        return True if not nonzero else r",\ ".join(rf"{tex(tidy(f))} \neq 0" for f in nonzero)
    if coefficient < 0:
        kept[0] = -kept[0]
    product = sp.Mul(*kept)
    text = _relation(product) if len(kept) == 1 else rf"{tex(tidy(product))} > 0"
    return text + "".join(rf",\ {tex(tidy(f))} \neq 0" for f in nonzero)


def _relation(expr) -> str:
    """``expr > 0`` as the shortest of: ``v < bound`` / ``v > bound`` for a variable with
    coefficient +-1, the negative terms against the positive ones, or ``expr > 0``."""
    expr = sp.expand(expr)
    candidates = [rf"{tex(tidy(expr))} > 0"]
    for v in sorted(expr.free_symbols, key=str):  # the terms in one variable against the others
        if sp.degree(expr, v) == 1:
            term = expr.coeff(v, 1) * v
            rest = sp.expand(expr - term)
            candidates.append(rf"{tex(tidy(term))} > {tex(tidy(-rest))}")
            candidates.append(rf"{tex(tidy(-term))} < {tex(tidy(rest))}")
    from nctheory.theory.latex import _collect_eta_lambda

    constant, rest = expr.as_coeff_Add()
    if constant != 0 and rest != 0:
        candidates.append(rf"{tex(tidy(rest))} > {tex(-constant)}")
        candidates.append(rf"{tex(tidy(-rest))} < {tex(constant)}")
    grouped = _collect_eta_lambda(expr)
    terms = sp.Add.make_args(grouped) if grouped is not None else sp.Add.make_args(expr)
    negative = [t for t in terms if tidy(t).could_extract_minus_sign()]
    positive = [t for t in terms if t not in negative]
    if negative and positive:
        candidates.append(rf"{tex(tidy(-sp.Add(*negative)))} < {tex(tidy(sp.Add(*positive)))}")
    return min(candidates, key=lambda c: (width(c), c))


# ------------------------------------------------------------------------- displays
def _split_terms(text_terms, budget):
    """Greedy packing of ``[(sign, tex)]`` into lines of at most ``budget`` units."""
    lines, current = [], ""
    for sign, piece in text_terms:
        chunk = (f" {sign} " if current or sign == "-" else "") + piece
        if current and width(current + chunk) > budget:
            lines.append(current)
            chunk = f"{sign} {piece}"
            current = chunk
        else:
            current += chunk
    lines.append(current)
    return lines


def rhs_lines(rhs, budget: float) -> list:
    """``rhs`` (sympy) as one or more lines of LaTeX, broken between top-level terms (and
    inside one parenthesised sum when a single product is too wide)."""
    text = tex(rhs)
    if width(text) <= budget:
        return [text]
    if rhs.is_Add:
        printer_terms = []
        from nctheory.theory.latex import PaperPrinter

        ordered = sorted(rhs.args, key=PaperPrinter()._term_key)
        for term in ordered:
            negative = term.could_extract_minus_sign()
            body = -term if negative else term
            piece = tex(body)
            printer_terms.append(("-" if negative else "+", rf"\left({piece}\right)" if body.is_Add else piece))
        first_sign, first = printer_terms[0]
        printer_terms[0] = ("-" if first_sign == "-" else "", first)
        lines = _split_terms([(s, p) for s, p in printer_terms], budget)
        return [line.replace(" ", " ", 1) for line in lines]
    if rhs.is_Mul:
        negative = rhs.could_extract_minus_sign()
        body = -rhs if negative else rhs
        sums = [f for f in body.args if f.is_Add]
        if sums:
            inner = max(sums, key=lambda f: width(tex(f)))
            rest = sp.Mul(*[f for f in body.args if f is not inner])
            head = ("- " if negative else "") + ("" if rest == 1 else tex(rest) + " ")
            inner_lines = rhs_lines(inner, budget - 4)
            inner_lines[0] = head + r"\bigl(" + inner_lines[0]
            inner_lines[-1] += r"\bigr)"
            return inner_lines
    return [text]


def align_lines(rows, line_width: float = LINE_WIDTH) -> list:
    """The lines (LaTeX, without the final ``\\\\``) of an ``align*`` of ``(lhs_tex, relation, rhs, note)``
    rows; ``rhs`` sympy (broken between terms where too wide) or LaTeX."""
    out = []
    for lhs, relation, rhs, note in rows:
        budget = line_width - width(lhs) - 3 - (width(note) + 4 if note else 0)
        lines = rhs_lines(rhs, budget) if not isinstance(rhs, str) else [rhs]
        first = f"  {lhs} &{relation} {lines[0]}" + (rf" && \text{{({note})}}" if note else "")
        out.append(first)
        out.extend(rf"  &\qquad {line}" for line in lines[1:])
    return out


def align_rows(rows, line_width: float = LINE_WIDTH) -> str:
    """An ``align*`` of ``(lhs_tex, relation, rhs, note)`` rows; ``rhs`` sympy or LaTeX."""
    return "\\begin{align*}\n" + " \\\\\n".join(align_lines(rows, line_width)) + "\n\\end{align*}"


def gather(items, line_width: float = LINE_WIDTH, separator: str = r",\qquad ") -> str:
    """Displayed items (LaTeX) separated by ``separator``, as many per line as fit."""
    lines = [""]
    for item in items:
        candidate = lines[-1] + (separator if lines[-1] else "") + item
        if lines[-1] and width(candidate) > line_width:
            lines[-1] += ","
            lines.append(item)
        else:
            lines[-1] = candidate
    if len(lines) == 1:
        return rf"\[ {lines[0]}. \]"
    return "\\begin{gather*}\n" + " \\\\\n".join(lines) + ".\n\\end{gather*}"


def state_symbols(dyn):
    """Display symbols of the row-sum state: ``s`` and ``s^{u}`` for the buffer ``u``, at t and t+1."""
    def at(name, when):
        return rf"\rowsum_{{{when}}}" if name == "s" else rf"\rowsum^{{{name}}}_{{{when}}}"

    return [at(str(s), "t") for s in dyn.state], [at(str(s), "t+1") for s in dyn.state]


__all__ = ["LINE_WIDTH", "Z", "align_lines", "align_rows", "condition_tex", "gather", "is_state", "polynomial_terms",
           "polynomial_tex", "rhs_lines",
           "state_symbols", "update_rule"]
