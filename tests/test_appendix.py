"""The generated appendix renders every theorem and spec, and compiles with pdflatex."""

import shutil
import subprocess

import pytest

from nctheory import names
from nctheory.cli import appendix


def test_appendix_holds_every_spec_and_only_proved_steps():
    text = appendix.render(theorems=True, numerics=False)
    for name in names():
        assert rf"\texttt{{{name.replace('_', chr(92) + '_')}}}" in text
    assert r"\begin{theorem}" in text and r"\textbf{(fails)}" not in text
    assert text.count("{") == text.count("}")
    assert "Numerical check" not in text


def test_appendix_tables_every_numerical_check():
    text = appendix.render(theorems=True, optimizers=["sgd"])
    assert text.count(r"\textbf{Numerical check.}") == text.count(r"\begin{theorem}")
    assert r"Verdict: \textbf{verified}" in text and r"\textbf{fails}" not in text


def test_cli_writes_a_file_and_refuses_unknown_names(tmp_path, capsys):
    out = tmp_path / "a.tex"
    assert appendix.main(["--no-theorems", "--optimizers", "sgd", "--out", str(out)]) == 0
    assert r"\paragraph{\texttt{sgd}}" in out.read_text()
    assert appendix.main(["--no-theorems", "--optimizers", "sgdx"]) == 2
    assert "unknown optimizer 'sgdx'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex is not installed (CI installs texlive-latex-base)")
def test_standalone_appendix_compiles(tmp_path):
    (tmp_path / "appendix.tex").write_text(appendix.render(standalone=True))
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "appendix.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "appendix.pdf").stat().st_size > 10_000
