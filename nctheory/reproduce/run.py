"""End to end: run the experiments of the chosen claims through the sweep engine, analyse
them, draw the figures and write the report (:func:`reproduce`)."""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from nctheory.errors import NCTheoryError
from nctheory.reproduce import experiments as ex


def machine_facts() -> dict:
    """What the timings depend on: CPU, cores, load average (the machine may be shared)."""
    facts = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()} {platform.release()}",
             "python": platform.python_version()}
    try:
        import torch

        facts["torch"] = torch.__version__ + (f", GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
                                              else ", no GPU")
    except Exception:  # noqa: BLE001 -- facts only
        pass
    try:
        facts["load average (1, 5, 15 min) at start"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return facts


def reproduce(variant: str = "quick", out=None, claims=None, store=None, resume: bool = False,
              data_root=None, progress: bool = True, spec_dir=None, command: str | None = None) -> list:
    """Run, analyse and report; returns the :class:`~nctheory.reproduce.claim.ClaimResult` list.

    Args:
        variant: "quick" (CPU, minutes) or "full" (documented; hours on CPU).
        out: output folder (default ``reproduce_VARIANT``): ``report.md``,
            ``appendix_reproduction.tex``, ``figures/`` (PDF + PNG), ``timing.json``.
        claims: claim names (default: all of :data:`~nctheory.reproduce.experiments.CLAIMS`).
        store: the SQLite store (default ``OUT/reproduce.sqlite``). An existing store is
            refused unless ``resume`` (then its finished runs are not redone).
        data_root: folder with MNIST / FashionMNIST / CIFAR-10 in torchvision's layout.
    """
    from nctheory.reproduce.report import latex, markdown

    names = ex.check_claims(claims)
    out = Path(out or f"reproduce_{variant}")
    store = Path(store) if store is not None else out / "reproduce.sqlite"
    if store.exists() and store.stat().st_size > 0 and not resume:
        raise NCTheoryError(f"store {str(store)!r} exists: pass --resume to reuse its finished runs, or another --store")
    out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts()
    started = time.perf_counter()
    runs_by_experiment, timings, reused = {}, {}, 0
    stems, skipped = [], {}
    for e in ex.experiments_for(names, variant, spec_dir):
        if data_root is None and ex.needs_data_root(e, variant, spec_dir):
            skipped[e] = "needs --data-root (MNIST / FashionMNIST / CIFAR-10 are read from a folder, never downloaded)"
        else:
            stems.append(e)
    loaded = {e: ex.load_sweep(e, variant, data_root, spec_dir) for e in stems}  # validate all before running
    for experiment in stems:
        runs, sweep_name = loaded[experiment]
        t0 = time.perf_counter()
        if progress:
            print(f"[reproduce] {experiment}: {len(runs)} runs ({sweep_name})", file=sys.stderr, flush=True)
        summary = ex.execute(runs, store, progress=progress)
        reused += summary.skipped
        timings[experiment] = time.perf_counter() - t0
        runs_by_experiment[experiment] = runs
    train_time = time.perf_counter() - started
    results = {e: ex.results_for(r, store) for e, r in runs_by_experiment.items()}
    figdir = out / "figures"
    claims_out = []
    for name in names:
        claim_def = ex.CLAIMS[name]
        used = [e for e in (claim_def.experiments or stems) if e in stems]
        pool = [r for e in used for r in results.get(e, [])]
        pool = list({r.run_id: r for r in pool}.values())
        module = claim_def.analyser()
        claim = module.analyse(pool)
        claim.experiments = [f"numerics/reproduce/{e}_{variant}.toml" for e in used]
        claim.figures = list(module.figures(claim, figdir))
        claims_out.append(claim)
    total = time.perf_counter() - started
    counts = {}
    for rs in results.values():
        for r in rs:
            counts[r.status] = counts.get(r.status, 0) + 1
    try:
        load_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load_end = "n/a"
    facts.update({
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "nctheory": _version(), "git commit": _commit(),
        "wall time": f"{total:.0f} s in all; training {train_time:.0f} s ("
                     + ", ".join(f"{e} {t:.0f} s" for e, t in timings.items()) + f"); analysis and figures "
                     f"{total - train_time:.0f} s",
        "load average at the end": load_end,
        **({"skipped experiments": "; ".join(f"{e}: {why}" for e, why in skipped.items())} if skipped else {}),
        "runs": ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" (store `{store}`)"
                + (f"; {reused} of them reused from the store (--resume), so the training time above does not "
                   f"include them" if reused else "")})
    context = {"variant": variant, "facts": facts,
               "command": command or f"python -m nctheory.reproduce{' --quick' if variant == 'quick' else ''}"}
    (out / "report.md").write_text(markdown(claims_out, context, out), encoding="utf-8")
    (out / "appendix_reproduction.tex").write_text(latex(claims_out, context), encoding="utf-8")
    import json

    (out / "timing.json").write_text(json.dumps({"variant": variant, "total_s": total, "training_s": train_time,
                                                 "experiments_s": timings, "facts": facts,
                                                 "verdicts": {c.name: c.verdict for c in claims_out}},
                                                indent=2) + "\n", encoding="utf-8")
    return claims_out


def _version() -> str:
    from nctheory.sweep.store import package_version

    return package_version()


def _commit() -> str:
    from nctheory.sweep.store import git_state

    commit, dirty = git_state()
    return "unknown" if commit is None else commit[:12] + (" (with uncommitted changes)" if dirty else "")
