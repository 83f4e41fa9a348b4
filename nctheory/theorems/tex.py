r"""Turning the sympy objects of a proof into displayed mathematics a reader accepts.

The theorems' proofs (:meth:`~nctheory.theorems.base.Theorem.prove`) carry sympy objects;
the appendix shows those very objects, so what is printed is what was verified. This
module holds the shared pieces:

* :func:`tex` -- ``sympy.latex`` in the appendix's notation: the hyperparameter symbols are
  written with the shared macros (``\lr`` for the step size eta, ``\wdecay`` for the weight decay
  lambda, ``\mom`` for the momentum mu, ``\damp`` for the dampening tau), matrices as
  ``pmatrix``, transposes as ``^\top``;
* :func:`nicest` -- the shortest of a few exact rewritings (as is, factored, cancelled,
  simplified): every candidate is equal to the object, so the display stays exact;
* :func:`equation` / :func:`chain` -- a display that fits the text width: a relation on one
  line when it fits, otherwise the right-hand side is broken between its terms across
  lines (``align*``), a wide matrix is written entry by entry. Nothing is elided;
* :func:`find_defects` -- what a reviewer objects to in the extracted text of a compiled
  page (ASCII mathematics, elisions, tautologies, Python dictionaries, internal names).

Widths are estimated in printed characters of 10pt math (about 5.5pt each); a line holds
:data:`LINE_CHARS` of them, which leaves a margin on ICLR's 5.5in (397.48pt) text width, the
layout the appendix is compiled in (:mod:`nctheory.theorems.tex_compile`, the wrapper).
"""

from __future__ import annotations

import re

import sympy as sp

#: The shared notation macros, one per quantity (the appendix writes them into nctheory-macros.tex).
NOTATION_MACROS = r"""\providecommand{\NCzero}{\mathrm{NC}_0}
\providecommand{\rowsum}{s}
\providecommand{\ones}{\mathbf{1}}
\providecommand{\lr}{\eta}
\providecommand{\wdecay}{\lambda}
\providecommand{\mom}{\mu}
\providecommand{\damp}{\tau}
\providecommand{\rate}{\rho}
\providecommand{\R}{\mathbb{R}}
\providecommand{\K}{K}"""
#: The notation and its norm, for a document of its own.
MACROS = NOTATION_MACROS + r"""
\DeclarePairedDelimiter{\norm}{\lVert}{\rVert}"""

#: sympy symbol name -> LaTeX (macros of the shared notation where there is one).
NAMES = {"eta": r"\lr", "lambda": r"\wdecay", "mu": r"\mom", "tau": r"\damp", "nu": r"\nu",
         "rho": r"\rate", "epsilon": r"\varepsilon", "eps": r"\varepsilon", "Omega": r"\Omega",
         "X^T": r"X^{\top}", "Q^T": r"Q^{\top}", "X_0^T": r"X_0^{\top}", "e^T": r"e^{\top}",
         "w^T": r"w^{\top}", "s_t": r"s_t", "W_0": r"W_0", "epsilon_A": r"\varepsilon",
         "G_theta": r"G_{\theta}", "G_1-theta": r"G_{1-\theta}", "G_eta": r"G_{\lr}", "G_q": r"G_q",
         "G_p": r"G_p", "s_0": r"s_0"}

#: Printed characters per display line (see the module docstring).
LINE_CHARS = 62


def _names(obj, extra: dict | None) -> dict:
    free = obj.free_symbols if hasattr(obj, "free_symbols") else set()
    names = {}
    for symbol in free:
        name = getattr(symbol, "name", None)
        if name is None:
            continue
        if name in NAMES:
            names[symbol] = NAMES[name]
        elif re.fullmatch(r"[A-Za-z]_\d\d", name):  # W_12: an entry (row 1, column 2)
            names[symbol] = f"{name[0]}_{{{name[2]}{name[3]}}}"
    for key, value in (extra or {}).items():
        for symbol in free:
            if symbol == key or getattr(symbol, "name", None) == key:
                names[symbol] = value
    return names


def tex(obj, names: dict | None = None) -> str:
    """``sympy.latex`` of ``obj`` in the shared notation (``names`` adds symbol -> LaTeX)."""
    if isinstance(obj, bool):
        return r"\text{true}" if obj else r"\text{false}"
    if isinstance(obj, (int, float)):
        obj = sp.sympify(obj)
    if isinstance(obj, (tuple, list)):
        return r",\ ".join(tex(o, names) for o in obj)
    text = sp.latex(obj, symbol_names=_names(obj, names), mat_str="pmatrix", mat_delim="",
                    mul_symbol=None, order="rev-lex")
    text = text.replace(r"\mathbb{1}", r"\ones").replace(r"^{T}", r"^{\top}")
    # rev-lex puts constants first ("1 - a"), which reads well except for "-1 + t": write "t - 1"
    text = re.sub(r"(^|[{(\[])-1 \+ ([^{}()\[\]\\]*?)(?=[})\]]|$)", r"\1\2 - 1", text)
    return re.sub(r"\\operatorname\{Max\}", r"\\max", text)


def nicest(obj, ways=("factor", "cancel")):
    """The narrowest printed form (:func:`width`) among exact rewritings of ``obj``
    (entrywise for matrices); on a tie the earlier way wins (factored forms first)."""
    if isinstance(obj, sp.MatrixBase):
        return obj.applyfunc(lambda e: nicest(e, ways))
    if not isinstance(obj, sp.Basic) or obj.is_Number:
        return obj
    rewrite = {"factor": sp.factor, "cancel": lambda e: sp.cancel(sp.together(e)), "simplify": sp.simplify,
               "expand": sp.expand, "radsimp": sp.radsimp}
    best, best_width = obj, width(tex(obj))
    for way in ways:
        try:
            candidate = rewrite[way](obj)
        except (TypeError, ValueError, NotImplementedError, AttributeError, sp.PolynomialError):
            continue
        if width(tex(candidate)) < best_width:
            best, best_width = candidate, width(tex(candidate))
    return best


def polynomial(expr, variable, names: dict | None = None) -> str:
    """A polynomial in ``variable`` by descending powers, each coefficient in its narrowest
    exact form (:func:`nicest`): ``z^2 - (1 + mu - a) z + mu`` rather than sympy's order."""
    poly = sp.Poly(sp.expand(expr), variable)
    out = ""
    for (power,), coefficient in sorted(poly.terms(), reverse=True):
        coefficient = nicest(coefficient)
        negative = coefficient.could_extract_minus_sign() and not isinstance(coefficient, sp.Add)
        magnitude = -coefficient if negative else coefficient
        monomial = "" if power == 0 else tex(variable ** power, names)
        if monomial and magnitude == 1:
            body = monomial
        elif monomial:
            body = tex(magnitude, names)
            if isinstance(magnitude, sp.Add):
                body = rf"\left({body}\right)"
            body += " " + monomial
        else:
            body = tex(magnitude, names)
            if isinstance(magnitude, sp.Add) and out:
                body = rf"\left({body}\right)"
        out += (" - " if negative else (" + " if out else "")) + body
    return out.strip() if not out.startswith(" - ") else "-" + out[3:]


# ---------------------------------------------------------------------- width estimate
def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group starting at ``text[start] == '{'``: (contents, index after it)."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:index], index + 1
    return text[start + 1:], len(text)


def width(latex: str) -> float:
    """Estimated printed width of inline LaTeX math, in characters (see module docstring)."""
    total, i = 0.0, 0
    while i < len(latex):
        char = latex[i]
        if latex.startswith(r"\frac", i) or latex.startswith(r"\tfrac", i):
            i = latex.index("{", i)
            top, i = _group(latex, i)
            bottom, i = _group(latex, i) if i < len(latex) and latex[i] == "{" else ("", i)
            total += max(width(top), width(bottom)) + 0.5
        elif latex.startswith(r"\begin{pmatrix}", i):
            end = latex.find(r"\end{pmatrix}", i)
            body = latex[i + len(r"\begin{pmatrix}"):end]
            rows = [row.split("&") for row in body.split(r"\\")]
            columns = max(len(row) for row in rows)
            total += sum(max(width(row[c]) if c < len(row) else 0 for row in rows) for c in range(columns))
            total += 2 * columns
            i = end + len(r"\end{pmatrix}")
        elif char == "\\":
            match = re.match(r"\\([A-Za-z]+|.?)", latex[i:])
            word = match.group(1)
            i += len(match.group(0))
            if word in ("left", "right", "mathrm", "operatorname", "text", "mathbf", "quad", "qquad", "limits"):
                total += {"quad": 2, "qquad": 4}.get(word, 0)
            elif word in ("sum", "prod", "log", "exp", "sqrt", "max", "min", "det", "sin", "cos", "nabla"):
                total += {"log": 2.5, "exp": 2.5, "max": 2.5, "min": 2.5, "det": 2.5, "sqrt": 1.2}.get(word, 1.5)
            elif word in (",", ";", ":", "!", " "):
                total += 0.3
            else:
                total += 1
        elif char in "^_":
            i += 1
            if i < len(latex) and latex[i] == "{":
                inner, i = _group(latex, i)
            elif i < len(latex) and latex[i] == "\\":
                command = re.match(r"\\([A-Za-z]+|.?)", latex[i:]).group(0)
                inner, i = command, i + len(command)
            else:
                inner, i = latex[i:i + 1], i + 1
            total += 0.7 * width(inner)
        elif char in "{} ":
            i += 1
        elif char in "=+-<>":
            total += 1.8
            i += 1
        else:
            total += 1
            i += 1
    return total


# ---------------------------------------------------------------------- displays
def _terms(expr, names: dict | None = None) -> list[str]:
    """The signed terms of a sum, as LaTeX (``+ t`` / ``- t``), in sympy's print order."""
    if not isinstance(expr, sp.Add):
        return [tex(expr, names)]
    pieces = []
    for term in expr.as_ordered_terms(order="rev-lex"):
        negative = term.could_extract_minus_sign()
        pieces.append(("- " if negative else "+ ") + tex(-term if negative else term, names))
    return pieces


def _factors(expr, names: dict | None) -> list[str]:
    r"""The factors of a product, as LaTeX, the later ones led by ``\cdot``."""
    numerator, denominator = sp.fraction(expr)
    factors = [rf"\left({tex(f, names)}\right)" if isinstance(f, sp.Add) else tex(f, names)
               for f in sp.Mul.make_args(numerator)]
    if denominator != 1:
        factors.append(r"\frac{1}{" + tex(denominator, names) + "}")
    return [factors[0]] + [r"\cdot " + f for f in factors[1:]]


def _broken(expr, first: float, names: dict | None) -> list[str]:
    """The right-hand side ``expr`` across lines: the first holds ``first`` characters;
    a sum is broken between its terms, a product between its factors."""
    if isinstance(expr, sp.Mul) and width(tex(expr, names)) > first:
        pieces = _factors(expr, names)
    else:
        pieces = _terms(expr, names)
    lines, current, room = [], "", first
    for piece in pieces:
        if current and width(current + piece) > room:
            lines.append(current)
            current, room = "", LINE_CHARS - 4
        current += (" " if current else "") + piece
    lines.append(current)
    if lines[0].startswith("+ "):
        lines[0] = lines[0][2:]
    return lines


def equation(lhs, rhs, relation: str = "=", names: dict | None = None, lhs_tex: str | None = None,
             tail: str = "") -> str:
    """A displayed relation ``lhs relation rhs`` that fits the line (see module docstring).

    ``lhs``/``rhs`` are sympy objects (or LaTeX strings, used as they are); a wide sum on
    the right is broken between its terms, a wide matrix written entry by entry. ``tail``
    (LaTeX, e.g. ``" = 0"`` or ``","``) ends the display.
    """
    left = lhs_tex if lhs_tex is not None else (lhs if isinstance(lhs, str) else tex(lhs, names))
    if isinstance(rhs, str):
        return rf"\[ {left} {relation} {rhs}{tail} \]"
    right = tex(rhs, names)
    if width(left) + width(right) + width(tail) + 2 <= LINE_CHARS:
        return rf"\[ {left} {relation} {right}{tail} \]"
    return _with_tail(_wide(left, rhs, relation, names, None if isinstance(lhs, str) else lhs), tail)


def _with_tail(display: str, tail: str) -> str:
    end = "\n\\end{align*}"
    return display[:-len(end)] + tail + end if tail and display.endswith(end) else display


def _wide(left: str, rhs, relation: str, names: dict | None, lhs=None) -> str:
    """``left relation rhs`` across lines: a wide left side (a sympy sum ``lhs``) broken
    between its terms, a wide matrix entry by entry, a wide right side between its terms."""
    right = tex(rhs, names)
    if lhs is not None and isinstance(lhs, (sp.Add, sp.Mul)) and width(left) > LINE_CHARS / 2 \
            and not isinstance(rhs, sp.MatrixBase) and width(right) >= LINE_CHARS / 2:
        left_lines = _broken(lhs, LINE_CHARS - 2, names)
        right_lines = _broken(rhs, LINE_CHARS - 8, names)
        body = [rf"& {left_lines[0]}"] + [rf"\\ & \quad {line}" for line in left_lines[1:]]
        body += [rf"\\ & \quad {relation} {right_lines[0]}"] + [rf"\\ & \qquad {line}" for line in right_lines[1:]]
        return "\\begin{align*}\n" + "\n".join(body) + "\n\\end{align*}"
    if lhs is not None and width(left) + width(right) + 2 > LINE_CHARS and width(right) < LINE_CHARS / 2 \
            and isinstance(lhs, (sp.Add, sp.Mul)):
        lines = _broken(lhs, LINE_CHARS - 2, names)
        body = [rf"& {lines[0]}"] + [rf"\\ & \quad {line}" for line in lines[1:]]
        if width(lines[-1]) + width(right) + 6 <= LINE_CHARS:
            body[-1] += rf" {relation} {right}"
        else:
            body.append(rf"\\ & \quad {relation} {right}")
        return "\\begin{align*}\n" + "\n".join(body) + "\n\\end{align*}"
    if isinstance(rhs, sp.MatrixBase):
        return entrywise(left, rhs, relation, names)
    first = LINE_CHARS - width(left) - 2
    if first < LINE_CHARS / 3:  # a long left side: the right side starts on its own line
        lines = _broken(rhs, LINE_CHARS - 6, names)
        body = [rf"& {left} \\", rf"& \quad {relation} {lines[0]}"] + [rf"\\ & \qquad {line}" for line in lines[1:]]
        return "\\begin{align*}\n" + "\n".join(body) + "\n\\end{align*}"
    lines = _broken(rhs, first, names)
    body = [rf"{left} & {relation} {lines[0]}"] + [rf"\\ & \quad {line}" for line in lines[1:]]
    return "\\begin{align*}\n" + "\n".join(body) + "\n\\end{align*}"


def entrywise(left: str, matrix: sp.MatrixBase, relation: str = "=", names: dict | None = None) -> str:
    """A matrix too wide for one line: ``left = (m_ij)`` with its entries listed, each
    broken across lines if need be."""
    lines = [rf"& {left} {relation} (m_{{ij}})_{{i \le {matrix.rows},\, j \le {matrix.cols}}},"]
    for i in range(matrix.rows):
        for j in range(matrix.cols):
            pieces = _broken(matrix[i, j], LINE_CHARS - 12, names)
            lines.append(rf"\\ & \quad m_{{{i + 1}{j + 1}}} = {pieces[0]}")
            lines += [rf"\\ & \qquad {piece}" for piece in pieces[1:]]
    return "\\begin{align*}\n" + "\n".join(lines) + "\n\\end{align*}"


def pairs(rows: list, names: dict | None = None) -> str:
    """Short relations ``[(lhs, relation, rhs), ...]`` two to a line when they fit (else :func:`chain`)."""
    rendered = [(lhs if isinstance(lhs, str) else tex(lhs, names), relation,
                 rhs if isinstance(rhs, str) else tex(rhs, names)) for lhs, relation, rhs in rows]
    widest = max(width(f"{l} {r} {x}") for l, r, x in rendered)
    if 2 * widest + 6 > LINE_CHARS:
        return chain(rows, names)
    lines = []
    for index in range(0, len(rendered), 2):
        cells = [rf"{l} &{r} {x}" for l, r, x in rendered[index:index + 2]]
        lines.append(r", & ".join(cells))
    return "\\begin{align*}\n" + ", \\\\\n".join(lines) + "\n\\end{align*}"


def chain(rows: list, names: dict | None = None) -> str:
    """Several aligned relations ``[(lhs, relation, rhs), ...]`` in one ``align*``; each
    right side is broken across lines if it does not fit."""
    body = []
    for lhs, relation, rhs in rows:
        left = lhs if isinstance(lhs, str) else tex(lhs, names)
        right_lines = [rhs] if isinstance(rhs, str) else _broken(rhs, LINE_CHARS - width(left) - 2, names)
        body.append(rf"{left} &{relation} {right_lines[0]}")
        body += [rf"& \quad {line}" for line in right_lines[1:]]
    return "\\begin{align*}\n" + " \\\\\n".join(body) + "\n\\end{align*}"


def fits(display: str, margin: float = 0.0) -> bool:
    """Whether every line of a display (lines split at ``\\\\``) is estimated to fit the text width."""
    body = re.sub(r"\\(begin|end)\{[a-z*]+\}|\\\[|\\\]|&", "", display)
    return all(width(line) <= LINE_CHARS + margin for line in body.split(r"\\"))


def inline(obj, names: dict | None = None) -> str:
    """``$...$`` of a sympy object in the shared notation; a column vector is written as the
    transpose of a row, ``(a, b)^\\top``, which keeps the line's height."""
    if isinstance(obj, sp.MatrixBase) and obj.cols == 1 and obj.rows > 1:
        entries = ", ".join(tex(entry, names) for entry in obj)
        return rf"$\left({entries}\right)^\top$"
    return f"${obj if isinstance(obj, str) else tex(obj, names)}$"


# ---------------------------------------------------------------------- defects
#: (name, pattern) of what a reviewer objects to in the extracted text of a page.
DEFECTS = (
    ("ASCII norm ||", re.compile(r"\|\|")),
    ("ASCII >= or <=", re.compile(r">=|<=|!=")),
    ("raw subscript _{", re.compile(r"_\{")),
    ("raw superscript ^T, ^2, ^{", re.compile(r"\^(T\b|\{|\d|\()")),
    ("elided expression", re.compile(r"operations, omitted|omitted\)")),
    ("tautology 0 = 0", re.compile(r"(?<![\w.])0 = 0(?![\w.])")),
    ("Python dictionary", re.compile(r"\{['‘’]|['’]: ")),  # quotes as typewriter fonts extract them
    ("internal name", re.compile(r"nctheory\.|THEORY\.md|ARCHITECTURE|[Tt]he engine|spec\.\w+\(")),
    ("double numbering", re.compile(r"(?m)^\s*\d+\.\s+\d+\.\s")),
    ("Python operator ** or *", re.compile(r"\*\*|\w\*\w")),
    ("LaTeX source in text", re.compile(r"\\(frac|mathrm|left|right|begin|end)\b")),
    ("sympy function name", re.compile(r"\b(Max|Sum|Symbol|MatrixSymbol|Rational)\(")),
)


def find_defects(text: str) -> list[tuple[str, str]]:
    """``(defect, excerpt)`` for every match of :data:`DEFECTS` in ``text`` (pdftotext output)."""
    found = []
    for name, pattern in DEFECTS:
        for match in pattern.finditer(text):
            start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
            found.append((name, text[start:end].replace("\n", " ")))
    return found


__all__ = ["DEFECTS", "LINE_CHARS", "MACROS", "NAMES", "chain", "entrywise", "equation", "find_defects", "fits",
           "inline", "nicest", "polynomial", "tex", "width"]
