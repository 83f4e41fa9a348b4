"""Benchmark: the batched sweep engine against the obvious loop of separate torch.optim runs.

Three sweeps, each run twice -- by ``nctheory.sweep.batched.run_batch`` (all runs of a group
as one tensor program, the spec's update rule) and by the loop a user would write (for each
run: seed, build the model, ``torch.optim.SGD``/``AdamW``, step, record the row sums every step
and the same metrics at the same steps with the same functions):

1. **UFM, 200 runs** (K = 10, d = 16, n = 10 per class, full batch, 200 steps, metrics at
   steps 0 and 200): SGD with momentum and AdamW x 10 learning rates x 5 weight decays x 2 seeds.
   Per-run work is small; goal: batched >= 20x the loop's runs/s.
2. **Digits MLP, 64 runs** (width 64, minibatches of 128, 60 steps): heavy ball x 4 lr x 4
   weight decays x 4 seeds.
3. **The larger size, 32 runs**: the digits MLP at width 512 with minibatches of 512 (10
   steps, row sums every step, no NC metrics: the training throughput), where matrix
   products dominate: the hidden layers' batched products are (32, 512, 512) x (32, 512, 512),
   large enough for the BLAS to run near its square-matmul rate (measured 37 against
   41 GFLOP/s here), while at width 256 the products run at 75% of it and the element-wise
   work (ReLU, biases, the optimizer) weighs twice as much. Goal: the batched engine's achieved FLOP/s (the
   matrix-product FLOPs of forward and backward passes, counted analytically, over its whole
   wall time) >= 50% of this machine's matmul throughput, measured here at the same dtype
   and thread count (square matmuls, best of several sizes).

The UFM sweep is timed twice for each side, alternating, and the best of each is kept (the
machine's other processes disturb single measurements by 10-30%); every timed section starts
after ``gc.collect()``. Where a batched UFM step's time goes is measured part by part
(numerics/bench_sweep_parts.py: loss and gradients, the optimizer step in place and not,
metrics, the bare matrix products), and the summary (numerics/bench_sweep_report.py) compares
with the engine's previous revision.

Also reported: the batched UFM on numpy (CPU only), the package's own one-at-a-time path
(``run_one``, which adds the verdict's per-step norms and ``from_torch``) on a subset, and a
correctness check: the largest relative gaps between the batched and the loop's row sums
(every step) and recorded metrics.

Times are the process's CPU time on CPU (this machine's two cores are shared with other
processes: wall time measures their load too; the wall times are reported alongside) and
wall time on CUDA. One thread everywhere (``--num-threads``), for the loop, the engine and
the matmul reference alike.

Usage::

    python numerics/bench_sweep.py                      # CPU, float64, 1 thread
    python numerics/bench_sweep.py --device cuda        # on a GPU
    python numerics/bench_sweep.py --quick              # small sizes, a smoke test

Writes numerics/results/bench_sweep.json unless --out is given (--quick: to the temporary folder).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from bench_sweep_parts import ufm_parts
from bench_sweep_report import PREVIOUS, markdown

from nctheory.runs.collapse_metrics import nc_metrics
from nctheory.runs.ufm import init_ufm
from nctheory.sweep import SweepRun
from nctheory.sweep.batched import run_batch

HERE = Path(__file__).resolve().parent
METRICS = ("nc0", "nc1", "nc2", "nc3", "nc4", "loss", "accuracy")
UFM = {"num_classes": 10, "dim": 16, "samples_per_class": 10}
TORCH_OPTIM = {"sgd_momentum": torch.optim.SGD, "adamw": torch.optim.AdamW}


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    """``(seconds, output)``: on CPU the process's CPU time (the cores are shared with other
    processes, whose load inflates wall time but not our CPU time; one thread: CPU time is
    what the wall time would be on an idle machine), on CUDA wall time."""
    gc.collect()  # garbage left by earlier sections is not this section's cost
    sync(device)
    clock = time.perf_counter if device == "cuda" else time.process_time
    wall, start = time.perf_counter(), clock()
    out = fn()
    sync(device)
    seconds = clock() - start
    WALL.append(time.perf_counter() - wall)
    return seconds, out


#: wall-clock seconds of every timed section, in order (reported next to the CPU times)
WALL: list = []


# ---------------------------------------------------------------------- the machine's matmul rate
def matmul_rate(device, dtype, sizes=(256, 512, 1024, 2048), repeats=5) -> dict:
    """Best FLOP/s of square ``A @ B`` (2 n^3 FLOPs) over sizes, best of ``repeats``."""
    out = {}
    for n in sizes:
        A = torch.randn(n, n, dtype=dtype, device=device)
        B = torch.randn(n, n, dtype=dtype, device=device)
        A @ B
        best = min(timed(lambda A=A, B=B: A @ B, device)[0] for _ in range(repeats))
        out[n] = 2 * n ** 3 / best
    return {"gflops_by_size": {str(n): round(v / 1e9, 2) for n, v in out.items()},
            "gflops": round(max(out.values()) / 1e9, 2)}


# ---------------------------------------------------------------------- the obvious loops
def torch_optimizer(run, params):
    hp = dict(run.hparams)
    cls = TORCH_OPTIM[run.optimizer]
    kwargs = {k: v for k, v in hp.items() if k in ("lr", "momentum", "weight_decay")}
    return cls(params, **kwargs)


def loop_ufm(run, device, dtype):
    """One UFM run as a user writes it; returns the row sums (steps + 1, d) and the metrics."""
    c = dict(run.config)
    host, y = init_ufm(UFM["num_classes"], UFM["samples_per_class"], UFM["dim"], seed=c["seed"])
    W = torch.tensor(host["W"], dtype=dtype, device=device, requires_grad=True)
    H = torch.tensor(host["H"], dtype=dtype, device=device, requires_grad=True)
    y = torch.as_tensor(y, device=device)
    opt = torch_optimizer(run, [W, H])
    rows, metrics = [W.detach().sum(0)], []

    def measure():
        with torch.no_grad():
            Z = H @ W.T
            m = nc_metrics(W.detach(), H.detach(), y, None, UFM["num_classes"])
            m["loss"], m["accuracy"] = float(F.cross_entropy(Z, y)), float((Z.argmax(1) == y).double().mean())
            metrics.append(m)

    measure()
    for t in range(c["steps"]):
        opt.zero_grad()
        F.cross_entropy(H @ W.T, y).backward()
        opt.step()
        rows.append(W.detach().sum(0))
        if (t + 1) % c["record_every"] == 0 or t + 1 == c["steps"]:
            measure()
    return torch.stack(rows).cpu().numpy(), metrics


def loop_mlp(run, device, dtype, data):
    """One digits-MLP run as a user writes it (seeded model, seeded epoch permutations)."""
    from nctheory.runs.architectures import build_model
    from nctheory.runs.models import penultimate_features

    c = dict(run.config)
    X, y = data
    torch.manual_seed(c["seed"])
    net = build_model("mlp", tuple(X.shape[1:]), 10, width=c["width"], dtype=dtype).to(device)
    opt = torch_optimizer(run, net.parameters())
    rng, order, B = np.random.default_rng([c["seed"], 1]), [], c["batch_size"]
    rows, metrics = [net.fc.weight.detach().sum(0)], []

    def measure():
        H, Z = penultimate_features(net, X, net.fc)
        m = nc_metrics(net.fc.weight.detach(), H, y, net.fc.bias.detach(), 10)
        m["loss"], m["accuracy"] = float(F.cross_entropy(Z, y)), float((Z.argmax(1) == y).double().mean())
        metrics.append(m)

    if c["record_every"]:
        measure()
    for t in range(c["steps"]):
        if not order:
            perm = rng.permutation(X.shape[0])
            order = [perm[i:i + B] for i in range(0, X.shape[0], B)]
        rows_t = torch.as_tensor(order.pop(0), device=device)
        opt.zero_grad()
        F.cross_entropy(net(X[rows_t]), y[rows_t]).backward()
        opt.step()
        rows.append(net.fc.weight.detach().sum(0))
        if c["record_every"] and ((t + 1) % c["record_every"] == 0 or t + 1 == c["steps"]):
            measure()
    return torch.stack(rows).cpu().numpy(), metrics


# ---------------------------------------------------------------------- sweeps
def ufm_runs(backend, device, dtype_name, steps, lrs=10, wds=5, seeds=2):
    grid = {"sgd_momentum": (np.geomspace(0.01, 0.3, lrs), {"momentum": 0.9}),
            "adamw": (np.geomspace(1e-3, 3e-2, lrs), {})}
    runs = []
    for name, (rates, extra) in grid.items():
        for lr, wd, seed in itertools.product(rates, np.geomspace(1e-4, 1e-2, wds), range(seeds)):
            runs.append(SweepRun.make(name, {"lr": float(lr), "weight_decay": float(wd), **extra},
                                      dict(model="ufm", backend=backend, device=device, dtype=dtype_name,
                                           steps=steps, seed=seed, record_every=200, **UFM), METRICS))
    return runs


def mlp_runs(device, dtype_name, width, batch_size, steps, grid=(4, 4, 4), record_every=None):
    """Heavy ball on the digits MLP: ``grid`` = (learning rates, weight decays, seeds)."""
    every = steps if record_every is None else record_every
    lrs, wds, seeds = np.geomspace(0.01, 0.1, grid[0]), np.geomspace(1e-4, 1e-2, grid[1]), range(grid[2])
    return [SweepRun.make("sgd_momentum", {"lr": float(lr), "momentum": 0.9, "weight_decay": float(wd)},
                          {"model": "mlp", "device": device, "dtype": dtype_name, "width": width,
                           "batch_size": batch_size, "steps": steps, "seed": seed, "record_every": every}, METRICS)
            for lr, wd, seed in itertools.product(lrs, wds, seeds)]


def mlp_flops(width, batch_size, steps, num_samples, metric_evaluations, in_features=64, classes=10) -> float:
    """Matrix-product FLOPs of one run: forward 2B sum(in*out), backward twice that except the
    first layer's input gradient (not needed); each metric evaluation a forward pass over all
    samples."""
    shapes = [(in_features, width), (width, width), (width, width), (width, classes)]
    macs = sum(i * o for i, o in shapes)
    train = steps * batch_size * (6 * macs - 2 * shapes[0][0] * shapes[0][1])
    return float(train + metric_evaluations * 2 * num_samples * macs)


def series_gap(results, loop_out) -> float | None:
    """Largest relative gap (per series, to its largest magnitude) between the batched runs'
    recorded metrics and the loop's, over every run and metric (None: no metrics recorded)."""
    worst = None
    for result, (_, metrics) in zip(results, loop_out):
        for name, values in result.series.items():
            if name == "step" or not values:
                continue
            a, b = np.asarray(values, dtype=float), np.asarray([m[name] for m in metrics], dtype=float)
            scale = max(float(np.nanmax(np.abs(b))), 1e-300)
            worst = max(worst or 0.0, float(np.nanmax(np.abs(a - b))) / scale)
    return worst


def rows_gap(runs, loop_out, limit=16) -> float:
    """Largest relative gap between the batched row sums ``W_t^T 1_K`` (every step; the
    engine's records, computed again untimed) and the loop's, over the first ``limit`` runs."""
    from nctheory.sweep.batched.engine import Prepared, train_group

    groups: dict = {}
    for i, run in enumerate(runs[:limit]):
        groups.setdefault(run.optimizer, []).append(i)
    worst = 0.0
    for members in groups.values():
        records, _ = train_group([Prepared(runs[i]) for i in members])
        for i, record in zip(members, records):
            b = loop_out[i][0]
            worst = max(worst, float(np.abs(record.row_sums - b).max() / max(np.abs(b).max(), 1e-300)))
    return worst


def compare(name, runs, loop_one, device, extra=None, repeats=1) -> dict:
    """Time the batched engine and the loop on ``runs`` (after an untimed warm-up of both on two
    runs: first calls load code and allocate), ``repeats`` times each, alternating, keeping the
    best of each (the least disturbed by the machine's other processes); check they computed
    the same."""
    run_batch(runs[:2])
    [loop_one(r) for r in runs[:2]]
    samples = {"batched": [], "loop": []}
    for _ in range(repeats):
        batched_s, results = timed(lambda: run_batch(runs), device)
        samples["batched"].append((batched_s, WALL[-1]))
        assert all(r.status == "finished" for r in results), [r.error for r in results if r.error][:1]
        loop_s, loop_out = timed(lambda: [loop_one(r) for r in runs], device)
        samples["loop"].append((loop_s, WALL[-1]))
    (batched_s, batched_wall), (loop_s, loop_wall) = min(samples["batched"]), min(samples["loop"])
    out = {"runs": len(runs), "batched_s": round(batched_s, 3), "loop_s": round(loop_s, 3),
           "batched_s_samples": [round(t, 3) for t, _ in samples["batched"]],
           "loop_s_samples": [round(t, 3) for t, _ in samples["loop"]],
           "batched_wall_s": round(batched_wall, 3), "loop_wall_s": round(loop_wall, 3),
           "batched_runs_per_s": round(len(runs) / batched_s, 2), "loop_runs_per_s": round(len(runs) / loop_s, 2),
           "ratio": round(loop_s / batched_s, 2), "runs_per_batch": sorted({r.batch_runs for r in results}),
           "implementation": results[0].implementation, "metric_steps": results[0].series["step"],
           "max_relative_metric_gap_batched_vs_loop": series_gap(results, loop_out),
           "max_relative_row_sum_gap_batched_vs_loop": rows_gap(runs, loop_out)}
    out.update(extra or {})
    print(f"{name}: batched {out['batched_runs_per_s']} runs/s, loop {out['loop_runs_per_s']} runs/s, "
          f"ratio {out['ratio']}x (row sums agree to {out['max_relative_row_sum_gap_batched_vs_loop']:.1e})")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test, not a measurement)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.num_threads)
    device, dtype, q = args.device, getattr(torch, args.dtype), args.quick
    started = time.perf_counter()
    report = {"machine": {"platform": platform.platform(), "processor": _cpu_name(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "device": device,
                          "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
                          "num_threads": args.num_threads, "dtype": args.dtype,
                          "seconds": "process CPU time" if device == "cpu" else "wall time",
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
              "goals": {"ufm_ratio": 20, "larger_fraction_of_matmul": 0.5}}
    if device == "cpu":
        report["gpu_run"] = ("not possible in this session: no GPU was lent to it; run "
                             "`python numerics/bench_sweep.py --device cuda` on a GPU machine")
    sizes = (256, 512) if q else (256, 512, 1024, 2048)
    rates = [matmul_rate(device, dtype, sizes)]
    steps = 40 if q else 200
    runs = ufm_runs("torch", device, args.dtype, steps, *((2, 2, 2) if q else ()))
    report["ufm"] = compare("UFM", runs, lambda r: loop_ufm(r, device, dtype), device,
                            {"sizes": UFM, "steps": steps, "optimizers": sorted(TORCH_OPTIM)}, repeats=1 if q else 2)
    if device == "cpu":
        numpy_runs = ufm_runs("numpy", "cpu", args.dtype, steps, *((2, 2, 2) if q else ()))
        run_batch(numpy_runs[:2])
        t = min(timed(lambda: run_batch(numpy_runs), device)[0] for _ in range(1 if q else 2))
        report["ufm"]["batched_numpy_s"] = round(t, 3)
        report["ufm"]["batched_numpy_runs_per_s"] = round(len(runs) / t, 2)
        report["ufm"]["ratio_numpy"] = round(report["ufm"]["loop_s"] / t, 2)
    subset = runs[:: max(1, len(runs) // 10)]
    from nctheory.sweep.result import run_one

    run_one(subset[0])
    t, _ = timed(lambda: [run_one(r) for r in subset], device)
    report["ufm"]["run_one_runs_per_s"] = round(len(subset) / t, 2)
    report["ufm"]["run_one_subset"] = len(subset)
    report["ufm"]["goal_met"] = report["ufm"]["ratio"] >= 20
    if device == "cpu":  # where a batched step's time goes (microseconds per run and step)
        report["ufm_parts"] = ufm_parts(lambda backend: ufm_runs(backend, "cpu", args.dtype, steps,
                                                                 *((2, 2, 2) if q else ())))
    report["previous"] = PREVIOUS

    from nctheory.runs.training.config import RunConfig
    from nctheory.runs.training.runners import run_dataset

    d = run_dataset(RunConfig(model="mlp", dtype=args.dtype), args.dtype)
    data = (d.X.to(device), d.y.to(device))
    # the larger size measures training throughput: no metrics (record_every=0), row sums every step
    for key, (width, batch, mlp_steps, every, grid) in {
            "mlp": (64, 128, 20 if q else 60, None, (2, 2, 2) if q else (4, 4, 4)),
            "larger": (512, 512, 4 if q else 10, 0, (2, 2, 1) if q else (4, 4, 2))}.items():
        rates.append(matmul_rate(device, dtype, sizes))
        runs = mlp_runs(device, args.dtype, width, batch, mlp_steps, grid, record_every=every)
        result = compare(f"MLP width {width}", runs, lambda r: loop_mlp(r, device, dtype, data), device,
                         {"width": width, "batch_size": batch, "steps": mlp_steps, "num_samples": int(d.X.shape[0])})
        flops = len(runs) * mlp_flops(width, batch, mlp_steps, int(d.X.shape[0]), len(result["metric_steps"]))
        result["flops"] = flops
        result["batched_gflops"] = round(flops / result["batched_s"] / 1e9, 2)
        result["loop_gflops"] = round(flops / result["loop_s"] / 1e9, 2)
        report[key] = result
    rates.append(matmul_rate(device, dtype, sizes))
    peak = max(r["gflops"] for r in rates)
    report["matmul"] = {"measurements": rates, "gflops": peak,
                        "note": "best square-matmul rate over the sizes, measured at the start, before each MLP "
                                "sweep and at the end; the fractions use the best of all (the machine's peak "
                                "during this script)"}
    for key in ("mlp", "larger"):
        report[key]["batched_fraction_of_matmul"] = round(report[key]["batched_gflops"] / peak, 3)
        report[key]["loop_fraction_of_matmul"] = round(report[key]["loop_gflops"] / peak, 3)
    report["larger"]["goal_met"] = report["larger"]["batched_fraction_of_matmul"] >= 0.5
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["machine"]["script_seconds"] = round(time.perf_counter() - started, 1)
    print(f"matmul peak {peak} GFLOP/s; larger: {report['larger']['batched_fraction_of_matmul']:.0%} of it")
    default = HERE / "results" / "bench_sweep.json" if not q else Path(tempfile.gettempdir()) / "bench_sweep_quick.json"
    out = Path(args.out) if args.out else default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md').name}")
    return report


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
