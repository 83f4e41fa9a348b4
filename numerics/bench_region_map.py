"""Benchmark: stability / acceleration map over 10^6 hyperparameter points.

Target (issue 2): under one second on a 2-core CPU, after the one-off symbolic
compilation (reported separately). Writes numerics/results/bench_region_map.json and the
figure docs/figures/heavy_ball_region_map.png (rate of the heavy ball over (mu, eta*lambda)
with the stability and acceleration boundaries of THEORY.md section 3).

Run: ``python numerics/bench_region_map.py``.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

import nctheory
from nctheory.theory.symbolic.maps import region_map

ROOT = Path(__file__).resolve().parent.parent
POINTS_PER_AXIS = 1000  # 10^6 points


def main() -> dict:
    results = {"points": POINTS_PER_AXIS ** 2, "machine": platform.machine(),
               "python": platform.python_version(), "cases": {}}
    mu_axis = np.linspace(0.0, 0.999, POINTS_PER_AXIS)
    a_axis = np.linspace(1e-4, 0.999, POINTS_PER_AXIS)
    mu, a = np.meshgrid(mu_axis, a_axis)
    for name in ("sgd_momentum", "sgd_nesterov", "qhm", "sgdw_momentum"):
        spec = nctheory.optimizer(name, weight_decay=1.0)  # then eta * lambda = eta = a
        start = time.perf_counter()
        region_map(spec, momentum=mu[:2, :2], lr=a[:2, :2])  # compile once
        compile_s = time.perf_counter() - start
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            result = region_map(spec, momentum=mu, lr=a)
            timings.append(time.perf_counter() - start)
        results["cases"][name] = {"compile_s": compile_s, "best_s": min(timings),
                                  "median_s": float(np.median(timings)),
                                  "stable_fraction": float(result.stable.mean()),
                                  "accelerating_fraction": float(result.accelerates.mean())}
        if name == "sgd_momentum":
            heavy_ball = result
    out = ROOT / "numerics" / "results" / "bench_region_map.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    _figure(mu, a, heavy_ball, ROOT / "docs" / "figures" / "heavy_ball_region_map.png")
    for name, case in results["cases"].items():
        print(f"{name:15s} 10^6 points: best {case['best_s'] * 1e3:7.1f} ms, median "
              f"{case['median_s'] * 1e3:7.1f} ms (compile {case['compile_s']:.2f} s); "
              f"accelerating {case['accelerating_fraction']:.3f}")
    return results


def _figure(mu, a, result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ratio = np.log(result.rate) / np.log(1 - a)  # > 1: faster NC0 decay than plain SGD
    image = ax.pcolormesh(mu, a, np.clip(ratio, 0, 10), shading="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="log rate / log(1 - eta lambda)  (speed-up over SGD)")
    ax.contour(mu, a, result.accelerates.astype(float), levels=[0.5], colors="white")
    mu_line = np.linspace(0, 1, 200)
    ax.plot(mu_line, (1 - np.sqrt(mu_line)) ** 2, "r--", lw=1, label="mu* = (1 - sqrt a)^2 (optimal)")
    ax.set_xlabel("momentum mu")
    ax.set_ylabel("a = eta lambda")
    ax.set_title("Heavy ball: NC0 rate; white: edge of 0 < mu < (1-a)^2")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
