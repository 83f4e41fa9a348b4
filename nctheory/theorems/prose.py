r"""Shared pieces of the theorems' paper text: environments, step look-up, failed proofs.

Each theorem's :meth:`paper_tex` (in :mod:`.prose_foundations`, :mod:`.prose_linear`,
:mod:`.prose_beyond`) is the statement in an amsthm environment and a proof a person
would write; its displayed formulas are the sympy objects of the same
:meth:`~nctheory.theorems.base.Theorem.prove` that ``proofs/`` verifies, looked up here by
the words of their step (:func:`step`). When the machine verification fails, the proof
is not printed as if it held: :func:`proof_or_failure` writes which steps fail instead.
"""

from __future__ import annotations

import contextlib
import contextvars

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
    return (f"\\begingroup\\emergencystretch=3em\n\\begin{{{kind}}}[{title}]\\label{{thm:{label}}}\n"
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


__all__ = ["ENVIRONMENTS", "document_has", "environment", "explained_in", "hypotheses_list", "in_document",
           "proof_or_failure", "step", "steps", "the_log", "without_primes"]


#: How other theorems are referred to when their label may be absent (a selection of theorems):
#: the reference once the label exists, these words otherwise -- never an undefined reference.
FALLBACK_NAMES = {"lemma0": "the lemma on simplex frames", "lemma1": "the gradient row-sum lemma",
                  "theorem2": "the stationarity theorem", "matrix_row_sums": "the theorem on matrix optimizers",
                  "bfloat16_floor": "the proposition on the bfloat16 floor"}


def refer(name: str, kind: str = "Lemma") -> str:
    """``Lemma~\\ref{thm:name}`` when that label is defined in the document, else words."""
    words = FALLBACK_NAMES.get(name, "the theorem " + name.replace("_", " "))
    return rf"\ifcsname r@thm:{name}\endcsname {kind}~\ref{{thm:{name}}}\else {words}\fi{{}}"


# ---------------------------------------------------------------------- the document around a theorem
#: The labels of the document the paper text is written for (``opt:<spec>``, ``thm:<name>``) and
#: what an earlier theorem of it has explained already; None outside a document (each theorem
#: then stands alone and shows everything it uses).
_DOCUMENT: contextvars.ContextVar = contextvars.ContextVar("nctheory_document", default=None)


@contextlib.contextmanager
def in_document(labels, log: str | None = None):
    """Write paper text for a document with these labels: a theorem may then refer to an
    optimizer section (``opt:<spec>``) for objects shown there, and explain a shared argument
    once (the first theorem that uses it) and refer back to it afterwards. ``log``: where the
    reader finds the verification log -- a label among ``labels`` (a section of the document)
    or the name of the separate file it is written to."""
    token = _DOCUMENT.set({"labels": frozenset(labels), "explained": {}, "log": log})
    try:
        yield
    finally:
        _DOCUMENT.reset(token)


def the_log(capital: bool = False) -> str:
    """"the verification log", saying where it is (a section of the document, or a separate file)
    the first time a document mentions it."""
    document = _DOCUMENT.get()
    log = document["log"] if document is not None else None
    where = ""
    if log and not document["explained"].get("the verification log"):
        where = (rf" (Section~\ref{{{log}}})" if log in document["labels"] else
                 rf" (the separate file \texttt{{{log.replace('_', chr(92) + '_')}}} written with this appendix)")
        document["explained"]["the verification log"] = True  # later mentions need not say where
    return ("The" if capital else "the") + " verification log" + where


def document_has(label: str) -> bool:
    """Whether the document being written carries ``label`` (False outside a document)."""
    document = _DOCUMENT.get()
    return document is not None and label in document["labels"]


def explained_in(topic: str, theorem_name: str) -> str | None:
    """The theorem that explained ``topic`` first in this document (None: this one explains it
    now, and is recorded as the one to refer back to). Outside a document always None."""
    document = _DOCUMENT.get()
    if document is None:
        return None
    first = document["explained"].setdefault(topic, theorem_name)
    return None if first == theorem_name else first
