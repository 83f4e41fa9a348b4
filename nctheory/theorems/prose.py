r"""Shared pieces of the theorems' paper text: environments, step look-up, failed proofs.

Each theorem's :meth:`paper_tex` (in :mod:`.prose_foundations`, :mod:`.prose_linear`,
:mod:`.prose_beyond`) is the statement in an amsthm environment and a proof a person
would write; its displayed formulas are the sympy objects of the same
:meth:`~nctheory.theorems.base.Theorem.prove` that ``proofs/`` verifies, looked up here by
the words of their step (:func:`step`). When the machine verification fails, the proof
is not printed as if it held: :func:`proof_or_failure` writes which steps fail instead.
"""

from __future__ import annotations

import sympy as sp

from nctheory.theorems.plain_math import plain_to_tex

ENVIRONMENTS = ("theorem", "lemma", "proposition", "corollary", "definition", "remark")


def step(proof, *words: str, index: int = 0):
    """The ``index``-th step of ``proof`` whose description contains every one of ``words``."""
    found = [s for s in proof.steps if all(w in s.description for w in words)]
    if len(found) <= index:
        raise LookupError(f"{proof.theorem}: no step {index} with {words!r} in its description")
    return found[index]


def steps(proof, *words: str) -> list:
    """Every step of ``proof`` whose description contains all of ``words``."""
    return [s for s in proof.steps if all(w in s.description for w in words)]


def environment(kind: str, title: str, label: str, body: str) -> str:
    """``\\begin{kind}[title]\\label{thm:label} body \\end{kind}``, opening a group that
    :func:`proof_or_failure` closes (always used in pairs)."""
    if kind not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, got {kind!r}")
    # the group (closed by proof_or_failure) lets TeX stretch spaces rather than overfill a line
    return (f"\\begingroup\\emergencystretch=1.5em\n\\begin{{{kind}}}[{title}]\\label{{thm:{label}}}\n"
            f"{body.strip()}\n\\end{{{kind}}}")


def hypotheses_list(items: list[str]) -> str:
    """Hypotheses (LaTeX) as a labelled list inside a statement."""
    lines = [r"\begin{enumerate}", r"\renewcommand{\labelenumi}{(H\arabic{enumi})}"]
    lines += [rf"\item {item}" for item in items]
    return "\n".join(lines + [r"\end{enumerate}"])


def proof_or_failure(theorem, write) -> str:
    """``\\begin{proof} write(proof) \\end{proof}`` if the proof holds; otherwise a proof
    environment that says where the verification fails (never a proof of a false claim)."""
    proof = theorem.prove()
    if not proof.holds:
        failing = proof.failing_steps
        items = "\n".join(rf"\item {plain_to_tex(s.description)}" for s in failing)
        return (r"\begin{proof}[The verification fails]" "\n"
                rf"\textbf{{The exact verification of this statement fails}} at {len(failing)} of "
                rf"{len(proof.steps)} steps, so no proof is given:" "\n"
                r"\begin{itemize}" "\n" + items + "\n" r"\end{itemize}" "\n" r"\end{proof}" "\n" r"\endgroup")
    try:
        body = write(proof)
    except LookupError as error:  # a step the text relies on is missing: say so, do not invent it
        body = rf"\textbf{{The proof text cannot be written}}: {plain_to_tex(str(error))}."
    return "\\begin{proof}\n" + body.strip() + "\n\\end{proof}\n\\endgroup"


def without_primes(expr, renames: dict):
    """Index-sum objects use fresh naturals (``K = m + n + 1``, ``y = m + 1``, ``r = r' + 1``):
    the display writes them back with the names of the statement (``renames``: expression ->
    symbol), an exact re-substitution."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda e: without_primes(e, renames))
    return sp.sympify(expr).xreplace(renames)


__all__ = ["ENVIRONMENTS", "environment", "hypotheses_list", "proof_or_failure", "step", "steps", "without_primes"]


#: How other theorems are referred to when their label may be absent (a selection of theorems):
#: the reference once the label exists, these words otherwise -- never an undefined reference.
FALLBACK_NAMES = {"lemma0": "the lemma on simplex frames", "lemma1": "the gradient row-sum lemma",
                  "theorem2": "the stationarity theorem", "matrix_row_sums": "the theorem on matrix optimizers",
                  "bfloat16_floor": "the proposition on the bfloat16 floor"}


def refer(name: str, kind: str = "Lemma") -> str:
    """``Lemma~\\ref{thm:name}`` when that label is defined in the document, else words."""
    words = FALLBACK_NAMES.get(name, "the theorem " + name.replace("_", " "))
    return rf"\ifcsname r@thm:{name}\endcsname {kind}~\ref{{thm:{name}}}\else {words}\fi{{}}"
