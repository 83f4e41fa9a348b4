"""Reproduce THEORY.md section 4 on the UFM: coupled vs decoupled SignGD, Adam vs AdamW.

Setting of THEORY.md's "seen here" (UFM, K = 5, d = 16, 8 samples per class, 6000 steps,
SignGD on W and H, float64, numpy backend), three step sizes and three seeds each, with
the weight decay lambda = 5e-2 (THEORY.md does not state its lambda; the claims are
about how the plateau scales, which this measures). Recorded per run: the NC0 plateau
(median over the last 20% of steps), NC0_rel at the end, and for decoupled runs the
parity floor sqrt(d)/lambda (odd K). Two protocols:

* ``fixed``: 6000 steps for every step size (THEORY.md's setting);
* ``physical``: ``steps = PHYSICAL_TIME / (lr * lambda)``, i.e. the same number of decay
  time constants for every step size. The decoupled limit ``s -> -sigma/lambda`` is
  reached only after several time constants ``1 / (eta lambda)``; at 6000 steps and
  eta = 1e-3 only 0.3 of one has passed, so the fixed protocol still sees the transient.

Results: numerics/results/sign_scaling.json.

Run: ``python numerics/reproduce_sign_scaling.py`` (about half a minute on 2 cores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from nctheory.theory.symbolic.signbased import parity_lower_bound
from nctheory.runs.training import run_training

ROOT = Path(__file__).resolve().parent.parent
SIZES = dict(num_classes=5, dim=16, samples_per_class=8)
STEPS = 6000
WEIGHT_DECAY = 5e-2
LEARNING_RATES = (1e-2, 3e-3, 1e-3)
SEEDS = (0, 1, 2)
PHYSICAL_TIME = 5.0  # (1 - a)^t ~ e^-5 < 1%: the initial condition is forgotten


def plateau(record) -> tuple[float, float]:
    norms = np.linalg.norm(record.row_sums, axis=1)
    tail = norms[int(0.8 * len(norms)):]
    nc0_rel = record.metrics["nc0_rel"]
    return float(np.median(tail)), float(nc0_rel[np.isfinite(nc0_rel)][-1])


def slope(lrs, values) -> float:
    return float(np.polyfit(np.log(lrs), np.log(values), 1)[0])


def main() -> dict:
    results = {"sizes": SIZES, "fixed_steps": STEPS, "physical_time": PHYSICAL_TIME,
               "weight_decay": WEIGHT_DECAY, "runs": [], "summary": {}}
    for protocol in ("fixed", "physical"):
        for name in ("signgd", "signgd_decoupled"):
            medians = []
            for lr in LEARNING_RATES:
                steps = STEPS if protocol == "fixed" else math.ceil(PHYSICAL_TIME / (lr * WEIGHT_DECAY))
                per_seed = []
                for seed in SEEDS:
                    record = run_training(name, {"lr": lr, "weight_decay": WEIGHT_DECAY}, model="ufm",
                                          steps=steps, seed=seed, backend="numpy", **SIZES)
                    nc0, nc0_rel = plateau(record)
                    per_seed.append(nc0)
                    results["runs"].append({"protocol": protocol, "optimizer": name, "lr": lr, "seed": seed,
                                            "steps": steps, "nc0_plateau": nc0, "nc0_rel_end": nc0_rel,
                                            "diverged_at": record.diverged_at})
                    print(f"{protocol:8s} {name:17s} lr={lr:7.0e} steps={steps:6d} seed={seed}  "
                          f"NC0 plateau {nc0:10.4g}  NC0_rel {nc0_rel:.3f}")
                medians.append(float(np.median(per_seed)))
            results["summary"][f"{protocol}/{name}"] = {
                "median_plateau_by_lr": dict(zip(map(str, LEARNING_RATES), medians)),
                "loglog_slope_in_lr": slope(LEARNING_RATES, medians)}
    floor = parity_lower_bound(SIZES["dim"], SIZES["num_classes"], WEIGHT_DECAY)
    results["summary"]["parity_floor_sqrt_d_over_lambda"] = floor
    for name in ("adam", "adamw"):
        record = run_training(name, {"lr": 1e-3, "weight_decay": WEIGHT_DECAY}, model="ufm", steps=STEPS, seed=0,
                              backend="numpy", **SIZES)
        rel = record.metrics["nc0_rel"]
        results["summary"][name] = {"nc0_rel_start": float(rel[0]), "nc0_rel_end": float(rel[-1])}
        print(f"{name:17s} lr=1e-03 NC0_rel {rel[0]:.3f} -> {rel[-1]:.4f}")
    for key, summary in results["summary"].items():
        if isinstance(summary, dict) and "loglog_slope_in_lr" in summary:
            print(f"{key}: log-log slope of the NC0 plateau in lr = {summary['loglog_slope_in_lr']:.3f}")
    print(f"parity floor sqrt(d)/lambda = {floor:.1f} (decoupled plateaus must sit above it once signs settle)")
    out = ROOT / "numerics" / "results" / "sign_scaling.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
