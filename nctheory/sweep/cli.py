"""``python -m nctheory.sweep SPEC``: run a sweep specification into a result store.

Usage::

    python -m nctheory.sweep numerics/sweeps/ufm_grid.toml --dry-run   # runs, batches, time estimate
    python -m nctheory.sweep numerics/sweeps/ufm_grid.toml             # -> ./ufm_grid.sqlite
    python -m nctheory.sweep SPEC --resume                              # after a kill: finish it
    python -m nctheory.sweep SPEC --workers 4                           # a local Dask cluster
    python -m nctheory.sweep SPEC --scheduler tcp://host:8786           # an existing one (SLURM...)
    python -m nctheory.sweep SPEC --export results.parquet              # also write a table

The store defaults to the spec file's stem plus ``.sqlite`` *in the current directory* (not
next to the spec, which may sit in a read-only or version-controlled tree); ``--store``
chooses another file. An existing store is refused unless ``--resume`` (continue it: runs
already done are skipped by ``run_id``, failed ones retried) or ``--force`` (replace it).

The spec is parsed and every run validated before anything runs; a bad spec is one line on
stderr naming the file, the line and the key, and exit status 2 (docs/sweeps.md).

Exit status: 0 every run finished or diverged (divergence is a result), 1 some runs failed
(each recorded with its error), 2 bad usage or specification, 130 interrupted (what finished
is in the store; ``--resume`` completes it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nctheory.cli.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE
from nctheory.errors import NCTheoryError
from nctheory.sweep.groups import DEFAULT_MAX_BATCH

EXIT_OK, EXIT_RUNS_FAILED = 0, 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nctheory.sweep", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Spec format, store schema, Dask and SLURM: docs/sweeps.md")
    p.add_argument("spec", metavar="SPEC", help="a sweep specification (.toml)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the number of runs, the batches and a time estimate; run nothing, write nothing")
    p.add_argument("--no-estimate", action="store_true", help="with --dry-run: skip the timed calibration")
    p.add_argument("--store", metavar="PATH", help="the SQLite result store (default: ./<SPEC stem>.sqlite)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an existing store: skip its done runs")
    mode.add_argument("--force", action="store_true", help="replace an existing store")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive, metavar="N", help="run on a local Dask cluster of N processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask scheduler (tcp://host:8786 or a scheduler file *.json)")
    p.add_argument("--max-batch", type=_positive, default=DEFAULT_MAX_BATCH, metavar="N",
                   help=f"at most N runs in one batch (default {DEFAULT_MAX_BATCH})")
    p.add_argument("--export", metavar="FILE", help="afterwards, write the runs table to FILE (.parquet or .csv)")
    p.add_argument("--quiet", action="store_true", help="no progress and no final line")
    return p


def default_store(spec_path) -> Path:
    """``./<stem>.sqlite``: the spec file's stem, in the current directory."""
    return Path.cwd() / (Path(spec_path).stem + ".sqlite")


def dry_run(sweep, store_path, args, out=None) -> None:
    """Print what a run would do: runs, groups and batches, store state, time estimate."""
    out = sys.stdout if out is None else out
    from nctheory.sweep.estimate import CALIBRATION_RUNS, estimate, format_seconds
    from nctheory.sweep.groups import plan

    runs = sweep.runs()
    done = set()
    if Path(store_path).exists() and Path(store_path).stat().st_size > 0:
        from nctheory.sweep.store import ResultStore

        with ResultStore(store_path, create=False) as store:
            done = store.finished_ids()
    todo = [run for run in runs if run.run_id not in done] if args.resume else runs
    batches = plan(todo, max_batch=args.max_batch, min_batches=args.workers or 1) if todo else []
    found = estimate(batches, workers=args.workers or 1, timed=not args.no_estimate)
    dup = f", {sweep.duplicates} duplicate(s) kept once" if sweep.duplicates else ""
    print(f"sweep {sweep.name!r} ({sweep.source}): {len(runs)} runs{dup}", file=out)
    if done:
        ran = sum(1 for run in runs if run.run_id in done)
        action = f"--resume runs the other {len(runs) - ran}" if args.resume else "refused without --resume or --force"
        print(f"store {store_path}: exists, {ran} of these runs done; {action}", file=out)
    else:
        print(f"store {store_path}: {'exists (none of these runs done)' if Path(store_path).exists() else 'new'}",
              file=out)
    print(f"{len(todo)} runs to execute in {len(batches)} batch(es) of at most {args.max_batch} runs, "
          f"{len(found.groups)} group(s) that batch together:", file=out)
    for i, group in enumerate(found.groups, 1):
        sizes = group.batches
        shape = f"{len(sizes)} batch{'es' if len(sizes) != 1 else ''} of {min(sizes)}-{max(sizes)}" \
            if len(set(sizes)) > 1 else f"{len(sizes)} batch{'es' if len(sizes) != 1 else ''} of {sizes[0]}"
        timing = "" if args.no_estimate else f"; ~{format_seconds(group.seconds)} ({group.method})"
        print(f"  {i:3d}. {group.runs:5d} runs ({shape}): {group.key.describe()}{timing}", file=out)
    if args.no_estimate:
        print("time estimate: skipped (--no-estimate)", file=out)
    else:
        where = f"on {args.workers} local workers (ideal balance)" if args.workers else (
            "one process; divide by the cluster's workers" if args.scheduler else "this machine, one process")
        partial = "" if found.complete else " (groups marked unknown not included)"
        print(f"time estimate: ~{format_seconds(found.total_s)} {where}{partial}. Calibrated: each group's first "
              f"batch (at most {CALIBRATION_RUNS} runs) timed at two short step budgets, extrapolated linearly "
              f"in steps and batch size; metrics between the first and last step not included (~10%).", file=out)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    store_path = args.store or "the store"
    try:
        from nctheory.sweep.spec import load_spec

        sweep = load_spec(args.spec)
        sweep.runs()  # validate every run before anything runs
        store_path = Path(args.store) if args.store else default_store(args.spec)
        if args.dry_run:
            dry_run(sweep, store_path, args)
            return EXIT_OK
        from nctheory.sweep.execute import run_sweep

        summary = run_sweep(sweep, store_path, resume=args.resume, force=args.force,
                            scheduler=args.scheduler, workers=args.workers, progress=not args.quiet,
                            max_batch=args.max_batch)
        if args.export:
            from nctheory.sweep.tables import export

            export(store_path, args.export)
            if not args.quiet:
                print(f"exported {args.export}", file=sys.stderr)
    except NCTheoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"interrupted: the runs finished so far are in {store_path}; rerun with --resume to complete the sweep",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_RUNS_FAILED if summary.failed else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
