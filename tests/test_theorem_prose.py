"""The theorems as a paper states them: paper_tex compiles, fits the page, reads clean.

Every theorem's ``paper_tex()`` is compiled once in a minimal standalone document with the
shared macros (:mod:`nctheory.theorems.tex_compile`); the log must show no error and no
overfull box wider than 2pt, and the text pdftotext extracts must be free of the defects
of :func:`nctheory.theorems.tex.find_defects`. Negative controls: planted defects and a
planted overfull display are caught; a wrong claim yields no proof.
"""

from __future__ import annotations

import re
import shutil

import pytest
import sympy as sp

from nctheory.theorems import THEOREMS, all_theorems
from nctheory.theorems.lemma0 import SimplexETFRowSum
from nctheory.theorems.plain_math import plain_to_tex
from nctheory.theorems.tex import equation, find_defects
from nctheory.theorems.tex_compile import compile_standalone, overfull_boxes

HAVE_LATEX = shutil.which("pdflatex") is not None and shutil.which("pdftotext") is not None
needs_latex = pytest.mark.skipif(not HAVE_LATEX, reason="pdflatex or pdftotext is not installed")
NAMES = sorted(THEOREMS)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    if not HAVE_LATEX:
        pytest.skip("pdflatex or pdftotext is not installed")
    body = "\n\n".join(theorem.paper_tex() for theorem in all_theorems())
    return compile_standalone(body, tmp_path_factory.mktemp("prose"), "theorems")


@needs_latex
def test_every_paper_tex_compiles_without_errors_or_overfull_boxes(compiled):
    assert compiled["errors"] == [], compiled["errors"]
    assert compiled["pdf"] is not None
    wide = [w for w in overfull_boxes(compiled["log"]) if w > 2.0]
    assert wide == [], f"overfull boxes wider than 2pt: {wide}"
    assert "LaTeX Warning: Reference" not in compiled["log"]  # cross-references fall back to words


@needs_latex
def test_extracted_text_has_none_of_the_defects(compiled):
    assert compiled["text"], "pdftotext extracted nothing"
    assert find_defects(compiled["text"]) == []


@needs_latex
def test_every_theorem_appears_once_with_its_proof(compiled):
    text = compiled["text"]
    kinds = len(re.findall(r"(Theorem|Lemma|Proposition)\s+\d+\s+\(", text))  # -layout may pad spaces
    assert kinds == len(THEOREMS)
    assert text.count("Proof.") == len(THEOREMS)
    assert "verification fails" not in text


@pytest.mark.parametrize("name", NAMES)
def test_paper_tex_structure(name):
    theorem = THEOREMS[name]
    text = theorem.paper_tex()
    environment = theorem.environment
    assert text.count(rf"\begin{{{environment}}}") == text.count(rf"\end{{{environment}}}") == 1
    assert rf"\label{{thm:{name}}}" in text
    assert text.count(r"\begin{proof}") == text.count(r"\end{proof}") == 1
    # a proof written as a person would: displays, no step list, no machine marks
    assert r"\[" in text or r"\begin{align*}" in text
    assert r"\checkmark" not in text and r"\item[" not in text
    assert "cannot be written" not in text, text


def test_a_wrong_claim_gets_no_proof():
    text = SimplexETFRowSum(cosine=lambda k: -sp.Integer(1) / k, sizes=(3,)).paper_tex()
    assert r"\begin{proof}[The verification fails]" in text
    assert "fails" in text and "Under (H1)" not in text


def test_latex_keeps_paper_text_and_verification_log():
    theorem = THEOREMS["bfloat16_floor"]
    text = theorem.latex()
    assert text.replace(r"{theorem}", r"{proposition}", 2).startswith(theorem.paper_tex())
    assert text.endswith(theorem.verification_tex())
    assert text.count(r"\item[$\checkmark$]") == len(theorem.prove().steps)


@needs_latex
def test_verification_log_compiles_clean_and_marks_failures(tmp_path):
    wrong = SimplexETFRowSum(cosine=lambda k: -sp.Integer(1) / k, sizes=(3,))
    body = THEOREMS["bfloat16_floor"].verification_tex() + "\n\n" + wrong.verification_tex()
    result = compile_standalone(body, tmp_path, "log")
    assert result["errors"] == []
    assert [w for w in overfull_boxes(result["log"]) if w > 2.0] == []
    assert find_defects(result["text"]) == []
    assert "(fails)" in result["text"] and "steps fail" in result["text"]


# ---------------------------------------------------------------------- negative controls
PLANTED = {
    "ASCII norm ||": r"\texttt{||W\textasciicircum{}T 1||}",
    "ASCII >= or <=": r"\texttt{K >= 2}",
    "elided expression": r"(1565 operations, omitted)",
    "tautology 0 = 0": r"so $0 = 0$ holds",
    "Python dictionary": r"\texttt{\{'lr': 0.1\}}",
    "internal name": r"\texttt{nctheory.SpecOptimizer} and THEORY.md",
    "raw subscript _{": r"\texttt{s\_\{t+2\}}",
}


@needs_latex
def test_defect_detector_catches_planted_defects(tmp_path):
    body = "\n\n".join(f"Planted: {text}." for text in PLANTED.values())
    body += "\n\n\\begin{enumerate}\\item \\begin{enumerate}\\item double numbering\\end{enumerate}\\end{enumerate}"
    result = compile_standalone(body.replace("enumerate}\\item \\begin", "enumerate}\\item[5.] \\begin")
                                .replace("{enumerate}\\item double", "{enumerate}\\item[1.] double"), tmp_path, "planted")
    found = {name for name, _ in find_defects(result["text"])}
    assert set(PLANTED) <= found, set(PLANTED) - found
    assert "double numbering" in found


def test_defect_detector_passes_clean_prose():
    assert find_defects("For every K ≥ 2 the row sum ‖W⊤1K‖ vanishes, so NC0 = 0 at every step.") == []


@needs_latex
def test_wide_sums_are_broken_and_a_planted_wide_display_is_caught(tmp_path):
    terms = sp.Add(*sp.symbols("x_1:41"))
    broken = equation(sp.Symbol("S"), terms)
    assert r"\begin{align*}" in broken
    result = compile_standalone(broken + "\n\n" + rf"\[ S = {sp.latex(terms)} \]", tmp_path, "wide")
    widths = overfull_boxes(result["log"])
    assert len(widths) == 1 and widths[0] > 100  # only the planted one-line display overflows


def test_plain_descriptions_become_math():
    text = plain_to_tex("every K, d: ||W^T 1||^2 = 1^T (W W^T) 1 >= 0 at {'lr': 0.1, 'weight_decay': 0.005}; "
                        "the engine's rate (nctheory.theory.symbolic.rowsum) per THEORY.md")
    assert r"$\norm{W^{\top} \ones}^2 = \ones^{\top} (W W^{\top}) \ones \ge 0$" in text
    assert r"$\lr = 0.1,\ \wdecay = 0.005$" in text
    assert "engine" not in text and "nctheory" not in text and "THEORY" not in text


def test_in_a_document_the_dynamics_refer_to_the_optimizer_section_and_explain_once():
    from nctheory.theorems.prose import in_document

    sgd, heavy_ball = THEOREMS["linear_recurrence_sgd"], THEOREMS["linear_recurrence_sgd_momentum"]
    alone = heavy_ball.paper_tex()
    assert r"\begin{pmatrix}" in alone and r"\ref{opt:" not in alone  # standalone: shows A and chi itself
    labels = ["thm:linear_recurrence_sgd", "thm:linear_recurrence_sgd_momentum", "opt:sgd_momentum", "opt:sgd"]
    with in_document(labels, "sections/verification.tex"):
        first, second = sgd.paper_tex(), heavy_ball.paper_tex()
    assert r"\ref{opt:sgd_momentum}" in second and r"\begin{pmatrix}" not in second  # shown once, referred to
    assert "the factors below are all positive" in first  # the argument, in full, in the first theorem
    assert "the factors below are all positive" in second  # degree two: its first use, in full
    assert r"setting of Theorem~\ref{thm:linear_recurrence_sgd}" in second  # the setting is stated once
    with in_document(labels[:2], "sections/verification.tex"):  # no optimizer sections: show everything
        assert r"\begin{pmatrix}" in heavy_ball.paper_tex()
