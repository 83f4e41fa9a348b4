"""The Markdown summary of numerics/bench_sweep.py's report (numerics/results/bench_sweep.md)."""

from __future__ import annotations

#: The UFM figures of the engine before its stacked metrics (commit 92ee8e8, whose
#: numerics/results/bench_sweep.json and bench_sweep_float32.json hold them: same machine,
#: same script, the best of two measurements each), when every run's metrics were computed
#: one run at a time by the one-run functions.
PREVIOUS = {"commit": "92ee8e8", "ufm_batched_s": 1.361, "ufm_loop_s": 9.839, "ufm_ratio": 7.23,
            "ufm_batched_numpy_s": 0.901, "ufm_ratio_numpy": 10.92,
            "float32": {"ufm_batched_s": 0.833, "ufm_loop_s": 11.006, "ufm_ratio": 13.22,
                        "ufm_batched_numpy_s": 0.76, "ufm_ratio_numpy": 14.49}}

#: The batched UFM sweep (200 runs, 200 steps) with the metrics one run at a time (``before``:
#: ``stacked_metrics`` switched off, the loop's per-run path) and all at once (``after``), timed
#: alternately in one process, three times each (CPU seconds; measured while developing this
#: revision, not by the benchmark script).
SAME_CONDITIONS = {"float64": {"torch": {"before": [1.838, 1.86, 1.758], "after": [1.433, 1.704, 1.355]},
                               "numpy": {"before": [1.22, 1.466, 1.102], "after": [0.942, 1.028, 0.948]}},
                   "float32": {"torch": {"before": [0.888, 0.793, 0.897], "after": [0.658, 0.714, 0.641]},
                               "numpy": {"before": [0.796, 0.685, 0.667], "after": [0.5, 0.488, 0.5]}}}


def _per_step(report, key, seconds_key):
    r = report[key]
    return r[seconds_key] / (r["runs"] * r["steps"]) * 1e6


def _parts_table(parts) -> list:
    lines = [("| backend | optimizer | loss + gradients | optimizer step (in place / not) | metrics (all runs at once "
              "/ one at a time) | row sums | sum | of which the 3 matrix products |"), "|---|---|---|---|---|---|---|---|"]
    for backend, groups in parts.items():
        for name, p in groups.items():
            lines.append(f"| {backend} | {name} | {p['loss_and_grads']} | {p['chain_step_in_place']} / "
                         f"{p['chain_step_functional']} | {p['metrics']} / {p.get('metrics_one_at_a_time', '-')} | {p['row_sums']} | "
                         f"{p['step_total_in_place']} | {p['matmuls']} |")
    return lines


def markdown(report) -> str:
    """A short summary of the report."""
    m, g = report["machine"], report["goals"]
    lines = [f"# Batched sweep engine vs the loop of separate torch.optim runs ({m['device']}, {m['dtype']})", "",
             f"Machine: {m['processor']}, {m['cpus']} CPUs, torch {m['torch']}, {m['num_threads']} thread(s); "
             f"load average {m['load_average_at_start'][0]} at the start, {m['load_average_at_end'][0]} at the end "
             f"(other processes shared the cores; rates use " + ("CPU time" if m["device"] == "cpu" else "wall time")
             + f"). Matmul peak measured here: {report['matmul']['gflops']} GFLOP/s.", "",
             "| sweep | runs | batched runs/s | loop runs/s | ratio | batched GFLOP/s (of peak) | row sums agree to |",
             "|---|---|---|---|---|---|---|"]
    for key, label in (("ufm", "UFM K=10 d=16 n=10"), ("mlp", "digits MLP w=64 B=128"),
                       ("larger", "digits MLP w=512 B=512")):
        r = report[key]
        flops = f"{r['batched_gflops']} ({r['batched_fraction_of_matmul']:.0%})" if "batched_gflops" in r else "-"
        lines.append(f"| {label} | {r['runs']} | {r['batched_runs_per_s']} | {r['loop_runs_per_s']} | {r['ratio']}x | "
                     f"{flops} | {r['max_relative_row_sum_gap_batched_vs_loop']:.1e} |")
    u, big, prev = report["ufm"], report["larger"], report.get("previous", PREVIOUS)
    prev = prev.get(m["dtype"], prev) if m["dtype"] != "float64" else prev
    lines += ["", f"Goals: UFM ratio >= {g['ufm_ratio']}x: **{'met' if u['goal_met'] else 'not met'}** "
              f"({u['ratio']}x on torch" + (f", {u['ratio_numpy']}x with the batched numpy UFM" if "ratio_numpy" in u
                                              else "") + f"; the package's own run_one path: "
              f"{u['run_one_runs_per_s']} runs/s). Larger size >= {g['larger_fraction_of_matmul']:.0%} of matmul "
              f"throughput: **{'met' if big['goal_met'] else 'not met'}** ({big['batched_fraction_of_matmul']:.0%}).",
              "", report.get("gpu_run", "GPU: " + str(m.get("gpu")))]
    loop_us, batched_us = _per_step(report, "ufm", "loop_s"), _per_step(report, "ufm", "batched_s")
    lines += ["", "## The UFM ratio", "",
              f"UFM timings are the best of {len(u.get('batched_s_samples', [1]))} alternating measurements of each "
              f"(batched {u.get('batched_s_samples')} s, loop {u.get('loop_s_samples')} s). Before this revision "
              f"(commit {prev['commit'] if 'commit' in prev else PREVIOUS['commit']}, {m['dtype']}) the batched UFM "
              f"took {prev['ufm_batched_s']} s against the loop's "
              f"{prev['ufm_loop_s']} s: {prev['ufm_ratio']}x on torch, {prev['ufm_ratio_numpy']}x on numpy; now "
              f"{u['batched_s']} s against {u['loop_s']} s: {u['ratio']}x on torch"
              + (f", {u['ratio_numpy']}x on numpy ({u['batched_numpy_s']} s)" if "ratio_numpy" in u else "") + ". "
              "Single measurements on this shared machine move by 10-30%; timed alternately in one process, "
              "metrics one run at a time against all at once: " + "; ".join(
                  f"{b} {v['before']} s before, {v['after']} s after (best {min(v['after']) / min(v['before']) - 1:+.0%})"
                  for b, v in SAME_CONDITIONS.get(m["dtype"], {}).items()) + ". "
              "The change: the NC metrics, loss and accuracy of all runs of a UFM batch are computed at once "
              "(nctheory.sweep.batched.metrics: the formulas of nc_metrics with a run axis, equal to the one-run "
              "functions to 1e-12, tests/test_sweep_batched_metrics.py) instead of one run at a time.", "",
              (f"The loop spends {loop_us:.0f} us per run and step: the overhead of some fifteen small torch calls "
              f"(zero_grad, two products, cross-entropy, backward, the optimizer's per-tensor updates, the row "
              f"sum). The batched engine (torch) spends {batched_us:.0f} us, mostly work, not overhead -- measured "
              "part by part on one 100-run batch (microseconds per run and step, best of repeats; numerics/"
              "bench_sweep_parts.py; the parts of one step add up to less than the sweep's time per step: the "
              "rest is the loop's per-step bookkeeping, building the batches and their results, and the page "
              "faults of fresh arrays, which these best-of measurements mostly miss):"), ""]
    if "ufm_parts" in report:
        lines += _parts_table(report["ufm_parts"])
    parts = [p for groups in report.get("ufm_parts", {}).values() for p in groups.values()]
    span = lambda key: f"{min(p[key] for p in parts):.1f}-{max(p[key] for p in parts):.1f}"
    # per backend, the parts of one step averaged over the sweep's groups (equal numbers of runs)
    sums = {b: sum(p["step_total_in_place"] for p in g.values()) / len(g) for b, g in report.get("ufm_parts", {}).items()}
    floor = min(sums.values()) if sums else float("nan")
    best = min(sums, key=sums.get) if sums else "-"
    lines += ["", (f"20x would need at most {loop_us / 20:.1f} us per run and step. The NC metrics, loss and "
              f"accuracy of all runs at once cost {span('metrics')} us of it (one run at a time, the path before "
              f"this revision: {span('metrics_one_at_a_time') if all('metrics_one_at_a_time' in p for p in parts) else '-'} us), "
              f"and the three small batched matrix products (10 x 16 x 100 per run) {span('matmuls')} us: batched "
              "products of such small matrices run far below the peak (torch's CPU bmm at about a third of "
              "numpy's rate here); the softmax cross-entropy and its gradient, on 1,000 logits per run with "
              f"exp and log in {m['dtype']}, and the optimizer's passes over 1,760 parameters per run (a dozen for "
              "Adam, a square root among them) take the rest. Averaged over the sweep's two optimizers the parts "
              f"add up to {floor:.1f} us on {best} (the faster backend), so even with no overhead at all the "
              f"ratio would stay below {loop_us / floor:.0f}x. Other batch sizes do not help: "
              "splitting the 200 runs into chunks that fit the 2 MiB L2 cache (12-50 runs) measured no faster "
              "than batches of 100 (measured while developing the in-place revision, not by this script: the "
              "per-step Python overhead, 70-350 us per batch step, grows as the chunks shrink), and larger "
              "batches only lengthen the element-wise passes. Beyond this, 20x on this CPU on one thread would "
              "take fusing the element-wise passes into one compiled kernel (no longer the spec's own chain, "
              "run as written). On a GPU one batched step costs about one run's kernel launches, so "
              "the ratio grows with the batch; not measured here.")]
    mlp = (_per_step(report, "mlp", "loop_s"), _per_step(report, "mlp", "batched_s"))
    lines += ["", "## Networks", "", (f"Digits MLP (width 64): {mlp[0]:.0f} us per run and step in the loop, "
              f"{mlp[1]:.0f} in the batch. At width 512 a run's own matrix products are large enough for the "
              "BLAS, so the loop is already efficient and batching gains nothing (ratio about 1); the engine "
              "reaches the FLOP goal there by keeping each batch's parameters within the CPU's cache "
              "(CPU_BATCH_BYTES of nctheory.sweep.batched.engine: batches of "
              f"{report['larger']['runs_per_batch']} runs here).")]
    return "\n".join(lines) + "\n"
