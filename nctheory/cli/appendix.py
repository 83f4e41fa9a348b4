"""``python -m nctheory.appendix``: the paper appendix, generated from the theorem and spec objects.

``--out DIR`` writes section files a paper can ``\\input`` (DIR/sections/*.tex), the notation
macros (DIR/nctheory-macros.tex), a standalone wrapper that compiles on its own
(DIR/appendix.tex), the figures (DIR/figures/*.pdf) and the bibliography (DIR/nctheory.bib);
see :mod:`nctheory.render.appendix_document`. Without ``--out`` the sections are printed to
standard output (without the numerical evidence, whose figures are files).

Usage::

    python -m nctheory.appendix --out appendix/ --compile        # everything, and the PDF
    python -m nctheory.appendix --out appendix/ --no-numerics    # symbolic only: no training runs
    python -m nctheory.appendix --out appendix/ --theorems lemma1 --optimizers sgd_momentum lion

Exit status: 0 written (and compiled cleanly), 1 the PDF build reported errors or undefined
references, 2 bad usage (unknown names, an unusable output folder, LaTeX missing for
``--compile``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from nctheory.cli.exit_codes import EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nctheory.appendix", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write the appendix's files into the folder DIR (replaces an earlier appendix there)")
    parser.add_argument("--theorems", nargs="+", metavar="NAME", help="only these theorems (default: all)")
    parser.add_argument("--optimizers", nargs="+", metavar="NAME", help="only these optimizers (default: all)")
    parser.add_argument("--no-numerics", action="store_true",
                        help="the symbolic-only appendix: no evidence section, no training runs")
    parser.add_argument("--verification-log", action="store_true",
                        help="input the machine verification log in appendix.tex (it is always written, "
                             "as DIR/sections/verification.tex)")
    parser.add_argument("--compile", action="store_true", help="build DIR/appendix.pdf with latexmk")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numerical checks (default 0)")
    parser.add_argument("--standalone", action="store_true", help=argparse.SUPPRESS)  # the old single-file option
    return parser


def main(argv=None) -> int:
    from nctheory.errors import NCTheoryError
    from nctheory.render import appendix_document as document

    args = _parser().parse_args(argv)
    if argv is None:  # the command itself: a kill (SIGTERM) unwinds, so the staging folder is removed
        signal.signal(signal.SIGTERM, _terminate)
    start = time.perf_counter()
    try:
        if args.standalone or (args.out is not None and args.out.suffix == ".tex"):
            raise NCTheoryError("--out is now a folder: --out DIR writes DIR/appendix.tex (a standalone document), "
                                "the section files, the figures and the bibliography (--standalone is gone)")
        if args.compile:
            if args.out is None:
                raise NCTheoryError("--compile needs --out DIR (the PDF is built from the files written there)")
            from nctheory.render.latex_build import require_tools

            require_tools("latexmk", "pdflatex", "bibtex")
        request = document.resolve(args.theorems, args.optimizers, numerics=not args.no_numerics,
                                   verification_log=args.verification_log, seed=args.seed)
        if args.out is None:
            if request.numerics:
                print("note: the numerical evidence needs --out DIR (its figures are files); printing the "
                      "symbolic sections", file=sys.stderr)
            sys.stdout.write(document.body_tex(request))
            return 0
        written = document.write_appendix(args.out, request)
    except NCTheoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {len(written.files)} files into {written.folder} in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    if not args.compile:
        return 0
    return _compile(written.folder / document.WRAPPER)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def _compile(tex: Path) -> int:
    from nctheory.errors import NCTheoryError
    from nctheory.render.latex_build import compile_pdf

    try:
        result = compile_pdf(tex)
    except NCTheoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    log = result.log
    print(f"{tex.with_suffix('.pdf')}: {log.summary()}", file=sys.stderr)
    for problem in log.problems():
        print(f"  {problem}", file=sys.stderr)
    broken = log.errors or log.undefined_references or log.undefined_citations or result.pdf is None
    if broken:
        tex.with_suffix(".pdf").unlink(missing_ok=True)  # no PDF that looks complete
        print(result.output[-2000:], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
