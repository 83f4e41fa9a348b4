"""LaTeX of an optimizer spec, derived from the spec itself.

Each transformation of the chain is run once on sympy symbols -- the incoming update
``d_i``, the weights ``W_t`` and its buffers at step t -- so the rendered equations are
the very code that trains, in the order it runs. Coupled and decoupled decay then read
differently on the page because they *are* different chains. For linear specs the
row-sum recurrence (Lemma 1), its characteristic polynomial and, when every
hyperparameter is set, its rate follow.
"""

from __future__ import annotations

import functools
import re

import sympy as sp

from nctheory.theory import ops
from nctheory.errors import NCTheoryError

T = sp.Symbol("t", integer=True, nonnegative=True)


def _at(letter: str, when: str) -> sp.Symbol:
    return sp.Symbol(f"{letter}_{{{when}}}")


def update_equations(spec) -> list:
    """The chain as equations ``(lhs, rhs)`` on one weight entry, in execution order.

    ``d_0 = G_t`` is the gradient; ``d_i`` the update after the i-th transformation; the
    last line is ``W_{t+1} = W_t + d_n``. Buffers created lazily by torch (``None``
    initially) get an extra line for their first value.
    """
    hp = spec.hp()
    weights = _at("W", "t")
    current = _at("d", "0")
    equations = [(current, _at("G", "t"))]
    for index, transform in enumerate(spec.chain):
        state = transform.init(weights, ops.SYMBOLIC)
        symbolic_state = {}
        for name, value in state.items():
            if name == "step":
                symbolic_state[name] = T
            else:
                symbolic_state[name] = _at(transform.letter(name), "t")
        out, new_state = transform.update(current, weights, symbolic_state, hp, ops.SYMBOLIC)
        replacements = {}
        for name in transform.buffers:
            new_symbol = _at(transform.letter(name), "t+1")
            equations.append((new_symbol, new_state[name]))
            replacements[new_state[name]] = new_symbol
            if state.get(name, 0) is None:  # created at the first step (torch's rule)
                first_value = transform.update(current, weights, state, hp, ops.SYMBOLIC)[1][name]
                equations.append((_at(transform.letter(name), "1"),
                                  first_value.subs(current, sp.Symbol(f"d_{{{index}}}|_{{t=0}}"))))
        out = out.subs(replacements)
        nxt = _at("d", str(index + 1))
        equations.append((nxt, out))
        current = nxt
    equations.append((_at("W", "t+1"), weights + current))
    return equations


def _tex(expr) -> str:
    return sp.latex(expr)


_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\textasciicircum{}",
                 "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "~": r"\textasciitilde{}",
                 "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
_TEXT_PATTERN = re.compile("|".join(re.escape(k) for k in _TEXT_ESCAPES))


def escape_text(text: str) -> str:
    """Plain text made safe for LaTeX text mode."""
    return _TEXT_PATTERN.sub(lambda m: _TEXT_ESCAPES[m.group(0)], str(text))


def spec_latex(spec) -> str:
    """A self-contained LaTeX fragment (amsmath) describing ``spec``."""
    lines = [rf"\paragraph{{\texttt{{{escape_text(spec.name)}}}}} {escape_text(spec.summary)}"
             rf" ({escape_text(spec.reference)})."]
    if spec.values:
        values = ", ".join(rf"{_tex(h.symbol)} = {_tex(spec.values[h.name])}"
                           for h in spec.hyperparameters if h.name in spec.values)
        lines.append(rf"Hyperparameters: ${values}$.")
    lines.append(r"\begin{align*}")
    lines.append(" \\\\\n".join(rf"  {_tex(lhs)} &= {_tex(rhs)}" for lhs, rhs in update_equations(spec)))
    lines.append(r"\end{align*}")
    if spec.is_linear:
        dyn = spec.row_sum_dynamics()
        state = sp.Matrix([sp.Symbol(f"{s}_{{t}}") for s in dyn.state])
        nxt = sp.Matrix([sp.Symbol(f"{s}_{{t+1}}") for s in dyn.state])
        lines.append(r"By Lemma 1 ($\mathbf 1_K^\top G_t = 0$) the row sums $s = W^\top \mathbf 1_K$ and"
                     r" the buffers' row sums follow, for every shift-invariant loss and every data set,")
        lines.append(rf"\[ {_tex(nxt)} = {_tex(dyn.matrix)} {_tex(state)}, \qquad"
                     rf" \chi(x) = {_tex(sp.factor(dyn.charpoly()))}. \]")
        if dyn.first_matrix != dyn.matrix:
            lines.append(rf"The first step from a fresh state uses ${_tex(dyn.first_matrix)}$.")
        try:
            lines.append(rf"Rate (spectral radius): $\rho = {spec.rate():.10g}$.")
        except NCTheoryError:
            pass
    else:
        lines.append(r"No linear row-sum recurrence exists (the update is nonlinear in the gradient).")
        for statement in spec.nonlinear_theory():
            lines.append(rf"\emph{{{statement.name.replace('_', ' ')}}} ({statement.status}): ${statement.latex}$.")
    return "\n".join(lines) + "\n"


# ============================================================================ paper notation
# The appendix's printer: the shared notation macros (\lr, \wdecay, \mom, \damp, \rowsum), the
# coefficients before the quantities they multiply, and displays that fit a page. Every
# rewriting below is an exact identity (collecting, factoring, abbreviating by a named
# subexpression): what is printed equals the object it comes from.

from sympy.printing.latex import LatexPrinter  # noqa: E402

#: Hyperparameter symbol names, in the order a product lists them (the shared notation first).
NOTATION_ORDER = ("eta", "lambda", "mu", "tau", "nu", "beta_1", "beta_2", "alpha", "epsilon", "psi", "kappa")
#: sympy symbol name -> LaTeX: the shared macros where there is one.
MACRO_NAMES = {"eta": r"\lr", "lambda": r"\wdecay", "mu": r"\mom", "tau": r"\damp", "rho": r"\rate",
               "epsilon": r"\varepsilon", "s": r"\rowsum", "a_NS": r"a_{\mathrm{NS}}", "b_NS": r"b_{\mathrm{NS}}",
               "c_NS": r"c_{\mathrm{NS}}", "k_NS": r"k_{\mathrm{NS}}", "epsilon_L": r"\varepsilon_{L}",
               "f_Q": r"f_{Q}"}


def is_state(symbol) -> bool:
    """Quantities that evolve (``W_{t}``, ``u_{t+1}``, row sums) as opposed to hyperparameters."""
    return isinstance(symbol, sp.Symbol) and ("{" in symbol.name or symbol.name in ("s", "z", "t"))


def _state_rank(symbol) -> int:
    name = symbol.name
    if name.startswith("W_"):
        return 2
    if name.startswith("G_"):
        return 3
    if name.startswith("\\kappa"):  # named coefficients (update_rule's abbreviations) first
        return 0
    if name.startswith(("d_", "D_", "D^")):
        return 5
    if "t+1" in name:
        return 4
    return 1  # buffers at step t, row sums


class PaperPrinter(LatexPrinter):
    """``sympy.latex`` in the appendix's notation: macros for the shared symbols, numbers and
    hyperparameters before the quantities they multiply, a bare quantity first in a sum
    (``W_t - \\lr (G_t + \\wdecay W_t)``, ``1 - \\lr\\wdecay``)."""

    def __init__(self, names=None):
        super().__init__({"order": "none"})
        self.names = {**MACRO_NAMES, **(names or {})}

    def _print_Symbol(self, expr, style="plain"):
        if expr.name in self.names:
            return self.names[expr.name]
        if expr.name.startswith("\\"):  # already LaTeX (a named abbreviation)
            return expr.name
        return super()._print_Symbol(expr, style=style)

    def _factor_key(self, factor):
        states = [s for s in factor.free_symbols if is_state(s)]
        if factor.is_Number:
            return (0, 0, "")
        if not states:
            base = factor.base if factor.is_Pow else factor
            if isinstance(base, sp.Symbol):
                order = NOTATION_ORDER.index(base.name) if base.name in NOTATION_ORDER else len(NOTATION_ORDER)
                return (1, order, base.name)
            return (2, 0, sp.default_sort_key(factor).__str__())
        return (3, min(_state_rank(s) for s in states), str(factor))

    def _term_key(self, term):
        body = -term if term.could_extract_minus_sign() else term
        states = [s for s in term.free_symbols if is_state(s)]
        if isinstance(body, sp.Symbol) and is_state(body):
            return (0, _state_rank(body), 0, body.name)
        if term.is_Number:
            return (1, 0, 0, "")
        rank = min((_state_rank(s) for s in states), default=0)
        degree = sum(int(e) if e.is_Integer else 9 for b, e in body.as_powers_dict().items() if b.free_symbols)
        first = min((NOTATION_ORDER.index(s.name) for s in body.free_symbols if s.name in NOTATION_ORDER),
                    default=len(NOTATION_ORDER))
        return (2, rank, degree, f"{first:02d}{body}")

    def _print_Add(self, expr, order=None):
        terms = sorted(expr.args, key=self._term_key)
        out = ""
        for i, term in enumerate(terms):
            if term.could_extract_minus_sign():
                out += " - " if i else "- "
                term = -term
            elif i:
                out += " + "
            piece = self._print(term)
            out += rf"\left({piece}\right)" if term.is_Add else piece
        return out

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign():
            inner = -expr
            piece = self._print(inner)
            return "- " + (rf"\left({piece}\right)" if inner.is_Add else piece)
        numer, denom = sp.fraction(expr, exact=True)
        if denom != 1:
            return rf"\frac{{{self._print(numer)}}}{{{self._print(denom)}}}"
        parts, previous_number = [], False
        for factor in sorted(expr.args, key=self._factor_key):
            piece = self._print(factor)
            if factor.is_Add:
                piece = rf"\left({piece}\right)"
            if parts and (factor.is_Number or (previous_number and piece[:1].isdigit())):
                parts.append(r"\cdot")
            parts.append(piece)
            previous_number = factor.is_Number
        return " ".join(parts)

    def _print_Function(self, expr, exp=None):
        name = type(expr).__name__
        if not hasattr(sp, name) or name in ("sign",):
            args = ", ".join(self._print(a) for a in expr.args)
            out = rf"\operatorname{{{name}}}\left({args}\right)"
            return out if exp is None else rf"{out}^{{{exp}}}"
        return super()._print_Function(expr, exp)


def tex(expr, names: dict | None = None) -> str:
    """``expr`` in the appendix's notation (:class:`PaperPrinter`)."""
    return PaperPrinter(names).doprint(sp.sympify(expr))


# ---------------------------------------------------------------------------- tidy forms
ETA_LAMBDA = sp.Symbol("a_etalambda", positive=True)  # a = eta lambda while collecting


def _eta_lambda():
    from nctheory.theory.hyperparams import SYMBOLS

    return SYMBOLS["lr"], SYMBOLS["weight_decay"]


def _mostly_negative(add) -> bool:
    """More negative terms than positive ones, or as many and a negative constant term."""
    negative = sum(a.could_extract_minus_sign() for a in add.args)
    constant = add.as_coeff_Add()[0]
    return negative * 2 > len(add.args) or (negative * 2 == len(add.args) and constant < 0)


def _normalise_sign(expr):
    """``c (mu tau - mu - 1)`` -> ``-c (1 + mu - mu tau)``: an Add factor whose terms are mostly
    negative is negated (exactly; the Mul keeps the sign)."""
    if expr.is_Add:
        return sp.Add(*[_normalise_sign(a) for a in expr.args])
    if expr.is_Pow and expr.base.is_Add and expr.exp.is_Integer and expr.exp % 2 == 0 and _mostly_negative(expr.base):
        return sp.Pow(sp.Add(*[-a for a in expr.base.args]), expr.exp)  # (-x)^(2k) = x^(2k)
    if not expr.is_Mul:
        return expr
    coefficient, factors = sp.Integer(1), []
    for factor in expr.args:
        factor = _normalise_sign(factor) if (factor.is_Mul or factor.is_Pow) else factor
        if factor.is_Number:
            coefficient *= factor
            continue
        if factor.is_Add and _mostly_negative(factor):
            coefficient, factor = -coefficient, sp.Add(*[-a for a in factor.args])
        factors.append(factor)
    if coefficient != 1:
        factors.insert(0, coefficient)
    return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)


def _collect_eta_lambda(expr):
    """``expr`` collected in powers of ``eta lambda`` (coefficients factored), or None where it
    depends on eta and lambda otherwise than through their product."""
    eta, lam = _eta_lambda()
    if not expr.has(eta, lam):
        return None
    in_a = sp.expand(sp.sympify(expr).subs(lam, ETA_LAMBDA / eta))
    if in_a.has(eta) or not in_a.is_polynomial(ETA_LAMBDA):
        return None
    parts = sp.collect(in_a, ETA_LAMBDA, evaluate=False)
    terms = [sp.factor(c) * (eta * lam) ** sp.degree(k, ETA_LAMBDA) if k != 1 else sp.factor(c)
             for k, c in parts.items()]
    return sp.Add(*terms, evaluate=False)


def tidy(expr):
    """:func:`tidy_expression`, memoised (sympy expressions are immutable and hashable)."""
    expr = sp.sympify(expr)
    if expr.is_Matrix:
        return expr.applyfunc(tidy)
    return _tidy_cached(expr)


@functools.lru_cache(maxsize=4096)
def _tidy_cached(expr):
    return tidy_expression(expr)


def tidy_expression(expr):
    """The most readable of a few exact rewritings of ``expr``: as given, factored, and (for
    expressions in ``eta lambda``) collected in powers of ``eta lambda``; signs normalised."""
    expr = sp.sympify(expr)
    if expr.is_Matrix:
        return expr.applyfunc(tidy)
    if expr.is_number or isinstance(expr, sp.Symbol):
        return expr
    candidates = [expr, sp.factor(expr)]
    collected = _collect_eta_lambda(expr)
    if collected is not None:
        candidates.append(collected)
        if sp.factor(expr).is_Mul:  # collect each factor
            candidates.append(sp.Mul(*[_collect_eta_lambda(f) or f for f in sp.factor(expr).args], evaluate=False))
    candidates = [_normalise_sign(c) for c in candidates]
    return min(candidates, key=lambda c: (width(tex(c)), len(tex(c))))


# ---------------------------------------------------------------------------- widths
_GROUP = re.compile(r"\\(frac|sqrt|operatorname|text|mathrm|mathbf|left|right|bigl|bigr|Bigl|Bigr)")


def _group(text: str, i: int):
    """The braced group (or single token) starting at ``text[i]``: (content, next index)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return "", i
    if text[i] != "{":
        if text[i] == "\\":
            m = re.match(r"\\[A-Za-z]+|\\.", text[i:])
            return m.group(0), i + len(m.group(0))
        return text[i], i + 1
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j], j + 1
    return text[i + 1:], len(text)


def width(text: str) -> float:
    """Estimated width of a line of 10pt display math, in units of about 5.5pt (a letter).

    Fractions count their wider part, sub- and superscripts 0.7, binary relations and
    operators their spacing; ``\\\\`` starts a new line (the widest line counts)."""
    lines, current, i = [], 0.0, 0
    while i < len(text):
        c = text[i]
        if text.startswith(r"\\", i):
            lines.append(current)
            current, i = 0.0, i + 2
        elif c == "\\":
            m = re.match(r"\\[A-Za-z]+|\\.", text[i:])
            name, i = m.group(0), i + len(m.group(0))
            if name == r"\frac":
                top, i = _group(text, i)
                bottom, i = _group(text, i)
                current += max(width(top), width(bottom)) + 0.6
            elif name == r"\sqrt":
                inner, i = _group(text, i)
                current += width(inner) + 1.2
            elif name in (r"\operatorname", r"\text", r"\mathrm", r"\mathbf", r"\mathbb"):
                inner, i = _group(text, i)
                current += len(re.sub(r"\\[A-Za-z]+|[{}]", "x", inner)) * 0.9
            elif name in (r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr"):
                _, i = _group(text, i)
                current += 0.7
            elif name in (r"\quad",):
                current += 1.8
            elif name in (r"\qquad",):
                current += 3.6
            elif name in (r"\,", r"\;", r"\!", r"\ "):
                current += 0.3
            elif name in (r"\le", r"\ge", r"\leq", r"\geq", r"\neq", r"\to", r"\cdot", r"\in", r"\mapsto"):
                current += 2.0
            elif name in (r"\begin", r"\end", r"\label"):
                _, i = _group(text, i)
            else:
                current += 1.0
        elif c in "^_":
            inner, i = _group(text, i + 1)
            current += 0.7 * width(inner)
        elif c in "{}& ":
            i += 1
        elif c in "=<>":
            current, i = current + 2.2, i + 1
        elif c in "+-":
            current, i = current + 1.8, i + 1
        elif c in ",;.()|[]":
            current, i = current + 0.6, i + 1
        else:
            current, i = current + 1.0, i + 1
    lines.append(current)
    return max(lines)
