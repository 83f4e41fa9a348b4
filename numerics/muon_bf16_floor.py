"""The bfloat16 floor of torch.optim.Muon: predicted (theorem bfloat16_floor) against measured.

Grid: 3 step sizes x 2 weight decays (:data:`nctheory.theorems.bfloat16_floor.GRID`), 3 seeds;
UFM K = 5, d = 16, float64 weights, minibatches of 16, torch's own Muon (bfloat16 Newton-Schulz,
momentum 0.95, Nesterov), ``6 / (lr wd)`` steps. For each run: the predicted floor (the phantom
model on the recorded Newton-Schulz arguments, then the recurrence's variance), the measured RMS
of ``||s_t - (1 - eta lambda)^t s_0||`` over the second half, their ratio, the model without
Newton-Schulz's amplification (a wrong theory), and the same settings with float64 Newton-Schulz.
Also: lr 0.02, weight_decay 0.1 (``check muon``'s example) over 3000 steps: on this UFM the loss
underflows to 0 after ~600 steps, Muon's step vanishes with the gradient, and the deviation decays
as ``(1 - eta lambda)^t`` -- which the model follows, since it is fed the recorded arguments.

Results: numerics/results/muon_bf16_floor.json; figure docs/figures/muon_bf16_floor.png.
Run: ``python numerics/muon_bf16_floor.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nctheory.theorems.bfloat16_floor import GRID, floor_run

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)


def _plain(run):
    return {k: v for k, v in run.items() if not isinstance(v, np.ndarray)}


def main() -> dict:
    results = {"grid": [list(g) for g in GRID], "seeds": list(SEEDS), "runs": []}
    curves = {}
    for lr, wd in GRID:
        for seed in SEEDS:
            run = floor_run(lr, wd, seed)
            run["ratio_measured_over_predicted"] = run["measured_floor"] / run["predicted_floor"]
            results["runs"].append(_plain(run))
            if seed == 0:
                curves[(lr, wd)] = run
            print(f"lr={lr:<5g} wd={wd:<4g} seed={seed} steps={run['steps']:5d}  predicted {run['predicted_floor']:.4f}"
                  f"  measured {run['measured_floor']:.4f}  ratio {run['ratio_measured_over_predicted']:.2f}  "
                  f"(no amplification: {run['predicted_floor_without_amplification']:.2e})")
    ratios = [r["ratio_measured_over_predicted"] for r in results["runs"]]
    results["ratio_range"] = [float(min(ratios)), float(max(ratios))]
    f64 = floor_run(*GRID[0], 0, own_bfloat16=False)
    results["float64_newton_schulz_deviation"] = f64["measured_floor"]
    user = floor_run(0.02, 0.1, 0, steps=3000)
    results["torch_defaults_lr0.02_wd0.1"] = _plain(user)
    print(f"ratios in [{min(ratios):.2f}, {max(ratios):.2f}]; float64 Newton-Schulz deviation "
          f"{f64['measured_floor']:.2e}; at lr 0.02, wd 0.1 (3000 steps): NC0 starts at {user['nc0_start']:.3f}, "
          f"floor predicted {user['predicted_floor']:.3f}, measured {user['measured_floor']:.3f}")
    (ROOT / "numerics" / "results" / "muon_bf16_floor.json").write_text(json.dumps(results, indent=2) + "\n")
    _figure(curves, user)
    return results


def _figure(curves, user):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (lr, wd), run in curves.items():
        t = np.arange(len(run["measured_deviation"]))
        line, = axes[0].plot(t * lr * wd, run["measured_deviation"], lw=0.8, label=f"lr {lr:g}, wd {wd:g}")
        axes[0].plot(t * lr * wd, run["predicted_deviation"], color=line.get_color(), ls="--", lw=1.5)
    axes[0].set_xlabel("eta lambda t")
    axes[0].set_ylabel("||s_t - (1 - eta lambda)^t s_0||")
    axes[0].set_title("torch.optim.Muon (bfloat16): measured (solid) vs predicted RMS (dashed)")
    axes[0].legend(fontsize=7)
    t = np.arange(len(user["measured_deviation"]))
    axes[1].plot(t, user["measured_deviation"], lw=0.8, label="measured deviation")
    axes[1].plot(t, user["predicted_deviation"], ls="--", label="predicted RMS")
    axes[1].axhline(user["nc0_start"], color="grey", ls=":", label="NC0 at the start")
    axes[1].set_xlabel("step")
    axes[1].set_title("lr 0.02, wd 0.1: floor while gradients live, then pure decay", fontsize=9)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = ROOT / "docs" / "figures" / "muon_bf16_floor.png"
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
