"""``python -m nctheory.reproduce``: test the paper's claims end to end and write a report.

Usage::

    python -m nctheory.reproduce --quick                   # CPU, minutes -> ./reproduce_quick/
    python -m nctheory.reproduce --quick --claims momentum sign_scaling
    python -m nctheory.reproduce --data-root ~/data         # the full run (hours on CPU)
    python -m nctheory.reproduce --quick --resume           # after an interrupt: finish it

Writes OUT/report.md (Markdown with the figures), OUT/appendix_reproduction.tex (the
matching appendix section), OUT/figures/*.pdf|png, OUT/timing.json and the sweep store
(default OUT/reproduce.sqlite). What each experiment runs: docs/reproduce.md.

Exit status: 0 the report was written (whatever the verdicts: a contradicted claim is a
result), 2 bad usage (an unknown claim name, a bad spec, an existing store without
--resume), 130 interrupted (what finished is in the store; --resume completes it).
"""

from __future__ import annotations

import argparse
import sys

from nctheory.cli.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE
from nctheory.errors import NCTheoryError


def parser() -> argparse.ArgumentParser:
    from nctheory.reproduce.experiments import CLAIMS

    p = argparse.ArgumentParser(prog="python -m nctheory.reproduce", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Experiments, claims and measured times: docs/reproduce.md")
    p.add_argument("--quick", action="store_true", help="the quick variant (CPU, under 10 minutes on 2 cores)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./reproduce_quick or ./reproduce_full)")
    p.add_argument("--claims", nargs="+", metavar="NAME", help=f"claims to test (default all: {', '.join(CLAIMS)})")
    p.add_argument("--store", metavar="PATH", help="the sweep store (default: OUT/reproduce.sqlite)")
    p.add_argument("--resume", action="store_true", help="reuse an existing store: finished runs are not redone")
    p.add_argument("--data-root", metavar="DIR",
                   help="folder with mnist / fashion_mnist / cifar10 in torchvision's layout (never downloaded)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv=None) -> int:
    from nctheory.reproduce.experiments import check_claims

    args = parser().parse_args(argv)
    try:
        check_claims(args.claims)
    except NCTheoryError as error:
        print(f"python -m nctheory.reproduce: error: --claims: {error}", file=sys.stderr)
        return EXIT_USAGE
    from nctheory.reproduce.run import reproduce

    variant = "quick" if args.quick else "full"
    command = "python -m nctheory.reproduce " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        claims = reproduce(variant, out=args.out, claims=args.claims, store=args.store, resume=args.resume,
                           data_root=args.data_root, progress=not args.quiet, command=command.strip())
    except NCTheoryError as error:
        print(f"python -m nctheory.reproduce: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("python -m nctheory.reproduce: interrupted; finished runs are in the store (--resume completes it)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    out = args.out or f"reproduce_{variant}"
    for c in claims:
        print(f"{c.name:14s} {c.verdict}")
    print(f"report: {out}/report.md")
    return 0
