"""Muon on hidden layers with AdamW on the classifier (the Muon authors' recommendation) against Muon
everywhere and against SGD: NC0 to NC4 over training, on digits and MNIST-1D.

What the theory of this package predicts for the classifier W (the only layer NC0 speaks about):

* ``sgd``: torch.optim.SGD, momentum 0.9, coupled weight decay -- stationary points of the L2
  objective have NC0 = 0 (Theorem 2); heavy ball's exact recurrence drives NC0 to 0.
* ``muon_all``: torch.optim.Muon on every weight matrix, the classifier included (decoupled
  decay), biases with AdamW -- the classifier's row sums follow ``(1 - eta lambda)^t`` exactly in
  exact arithmetic (theorem matrix_row_sums), down to the bfloat16 floor of theorem bfloat16_floor.
* ``muon_all_f64``: the same with Newton-Schulz in float64 (the exact recurrence, no floor).
* ``hybrid``: Muon on the hidden matrices, AdamW (decoupled, elementwise) on the classifier and the
  biases -- the paper's AdamW case: NC0_rel does not vanish.

Setting: MLP with 3 hidden ReLU layers of width 64 (nctheory.runs.models.MLP), float64, minibatches
of 128, 3000 steps, cross-entropy, seed 0; digits (sklearn, standardised, 1437 training images) and
MNIST-1D (the mnist1d package's ``make_dataset``, generated locally: 4000 training sequences of
length 40, standardised). Metrics on the training set every 100 steps; test accuracy.

Results: numerics/results/hybrid_muon.json; figure docs/figures/hybrid_muon.png.
Run: ``python numerics/hybrid_muon.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from nctheory.pytorch.newton_schulz_dtype import MuonNewtonSchulzInParamDtype
from nctheory.runs.collapse_metrics import nc_metrics
from nctheory.runs.data import load_digits_data
from nctheory.runs.models import MLP, penultimate_features

ROOT = Path(__file__).resolve().parent.parent
STEPS, BATCH, EVERY, SEED = 3000, 128, 100, 0
MUON = {"lr": 0.02, "weight_decay": 0.1}
ADAMW = {"lr": 1e-3, "weight_decay": 0.1}
SGD = {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
SETUPS = ("sgd", "muon_all", "muon_all_f64", "hybrid")


def mnist1d_data():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    d = make_dataset(args)  # generated locally from the package's templates: no download
    X, X_test = d["x"].astype(np.float64), d["x_test"].astype(np.float64)
    mean, std = X.mean(0), X.std(0)
    return (X - mean) / std, d["y"].astype(np.int64), (X_test - mean) / std, \
        d["y_test"].astype(np.int64)


def datasets():
    digits = load_digits_data("float64", seed=0)
    return {"digits": (digits.X, digits.y, digits.X_test, digits.y_test), "mnist1d": mnist1d_data()}


def optimizers(setup, model):
    hidden = [m.weight for m in model.features if isinstance(m, torch.nn.Linear)]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    if setup == "sgd":
        return [torch.optim.SGD(model.parameters(), **SGD)]
    if setup in ("muon_all", "muon_all_f64"):
        cls = torch.optim.Muon if setup == "muon_all" else MuonNewtonSchulzInParamDtype
        return [cls(hidden + [model.fc.weight], **MUON), torch.optim.AdamW(biases, **ADAMW)]
    return [torch.optim.Muon(hidden, **MUON), torch.optim.AdamW([model.fc.weight] + biases, **ADAMW)]


def train(setup, X, y, X_test, y_test):
    torch.manual_seed(SEED)
    K = int(y.max()) + 1
    model = MLP(X.shape[1], K, width=64, dtype=torch.float64)
    opts = optimizers(setup, model)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    Xs, ys = torch.tensor(X_test), torch.tensor(y_test)
    rng = np.random.default_rng(SEED)
    history = []
    for step in range(STEPS + 1):
        if step % EVERY == 0:
            H, Z = penultimate_features(model, Xt, model.fc)
            m = nc_metrics(model.fc.weight.detach().numpy(), H.numpy(), y, model.fc.bias.detach().numpy(), K)
            with torch.no_grad():
                m["loss"] = float(torch.nn.functional.cross_entropy(Z, yt))
                m["test_accuracy"] = float((model(Xs).argmax(1) == ys).double().mean())
            history.append({"step": step, **{k: float(v) for k, v in m.items()}})
        if step == STEPS:
            break
        rows = torch.as_tensor(rng.choice(len(y), BATCH, replace=False))
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
        for opt in opts:
            opt.step()
    return history


def main() -> dict:
    results = {"steps": STEPS, "batch": BATCH, "muon": MUON, "adamw": ADAMW, "sgd": SGD, "runs": {}}
    for data_name, (X, y, X_test, y_test) in datasets().items():
        for setup in SETUPS:
            start = time.perf_counter()
            history = train(setup, X, y, X_test, y_test)
            results["runs"][f"{data_name}/{setup}"] = history
            first, last = history[0], history[-1]
            print(f"{data_name:8s} {setup:13s} NC0_rel {first['nc0_rel']:.3f} -> {last['nc0_rel']:.2e}  NC1 "
                  f"{last['nc1']:.3g}  NC2 angle {last['nc2_angle']:.3g}  NC3 {last['nc3']:.3g}  NC4 {last['nc4']:.3g}  "
                  f"loss {last['loss']:.3g}  test acc {last['test_accuracy']:.3f}  ({time.perf_counter() - start:.0f} s)")
    (ROOT / "numerics" / "results" / "hybrid_muon.json").write_text(json.dumps(results, indent=2) + "\n")
    figure(results)
    return results


def figure(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = (("nc0_rel", "NC0_rel", True), ("nc1", "NC1", True), ("nc2_angle", "NC2 (angles)", True),
               ("nc3", "NC3", True), ("nc4", "NC4", False), ("test_accuracy", "test accuracy", False))
    data_names = sorted({k.split("/")[0] for k in results["runs"]})
    fig, axes = plt.subplots(len(data_names), len(metrics), figsize=(3.1 * len(metrics), 2.8 * len(data_names)))
    styles = {"sgd": ("tab:blue", "-"), "muon_all": ("tab:red", "-"), "muon_all_f64": ("tab:red", ":"),
              "hybrid": ("tab:green", "-")}
    for row, data_name in enumerate(data_names):
        for col, (key, label, log) in enumerate(metrics):
            ax = axes[row, col]
            for setup in SETUPS:
                history = results["runs"][f"{data_name}/{setup}"]
                color, ls = styles[setup]
                ax.plot([h["step"] for h in history], [max(h[key], 1e-12) for h in history], color=color, ls=ls,
                        label=setup)
            ax.set_yscale("log" if log else "linear")
            ax.set_title(f"{data_name}: {label}", fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path = ROOT / "docs" / "figures" / "hybrid_muon.png"
    fig.savefig(path, dpi=100)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
