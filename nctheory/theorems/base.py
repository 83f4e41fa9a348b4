"""Theorem objects: a statement, its hypotheses, a symbolic proof and its LaTeX.

A theorem of THEORY.md is written down once, as an object (ARCHITECTURE.md, "one source
of truth per theorem"): ``proofs/`` verifies it, the command-line check runs it
(``python -m nctheory.check --theorem NAME``), the appendix renders it.
:meth:`Theorem.prove` returns a :class:`Proof`, a list of :class:`Step` s; each step says
what it establishes, carries the sympy objects it rests on, and whether it holds. A step
holds only when an identity reduced to zero by exact simplification or an exact
(in)equality was decided -- never within a floating tolerance. A claim that is wrong makes
a step fail; it never raises.

:meth:`Theorem.check` is the numerical side (as in PEPit, predicted and measured side by
side): it runs the computation the theorem speaks about in float64 and returns a
:class:`NumericalCheck` of :class:`Comparison` rows, each with its tolerance and where the
tolerance comes from, including negative controls that must come out refuted.
"""

from __future__ import annotations

import functools

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import sympy as sp

from nctheory.theory.latex import escape_text as latex_text


@dataclass(frozen=True)
class Step:
    """One proof step: ``(description, sympy objects, holds)``.

    ``relation`` (``"="``, ``"\\ne"``, ...) only affects rendering: with two objects it
    is written between them (``lhs = rhs``); otherwise the objects are listed.
    """

    description: str
    objects: tuple
    holds: bool
    relation: str | None = None

    def __iter__(self):
        return iter((self.description, self.objects, self.holds))


@dataclass(frozen=True)
class Proof:
    """The steps of a proof; it holds when there is at least one step and all hold."""

    theorem: str
    steps: tuple

    @property
    def holds(self) -> bool:
        return bool(self.steps) and all(step.holds for step in self.steps)

    @property
    def failing_steps(self) -> tuple:
        return tuple(step for step in self.steps if not step.holds)

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        lines = [f"{self.theorem}: {'proved' if self.holds else 'NOT proved'}"]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"  {number:2d}. [{'ok' if step.holds else 'FAILS'}] {step.description}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- step builders
def is_zero(expr, method: str = "expand") -> bool:
    """Exact zero test of a sympy expression or matrix.

    ``method`` is the simplification that must reduce it to 0: ``"expand"`` (polynomial
    identities), ``"cancel"`` (rational functions), ``"radsimp"`` (radicals) or
    ``"simplify"`` (anything else, e.g. exp/log). Only a literal 0 counts.
    """
    reduce = {"expand": sp.expand, "cancel": lambda e: sp.cancel(sp.together(e)),
              "radsimp": lambda e: sp.expand(sp.radsimp(sp.expand(e))), "simplify": sp.simplify}[method]
    if isinstance(expr, sp.MatrixBase):
        return all(reduce(entry) == 0 for entry in expr)
    return reduce(sp.sympify(expr)) == 0


def identity(description: str, lhs, rhs, method: str = "expand") -> Step:
    """A step asserting ``lhs == rhs`` exactly (``lhs - rhs`` reduces to 0)."""
    try:
        holds = is_zero(sp.sympify(lhs) - sp.sympify(rhs), method)
    except (sp.ShapeError, TypeError, ValueError) as error:  # a malformed claim fails, never raises
        return Step(f"{description} [cannot compare: {error}]", (lhs, rhs), False, "=")
    return Step(description, (lhs, rhs), bool(holds), "=")


#: Exact points tried for a witness of ``lhs != rhs`` (positive, distinct, not special).
_WITNESS_VALUES = (sp.Rational(1, 7), sp.Rational(2, 11), sp.Rational(5, 13), sp.Rational(3, 17),
                   sp.Rational(7, 19), sp.Rational(4, 23), sp.Rational(9, 29), sp.Rational(6, 31))


def nonzero_witness(expr):
    """A point where ``expr`` (a scalar or matrix) is certainly nonzero, or None.

    The free symbols get exact rationals from :data:`_WITNESS_VALUES` (rotated between
    attempts); the value must be an exact nonzero number, or evaluate to at least 1e-30
    in absolute value at 60 digits (far above the evaluation error). A failed
    simplification is therefore never mistaken for a difference.
    """
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [sp.sympify(expr)]
    symbols = sorted(set().union(*(e.free_symbols for e in entries)), key=str)
    for shift in range(len(_WITNESS_VALUES)):
        point = {s: _WITNESS_VALUES[(i + shift) % len(_WITNESS_VALUES)] for i, s in enumerate(symbols)}
        for entry in entries:
            value = entry.subs(point)
            if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or value.free_symbols:
                continue
            if value.is_Rational:
                if value != 0:
                    return point
                continue
            approx = value.evalf(60)
            if approx.is_number and approx.is_real is not False and abs(approx) > sp.Float("1e-30"):
                return point
    return None


def distinct(description: str, lhs, rhs, method: str = "expand") -> Step:
    """A negative control: ``lhs`` and ``rhs`` differ, shown by a witness point where
    ``lhs - rhs`` is certainly nonzero (:func:`nonzero_witness`). Without a witness the
    step FAILS (undecided is not distinct): a control that cannot decide proves nothing."""
    try:
        difference = sp.sympify(lhs) - sp.sympify(rhs)
    except (sp.ShapeError, TypeError, ValueError):
        return Step(f"{description} [different shapes or kinds]", (lhs, rhs), True, r"\ne")
    if isinstance(difference, sp.MatrixBase) or not is_zero(difference, method):
        witness = nonzero_witness(difference)
        if witness is not None:
            return Step(description, (lhs, rhs), True, r"\ne")
    return Step(f"{description} [no point found where they differ]", (lhs, rhs), False, r"\ne")


def fact(description: str, objects: Iterable, holds) -> Step:
    """A step decided by an exact boolean computed by the caller."""
    return Step(description, tuple(objects), bool(holds))


# ---------------------------------------------------------------------- numerical checks
@dataclass(frozen=True)
class Comparison:
    """One row of a numerical check: a quantity, predicted and measured side by side.

    ``holds``: True / False, or None when it could not be decided (a hypothesis not met,
    a run at its rounding floor). ``role``: "claim" (a prediction of the theorem),
    "control" (a negative control: ``holds`` means the wrong theory WAS refuted) or "info"
    (shown, decides nothing).
    """

    quantity: str
    predicted: object
    measured: object
    holds: bool | None
    note: str = ""
    role: str = "claim"

    def __post_init__(self):
        if self.role not in ("claim", "control", "info"):
            raise ValueError(f"role must be 'claim', 'control' or 'info', got {self.role!r}")
        if self.holds is not None:  # numpy booleans are not ``False`` under ``is``
            object.__setattr__(self, "holds", bool(self.holds))


@dataclass(frozen=True)
class NumericalCheck:
    """The outcome of :meth:`Theorem.check`: rows, and the verdict they imply.

    "refuted" if a claim or control fails, else "inconclusive" if one could not be
    decided, else "verified" (the same words as :mod:`nctheory.verdict`).
    """

    theorem: str
    setting: str
    rows: tuple

    @property
    def verdict(self) -> str:
        deciding = [row for row in self.rows if row.role != "info"]
        if any(row.holds is False for row in deciding):
            return "refuted"
        if not deciding or any(row.holds is None for row in deciding):
            return "inconclusive"
        return "verified"

    def to_dict(self) -> dict:
        return {"theorem": self.theorem, "setting": self.setting, "verdict": self.verdict,
                "rows": [{"quantity": r.quantity, "predicted": _plain(r.predicted), "measured": _plain(r.measured),
                          "holds": r.holds, "note": r.note, "role": r.role} for r in self.rows]}

    def latex(self) -> str:
        """The rows as a LaTeX table (notes left out), with the setting and the verdict."""
        marks = {True: r"$\checkmark$", False: r"\textbf{fails}", None: "undecided"}
        lines = [rf"\noindent\textbf{{Numerical check.}} {latex_text(self.setting)}.", "",
                 r"\noindent\begin{tabular}{p{0.45\linewidth}rrl}",
                 r"quantity & predicted & measured & \\ \hline"]
        for r in self.rows:
            lines.append(f"{latex_text(r.quantity)} & {latex_text(_cell(r.predicted))} & "
                         rf"{latex_text(_cell(r.measured))} & {_result(r, marks)} \\")
        lines += [r"\end{tabular}", "", rf"\noindent Verdict: \textbf{{{self.verdict}}}."]
        return "\n".join(lines)

    def __str__(self) -> str:
        width = max([len(r.quantity) for r in self.rows] + [8])
        marks = {True: "ok", False: "FAILS", None: "undecided"}
        lines = [f"{self.theorem}: {self.setting}",
                 f"  {'quantity':<{width}}  {'predicted':>14}  {'measured':>14}  result"]
        for r in self.rows:
            lines.append(f"  {r.quantity:<{width}}  {_cell(r.predicted):>14}  {_cell(r.measured):>14}  "
                         f"{_result(r, marks)}")
            if r.note:
                lines.append(f"  {'':<{width}}    {r.note}")
        lines.append(f"Numerical check: {self.verdict.upper()}")
        return "\n".join(lines)


def _result(row: Comparison, marks: dict) -> str:
    if row.role == "info":
        return "info"
    return marks[row.holds] + (" (control)" if row.role == "control" else "")


def holds_from(outcome: str) -> bool | None:
    """A verdict ("verified" / "refuted" / ...) or a sub-check status ("pass" / "fail" /
    "inconclusive") of :mod:`nctheory.verdict` as :attr:`Comparison.holds`."""
    return {"verified": True, "pass": True, "refuted": False, "fail": False}.get(outcome)


def refuted_from(outcome: str) -> bool | None:
    """For a negative control: True if the wrong theory was refuted ("refuted" / "fail"),
    False if it passed, None if the run could not decide (inconclusive, diverged)."""
    return {"refuted": True, "fail": True, "verified": False, "pass": False}.get(outcome)


def _plain(value):
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else None  # JSON has no NaN / inf


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.6g}"
    return str(value)


# ---------------------------------------------------------------------- the theorem
def _cached_check(check):
    @functools.wraps(check)
    def cached(self, *args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        store = self.__dict__.setdefault("_checks", {})
        if key not in store:
            store[key] = check(self, *args, **kwargs)
        return store[key]

    return cached


class Theorem:
    """Base class: statement, hypotheses, reference, status, ``prove()``, ``paper_tex()``.

    Subclasses set the class attributes (or pass them to ``__init__``) and implement
    :meth:`steps`, a generator of :class:`Step` s. ``status`` says how the statement is
    established ("proved symbolically", "derived from the spec and proved
    symbolically", ...). ``statement_latex`` is the statement in LaTeX math.
    """

    name: str = ""
    title: str = ""
    statement: str = ""
    statement_latex: str = ""
    hypotheses: tuple = ()
    reference: str = ""
    status: str = "proved symbolically"

    def __init_subclass__(cls, **kwargs):
        """Each subclass's ``check`` is cached per object and arguments: a check is seeded and
        deterministic, so the appendix, ``check --theorem`` and the tests share one run."""
        super().__init_subclass__(**kwargs)
        if "check" in cls.__dict__:
            cls.check = _cached_check(cls.__dict__["check"])

    def steps(self) -> Iterator[Step]:
        raise NotImplementedError

    def check(self, seed: int = 0) -> NumericalCheck:
        """Run what the theorem speaks about, in float64, and compare with its prediction."""
        raise NotImplementedError(f"{self.name} has no numerical check")

    def prove(self) -> Proof:
        """Run the proof (cached per object). An exception inside a step is a failed step."""
        cached = self.__dict__.get("_proof")
        if cached is not None:
            return cached
        steps = []
        try:
            for step in self.steps():
                steps.append(step)
        except Exception as error:  # noqa: BLE001 -- a broken claim must be reported, not raised
            steps.append(Step(f"proof aborted: {type(error).__name__}: {error}", (), False))
        proof = Proof(self.name, tuple(steps))
        self.__dict__["_proof"] = proof
        return proof

    #: The amsthm environment of :meth:`paper_tex` (lemma, proposition, ... where that is what it is).
    environment: str = "theorem"

    def paper_tex(self) -> str:
        """The statement (amsthm environment, hypotheses, all mathematics in math mode) and a
        proof as a paper writes it, whose displays are the objects of :meth:`prove`.

        Subclasses with a written proof override this; the default states the theorem and
        refers to its verification log (:meth:`verification_tex`)."""
        from nctheory.theorems.plain_math import plain_to_tex
        from nctheory.theorems.prose import environment, proof_or_failure, the_log

        statement = self.statement_latex or plain_to_tex(self.statement)
        if self.hypotheses:
            statement = "Assume: " + "; ".join(plain_to_tex(h) for h in self.hypotheses) + ". Then " + statement
        return environment(self.environment, plain_to_tex(self.title), self.name, statement) + "\n" + \
            proof_or_failure(self, lambda proof: f"Verified exactly in {len(proof.steps)} steps; see {the_log()}.")

    def verification_tex(self) -> str:
        """The machine verification: every step of :meth:`prove` and how it was decided
        (:mod:`nctheory.theorems.verification_log`)."""
        from nctheory.theorems.verification_log import verification_tex

        return verification_tex(self)

    def latex(self) -> str:
        """The earlier one-fragment form, kept for callers of this API: the statement and proof
        of :meth:`paper_tex` -- in a ``theorem`` environment whatever :attr:`environment` is --
        followed by the verification log (:meth:`verification_tex`)."""
        paper = self.paper_tex()
        if self.environment != "theorem":
            paper = paper.replace(f"\\begin{{{self.environment}}}", "\\begin{theorem}", 1)
            paper = paper.replace(f"\\end{{{self.environment}}}", "\\end{theorem}", 1)
        return paper + "\n\n" + self.verification_tex()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.title}>"
