"""LaTeX of an optimizer spec, derived from the spec itself.

Each transformation of the chain is run once on sympy symbols -- the incoming update
``d_i``, the weights ``W_t`` and its buffers at step t -- so the rendered equations are
the very code that trains, in the order it runs. Coupled and decoupled decay then read
differently on the page because they *are* different chains. For linear specs the
row-sum recurrence (Lemma 1), its characteristic polynomial and, when every
hyperparameter is set, its rate follow.
"""

from __future__ import annotations

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
