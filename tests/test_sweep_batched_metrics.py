"""The stacked NC metrics of nctheory.sweep.batched.metrics against the one-run functions.

Every metric of every run must equal ``nc_metrics`` (and the one-run loss / accuracy) to
1e-12 relative, with the same NaN pattern (``gap`` of tests/test_sweep_batched.py). Why 1e-12:
both compute the same float64 formulas; the stack only changes the order of a few sums (ulps,
~1e-16 relative; NC1 divides by eigenvalues kept only above d eps lambda_max, so the order
change is amplified at most by the ratio of the kept eigenvalues, far below 1e4 for the
random features here). Degenerate runs (collapsed features, equal class means, zero or NaN
weights) go through ``nc_metrics`` itself and must match it exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from _gap import gap

from nctheory.errors import NCTheoryError
from nctheory.runs.collapse_metrics import nc_metrics
from nctheory.runs.ufm import loss_value
from nctheory.sweep.batched import metrics as stacked
from nctheory.sweep.batched.ufm import ArrayUFMBatch, TorchUFMBatch

TOLERANCE = 1e-12
K, D, N_PER = 6, 8, 5


def one_run(W, H, y, b, loss="cross_entropy", eps=0.0):
    """``ArrayUFMRunner.metrics`` of one run (None if a parameter is not finite)."""
    p = {"W": W, "H": H} if b is None else {"W": W, "H": H, "b": b}
    if not all(np.isfinite(v).all() for v in p.values()):
        return None
    value, Z = loss_value(p, y, loss, eps)
    with np.errstate(all="ignore"):
        out = nc_metrics(W, H, y, b, W.shape[0])
    out["loss"], out["accuracy"] = float(value), float(np.mean(Z.argmax(1) == y))
    return out


def worst_gap(table, reference) -> float:
    worst = 0.0
    for got, want in zip(table, reference, strict=True):
        if got is None or want is None:
            worst = max(worst, 0.0 if got is want else math.inf)
            continue
        assert got.keys() == want.keys()
        worst = max([worst] + [gap(got[k], want[k]) for k in want])
    return worst


def stack(seed: int, R: int = 12, bias: bool = True):
    """Random runs, with degenerate ones planted at fixed positions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N_PER)
    W = rng.standard_normal((R, K, D))
    H = rng.standard_normal((R, K * N_PER, D)) * rng.uniform(0.1, 10, (R, 1, 1))
    b = rng.standard_normal((R, K)) if bias else None
    H[1] = 2.5  # all features equal: NC1 NaN, NC2 / NC3 NaN
    H[2] = np.repeat(rng.standard_normal((K, D)), N_PER, axis=0)  # collapsed: NC1 = 0
    H[3] = H[3].mean(0)  # the same feature for every sample
    H[4, :, :] = np.tile(rng.standard_normal((N_PER, D)), (K, 1))  # equal class means, scatter: NC1 inf
    W[5] = 0.0  # zero classifier: NC0_rel and NC3 NaN
    W[6, 2, 3] = np.nan  # a NaN weight: every metric NaN / the run has no metrics
    H[7, 0, 0] = np.inf
    W[8] = np.tile(W[8, :1], (K, 1))  # identical rows: NC4 ties
    return W, H, y, b


@pytest.mark.parametrize("seed,bias", [(0, True), (1, False), (2, True)])
def test_stacked_nc_metrics_equal_the_one_run_function(seed, bias):
    W, H, y, b = stack(seed, bias=bias)
    table = stacked.stacked_nc_metrics(W, H, y, b)
    with np.errstate(all="ignore"):
        reference = [nc_metrics(W[r], H[r], y, None if b is None else b[r], K) for r in range(W.shape[0])]
    worst = worst_gap(table, reference)
    assert worst <= TOLERANCE, f"stacked vs one run: largest relative gap {worst:.3g}"
    assert math.isnan(table[1]["nc1"]) and math.isinf(table[4]["nc1"]) and table[2]["nc1"] == pytest.approx(0, abs=1e-20)
    # a NaN weight: the metrics of W are NaN; NC1 / NC2 read only H and stay numbers, as in nc_metrics
    assert all(math.isnan(table[6][k]) for k in ("nc0", "nc3", "nc4", "w_fro")) and math.isfinite(table[6]["nc1"])


@pytest.mark.parametrize("loss,eps", [("cross_entropy", 0.0), ("label_smoothing", 0.1)])
def test_ufm_metrics_equal_the_one_run_runner_none_for_non_finite_runs(loss, eps):
    W, H, y, b = stack(3)
    table = stacked.ufm_metrics(W, H, y, b, loss, eps)
    reference = [one_run(W[r], H[r], y, b[r], loss, eps) for r in range(W.shape[0])]
    assert table[6] is None and table[7] is None and table[0] is not None
    worst = worst_gap(table, reference)
    assert worst <= TOLERANCE, f"stacked vs one run: largest relative gap {worst:.3g}"


def test_regular_runs_take_the_vectorised_path(monkeypatch):
    """Only the degenerate runs may reach the one-run function."""
    W, H, y, b = stack(4)
    calls = []
    monkeypatch.setattr(stacked, "nc_metrics", lambda W, *a: calls.append(W) or nc_metrics(W, *a))
    stacked.stacked_nc_metrics(W, H, y, b)
    assert 0 < len(calls) <= 8, f"{len(calls)} of 12 runs fell back to the one-run function"


def test_a_run_order_mixup_is_caught():
    """Negative control: the stacked metrics of runs listed in another order must fail."""
    W, H, y, b = stack(5)
    table = stacked.stacked_nc_metrics(W, H, y, b)
    with np.errstate(all="ignore"):
        reference = [nc_metrics(W[r], H[r], y, b[r], K) for r in range(W.shape[0])]
    swapped = [table[9], table[0]] + table[1:9] + table[10:]
    assert worst_gap(swapped, reference) > TOLERANCE
    mixed = stacked.stacked_nc_metrics(W[[0, 10]], H[[10, 0]], y, b[[0, 10]])
    assert worst_gap(mixed, [reference[0], reference[10]]) > TOLERANCE


def test_the_batch_models_stacked_metrics_equal_their_per_run_metrics():
    sizes = {"num_classes": K, "samples_per_class": N_PER, "dim": D}
    seeds = [3, 4, 5, 6]
    for model in (ArrayUFMBatch(np, sizes, seeds, True, np.float64, "cross_entropy", 0.0),
                  TorchUFMBatch(sizes, seeds, True, torch.float64, torch.device("cpu"), "cross_entropy", 0.0)):
        params = dict(model.params)
        params["W"] = params["W"] * 1.0
        params["W"][2, 0, 0] = float("nan")
        table = model.stacked_metrics(params)
        reference = [model.metrics(params, r) for r in range(len(seeds))]
        assert table[2] is None and reference[2] is None
        worst = worst_gap(table, reference)
        assert worst <= TOLERANCE, f"{type(model).__name__}: largest relative gap {worst:.3g}"


def test_bad_input_names_the_argument():
    W, H, y, b = stack(6)
    with pytest.raises(NCTheoryError, match="W must"):
        stacked.stacked_nc_metrics(W[0], H, y, b)
    with pytest.raises(NCTheoryError, match="H must"):
        stacked.stacked_nc_metrics(W, H[:, :, :3], y, b)
    with pytest.raises(NCTheoryError, match="y must"):
        stacked.stacked_nc_metrics(W, H, y[:-1], b)
    with pytest.raises(NCTheoryError, match="b must"):
        stacked.stacked_nc_metrics(W, H, y, b[:, :2])


def test_the_engine_uses_the_stacked_metrics_and_a_planted_mixup_shows(monkeypatch):
    """Through run_batch: the series equal run_one's to 1e-12; with the stacked metrics'
    runs planted in reverse order (negative control) they do not."""
    from nctheory.sweep import SweepRun, run_one
    from nctheory.sweep.batched import run_batch

    common = {"model": "ufm", "backend": "numpy", "num_classes": 4, "dim": 6, "samples_per_class": 3,
              "steps": 20, "record_every": 10}
    runs = [SweepRun.make("sgd_momentum", {"lr": lr, "momentum": 0.9}, {**common, "seed": s}, ("nc1", "nc3", "loss"))
            for lr, s in ((0.05, 1), (0.2, 2))]
    alone = [run_one(r) for r in runs]

    def worst(results):
        return max(gap(res.series[k], ref.series[k]) for res, ref in zip(results, alone) for k in ref.series)

    assert worst(run_batch(runs)) <= TOLERANCE
    original = ArrayUFMBatch.stacked_metrics
    monkeypatch.setattr(ArrayUFMBatch, "stacked_metrics", lambda self, params: original(self, params)[::-1])
    assert worst(run_batch(runs)) > TOLERANCE
