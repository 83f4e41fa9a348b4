"""Benchmark: UFM training steps per second on every available backend, and the cost of
recording the NC metrics.

For each backend (numpy and torch-cpu always; torch-cuda and cupy when a GPU is there) and
two problem sizes -- THEORY.md's small UFM (K = 5, d = 16, n = 8) and a larger one
(K = 10, d = 64, n = 100) -- it times :func:`nctheory.runs.training.run_training` with
``sgd_momentum`` in float64:

* ``record_every=0`` (row sums only, no metrics) -> steps per second;
* the default ``record_every`` (:func:`nctheory.runs.training.default_record_every`) and
  ``record_every=10`` -> the relative overhead of metric recording, both as
  ``t_with / t_none - 1`` (best of repeats) and, robust to the machine's load changing
  between runs, as the time inside the metric code over the rest of the same run; and the
  time per metric evaluation.

Runs use ``num_threads=1`` (torch and BLAS; see ``run_training``) unless ``--threads``.

Writes numerics/results/bench_ufm.json and prints a table.
Timings are wall-clock on whatever else the machine is running: the JSON keeps the load
average before and after. Run: ``python numerics/bench_ufm.py [--steps N] [--repeats R]
[--threads T]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from nctheory.runs.backends import available_backends
from nctheory.runs.training import default_record_every, run_training

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"small": {"num_classes": 5, "dim": 16, "samples_per_class": 8},
         "large": {"num_classes": 10, "dim": 64, "samples_per_class": 100}}
HPARAMS = {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-3}


THREADS = 1


def _run(backend, size, steps, record_every):
    start = time.perf_counter()
    record = run_training("sgd_momentum", HPARAMS, model="ufm", steps=steps, backend=backend.name,
                          device=backend.device, dtype="float64", record_every=record_every,
                          num_threads=THREADS, **size)
    return time.perf_counter() - start, record


def _best_times(backend, size, steps, intervals, repeats):
    """Best wall time per metric interval; the intervals are interleaved in every repeat so
    that a change in machine load affects all of them alike."""
    best = {k: float("inf") for k in intervals}
    records = {}
    for _ in range(repeats):
        for k in intervals:
            elapsed, records[k] = _run(backend, size, steps, k)
            best[k] = min(best[k], elapsed)
    return best, records


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for CPU runs (run_training's num_threads; default 1)")
    args = parser.parse_args(argv)
    global THREADS
    THREADS = args.threads
    load_before = os.getloadavg()
    record_every = default_record_every("ufm", 0, None)
    results = {"steps": args.steps, "repeats": args.repeats, "optimizer": "sgd_momentum",
               "hparams": HPARAMS, "default_record_every": record_every,
               "machine": platform.machine(), "processor": platform.processor(),
               "torch": torch.__version__, "torch_threads": args.threads,
               "cpu_count": os.cpu_count(),
               "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "cases": []}
    for backend in available_backends():
        for size_name, size in SIZES.items():
            _run(backend, size, 50, 10)  # warm-up: imports, kernels, caches
            best, recs = _best_times(backend, size, args.steps, (0, record_every, 10), args.repeats)
            t_none, t_default, t_every10 = best[0], best[record_every], best[10]
            rec, rec10 = recs[record_every], recs[10]
            case = {"backend": backend.label, "size": size_name, **size,
                    "steps_per_s": args.steps / t_none,
                    "us_per_step": t_none / args.steps * 1e6,
                    "metric_evaluations": int(len(rec.metric_steps)),
                    "overhead_default": t_default / t_none - 1.0,
                    # time inside the metric code / the rest, within the same run: robust
                    # to changes in machine load between runs
                    "overhead_default_in_run": rec.metric_time_s / (rec.wall_time_s - rec.metric_time_s),
                    "overhead_record_every_10_in_run": rec10.metric_time_s / (rec10.wall_time_s - rec10.metric_time_s),
                    "overhead_record_every_10": t_every10 / t_none - 1.0,
                    "ms_per_metric_evaluation": rec10.metric_time_s / max(len(rec10.metric_steps), 1) * 1e3}
            results["cases"].append(case)
    results["load_average_before_after"] = [load_before[0], os.getloadavg()[0]]
    out = ROOT / "numerics" / "results" / "bench_ufm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"UFM sgd_momentum float64, {args.steps} steps, best of {args.repeats}; "
          f"default record_every={record_every}; torch threads {args.threads}; "
          f"1-min load average {results['load_average_before_after']}")
    print("overhead = extra wall time versus record_every=0 (best of repeats); in-run = time in the "
          "metric code / the rest of the same run")
    print(f"{'backend':10s} {'size':6s} {'steps/s':>9s} {'us/step':>8s} {'ms/metric':>9s} "
          f"{'@default':>9s} {'in-run':>7s} {'@10':>7s} {'in-run':>7s}")
    for c in results["cases"]:
        print(f"{c['backend']:10s} {c['size']:6s} {c['steps_per_s']:9.0f} {c['us_per_step']:8.1f} "
              f"{c['ms_per_metric_evaluation']:9.3f} {100 * c['overhead_default']:8.1f}% "
              f"{100 * c['overhead_default_in_run']:6.1f}% {100 * c['overhead_record_every_10']:6.1f}% "
              f"{100 * c['overhead_record_every_10_in_run']:6.1f}%")
    return results


if __name__ == "__main__":
    main()
