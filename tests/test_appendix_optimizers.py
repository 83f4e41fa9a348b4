"""The optimizer sections of the appendix: exact displays, one layout per family, pages that fit."""

import re
import shutil
import subprocess

import pytest
import sympy as sp

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.render.appendix_math import LINE_WIDTH, align_rows, condition_tex, rhs_lines, update_rule
from nctheory.render.appendix_families import optimizers_section
from nctheory.render.appendix_optimizers import notation_section, optimizer_section
from nctheory.theory.latex import tex, tidy, width

ETA, LAM, MU = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True), sp.Symbol("mu", nonnegative=True)
#: one spec per family the theory distinguishes (linear with and without buffer effects, decoupled
#: momentum, the widest update rule, sign descent, matrix with and without a recurrence)
FAMILY_SAMPLE = ("sgd_nesterov", "sgdw_momentum", "nadam", "signgd_decoupled", "muon", "muon_coupled")
MACROS = r"""\providecommand{\NCzero}{\mathrm{NC}_0}\providecommand{\rowsum}{s}\providecommand{\ones}{\mathbf{1}}
\providecommand{\lr}{\eta}\providecommand{\wdecay}{\lambda}\providecommand{\mom}{\mu}\providecommand{\damp}{\tau}
\providecommand{\rate}{\rho}\providecommand{\R}{\mathbb{R}}\DeclarePairedDelimiter{\norm}{\lVert}{\rVert}"""


def test_tidy_forms_are_exact_and_use_the_shared_macros():
    spec = nctheory.get_spec("sgd_nesterov")
    dyn = spec.row_sum_dynamics()
    for entry in list(dyn.matrix) + [dyn.charpoly()]:
        assert sp.expand(sp.sympify(tidy(entry)) - entry) == 0
    text = tex(tidy(dyn.matrix[0, 0]))
    assert r"\lr" in text and r"\wdecay" in text and "eta" not in text
    assert text.startswith("1 - ")  # the bare constant first, the sign pulled out of the sum


def test_conditions_drop_certified_factors_and_refuse_impossible_ones():
    assert condition_tex(ETA * (2 - ETA * LAM)) == r"\lr \wdecay < 2"
    assert condition_tex(-(1 + MU)) is False  # negative control: never positive
    assert condition_tex(sp.Integer(0)) is False
    assert condition_tex(ETA * (1 + MU)) is True


def test_wide_sums_are_broken_between_terms_not_elided():
    long_sum = sum(sp.Symbol(f"x_{{{i}}}") * ETA ** i for i in range(1, 40))
    lines = rhs_lines(long_sum, 40)
    assert len(lines) > 2 and all(width(line) <= 40 + 4 for line in lines)
    joined = " ".join(lines)
    assert all(f"x_{{{i}}}" in joined for i in range(1, 40))  # nothing elided
    assert "ldots" not in align_rows([("y", "=", long_sum, "")])


def test_nadam_direction_fits_with_named_subexpressions():
    rows, abbreviations = update_rule(nctheory.get_spec("nadam"))
    assert abbreviations, "the direction is too wide for one line without named subexpressions"
    for lhs, rhs, _ in rows + [(s, v, "") for s, v in abbreviations]:
        assert all(width(line) <= LINE_WIDTH for line in rhs_lines(rhs, LINE_WIDTH - width(tex(lhs)) - 3))
    direction = dict((str(lhs), rhs) for lhs, rhs, _ in rows)["D_{t}"]
    back = direction.subs({s: v for s, v in reversed(abbreviations)})
    original = [r for l, r in nctheory.get_spec("nadam").update_equations() if str(l) == "d_{2}"][0]
    d1 = sp.Symbol("G_{t}") + LAM * sp.Symbol("W_{t}")
    assert sp.simplify(back - original.subs(sp.Symbol("d_{1}"), d1)) == 0


def test_layout_is_the_same_within_a_family_and_follows_the_theory():
    def rows(text):
        return re.findall(r"\\noindent\\textbf\{([^}]*)\}", text)  # the run-in row headings

    heavy_ball = optimizer_section(nctheory.get_spec("sgd_momentum"))
    assert rows(heavy_ball) == rows(optimizer_section(nctheory.get_spec("sgd_nesterov")))
    assert "Optimal momentum." in rows(heavy_ball) and r"\ref{" not in heavy_ball  # no label given, no reference
    sign = rows(optimizer_section(nctheory.get_spec("signgd_decoupled")))
    assert "Stability." not in sign and "Box bound" in sign and "Parity lower bound" in sign
    text = optimizer_section(nctheory.get_spec("sgd_momentum"), labels={"thm:optimal_momentum_sgd_momentum"})
    assert r"\label{opt:sgd_momentum}" in text and r"\ref{thm:optimal_momentum_sgd_momentum}" in text
    with pytest.raises(NCTheoryError, match="OptimizerSpec"):
        optimizer_section("sgd")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_family_sample_compiles_without_overfull_boxes(tmp_path):
    specs = [nctheory.get_spec(n) for n in FAMILY_SAMPLE]
    body = notation_section() + "".join(optimizer_section(spec) for spec in specs) + optimizers_section(specs)
    body = re.sub(r"\\cite[tp]\{[^}]*\}", "[cite]", body)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\\usepackage[textwidth=397.48pt]{geometry}"  # ICLR's text width, as the wrapper
        "\\usepackage{amsmath,amssymb,amsthm,mathtools,booktabs}\n" + MACROS
        + "\n\\begin{document}\n" + body + "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    widths = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(widths, default=0.0) <= 2.0, widths


def test_families_say_shared_facts_once_and_keep_every_label():
    specs = list(nctheory.optimizers.REGISTRY.values())
    text = optimizers_section(specs, labels={"thm:theorem2", "thm:sign_bounds"})
    for spec in specs:
        assert text.count(rf"\label{{opt:{spec.name}}}") == 1, spec.name
    kinds = {spec.family.kind for spec in specs}
    assert text.count(r"\begin{tabular}") == len(kinds)  # one comparison table per family
    # a statement that holds for several optimizers is given once, naming them
    assert text.count(r"\textbf{Row sums decrease (empirical)}") == 1
    decrease = text[text.index(r"\textbf{Row sums decrease (empirical)}"):][:600]
    assert "Adam, " in decrease and "Adagrad" in decrease and "NAdam" in decrease
    assert text.count("Schur--Cohn criterion in Jury's form") == 1  # explained once, for every family
    assert re.search(r"\\wd(?![A-Za-z@])", text) is None  # the TeX primitive \wd never stands for the decay
    assert r"\wdecay" in text


def test_optimal_momentum_reads_one_minus_root():
    text = optimizer_section(nctheory.get_spec("sgd_momentum"))
    assert r"\mom^\star = \left(1 - \sqrt{\lr\wdecay}\right)^{2}" in text
    assert r"\rate^\star = 1 - \sqrt{\lr\wdecay}" in text
    assert r"+ 1\right)" not in text  # the earlier misprint (-sqrt(eta lambda) + 1)^2
