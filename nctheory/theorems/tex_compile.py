r"""Compile a LaTeX fragment of the theorems in a minimal standalone document.

Used by the tests and by ``python -m nctheory.theorems.tex_compile`` (which writes a
document of every theorem, for reading): LaTeX's article class (10pt) with ICLR's text block
(5.5in = 397.48pt wide, the layout the appendix is set in), amsmath, amssymb, amsthm, mathtools, the
shared macros (:data:`nctheory.theorems.tex.MACROS`) and the theorem environments with one
shared counter. :func:`overfull_boxes` reads the widths of overfull boxes from the log.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

from nctheory.errors import NCTheoryError
from nctheory.render.latex_build import searchable
from nctheory.theorems.tex import MACROS

PREAMBLE = r"""\documentclass{article}
\usepackage[letterpaper,textwidth=397.48pt,textheight=9in,centering]{geometry}
\usepackage{cmap}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb,amsthm,mathtools}
""" + MACROS + r"""
\theoremstyle{plain}
\newtheorem{theorem}{Theorem}
\newtheorem{lemma}[theorem]{Lemma}
\newtheorem{proposition}[theorem]{Proposition}
\newtheorem{corollary}[theorem]{Corollary}
\theoremstyle{definition}
\newtheorem{definition}[theorem]{Definition}
\theoremstyle{remark}
\newtheorem{remark}[theorem]{Remark}
\begin{document}
"""


def standalone(body: str) -> str:
    """``body`` inside the minimal document."""
    return PREAMBLE + body + "\n\\end{document}\n"


def compile_standalone(body: str, folder: pathlib.Path, name: str = "fragment", runs: int = 2) -> dict:
    """Compile ``body`` with pdflatex in ``folder``; ``{"pdf", "log", "errors", "text"}``
    (``text``: pdftotext's extraction, or None without pdftotext). Missing pdflatex raises."""
    if shutil.which("pdflatex") is None:
        raise NCTheoryError("pdflatex is not installed: cannot compile the theorems")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.tex").write_text(standalone(body), encoding="utf-8")
    for _ in range(runs):
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False)
    log = (folder / f"{name}.log").read_text(encoding="latin-1") if (folder / f"{name}.log").exists() else ""
    errors = [line for line in log.splitlines() if line.startswith("!")]
    pdf = folder / f"{name}.pdf"
    text = None
    if pdf.exists() and shutil.which("pdftotext"):
        subprocess.run(["pdftotext", "-layout", str(pdf), str(folder / f"{name}.txt")], check=False, timeout=120)
        text = searchable((folder / f"{name}.txt").read_text(encoding="utf-8", errors="replace"))
    return {"pdf": pdf if pdf.exists() else None, "log": log, "errors": errors, "text": text}


def overfull_boxes(log: str) -> list[float]:
    """Widths in pt of the overfull boxes reported in a LaTeX log."""
    return [float(width) for width in re.findall(r"Overfull \\[hv]box \(([\d.]+)pt too", log)]


def page_count(log: str) -> int:
    """Pages written, from the log's "Output written" line (0 if none)."""
    match = re.search(r"Output written on .*?\((\d+) pages?", log)
    return int(match.group(1)) if match else 0


def main(argv=None) -> int:
    """Write and compile ``DIR/theorems.tex`` with every theorem's paper text (and, with
    ``--log``, the verification log) for reading; print pages and overfull boxes."""
    import argparse

    from nctheory.theorems import all_theorems

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--log", action="store_true", help="compile the verification log instead")
    args = parser.parse_args(argv)
    parts = [t.verification_tex() if args.log else t.paper_tex() for t in all_theorems()]
    result = compile_standalone("\n\n".join(parts), args.folder, "log" if args.log else "theorems")
    print(f"pages: {page_count(result['log'])}; errors: {result['errors']}; "
          f"overfull boxes (pt): {overfull_boxes(result['log'])}")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
