"""Measure the generated appendix: generation time, pages, overfull boxes, reader defects.

Runs ``python -m nctheory.appendix --out DIR`` in a fresh process for the symbolic-only
appendix (``--no-numerics``) and the full one, compiles each with latexmk and records, per
mode: the wall time of the generation (a fresh process: imports, proofs, checks, figures),
the time of latexmk, the page count, the number of overfull boxes and the widest, undefined
references and citations, the defects :func:`nctheory.render.latex_build.text_defects` finds
in the ``pdftotext`` output, and whether a second generation gives byte-identical ``.tex``
and ``.bib`` files. Writes numerics/results/appendix_build.json.

Run: ``python numerics/appendix_build.py [--modes symbolic full] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nctheory.render.latex_build import compile_pdf, pdf_text, text_defects

ROOT = Path(__file__).resolve().parent.parent
MODES = {"symbolic": ["--no-numerics"], "full": []}


def generate(out: Path, options: list) -> float:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "nctheory.appendix", "--out", str(out), *options],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"generation failed ({options}):\n{run.stderr[-3000:]}")
    return time.perf_counter() - start


def text_files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.suffix in (".tex", ".bib") and p.is_file()}


def measure(mode: str, options: list, workdir: Path) -> dict:
    out = workdir / mode
    seconds = generate(out, options)
    first = text_files(out)
    start = time.perf_counter()
    result = compile_pdf(out / "appendix.tex")
    latex_seconds = time.perf_counter() - start
    log = result.log
    defects = text_defects(pdf_text(result.pdf)) if result.pdf else []
    again = workdir / f"{mode}-again"
    generate(again, options)
    return {"options": options, "generation_s": round(seconds, 1), "latexmk_s": round(latex_seconds, 1),
            "pages": log.pages, "errors": list(log.errors), "undefined_references": list(log.undefined_references),
            "undefined_citations": list(log.undefined_citations), "overfull_boxes": len(log.overfull),
            "overfull_wider_than_2pt": len(log.overfull_wider_than(2.0)),
            "worst_overfull_pt": round(log.worst_overfull_pt, 2),
            "defects": [f"{name}: {excerpt}" for name, excerpt in defects],
            "byte_identical_tex_and_bib": first == text_files(again)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--keep", type=Path, help="keep the generated folders here")
    args = parser.parse_args(argv)
    results = {"machine": platform.machine(), "python": platform.python_version(), "modes": {}}
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        for mode in args.modes:
            results["modes"][mode] = measure(mode, MODES[mode], workdir)
            print(mode, json.dumps(results["modes"][mode], indent=1)[:2000])
    path = ROOT / "numerics" / "results" / "appendix_build.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
