"""Validation of the matrix maps' output-rounding term of the rounding floor
(nctheory.verdict.matrix_rounding, used by nctheory.verdict.noise).

For Muon (torch.optim.Muon with its Newton-Schulz step in float64) and SOAP (pytorch-optimizer,
float64 eigenbasis), UFM K = 5, d = 16, constant lr, 300 steps, seeds 0-2, lr in {0.01, 0.02,
0.05} and eta * lambda in {0.005, 0.02, 0.05}: each run judged against its own theory (a true
theory: must not be refuted) and -- the negative control -- against the same theory with the
weight decay times 1.2 (must be refuted). Recorded per run: the verdict, the largest
``||pred_t - meas_t|| / sigma_t`` over steps 1..T (sigma from nctheory.verdict.noise_floor; a true
theory exceeds ``Z sigma`` = 8 sigma with probability < 1e-10 per step) and the number of
resolvable steps. The Newton-Schulz term is derived (no constant fitted); SOAP's
output rounding (Adam's division of the eigenbasis' rounding by ``sqrt(v) + eps``, see
nctheory/optimizers/soap.py) is not modelled, and the SOAP rows show how far that leaves it.

Also: float64 Newton-Schulz alone on centred Gaussian K x d matrices, the measured output row
sum against the derived constant (``newton_schulz`` in the results).

Run: ``python numerics/matrix_rounding_floor.py`` (about 4 minutes on 2 cores); writes
``numerics/results/matrix_rounding_floor.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import nctheory
from nctheory.cli.check import main
from nctheory.runs.training import load_record
from nctheory.theory import matrix_transforms as mt
from nctheory.theory.predict import predict
from nctheory.verdict import check_records, noise_floor, predict_theory
from nctheory.verdict.matrix_rounding import newton_schulz_rounding

OUT = Path(__file__).resolve().parent / "results" / "matrix_rounding_floor.json"
OPTIMIZERS = ("muon", "soap")
SEEDS = (0, 1, 2)
LRS = (0.01, 0.02, 0.05)
DECAY_PRODUCTS = (0.005, 0.02, 0.05)
STEPS = 300
WRONG_DECAY = 1.2
Z = 8.0


def judge(name, lr, decay, seed):
    """The check's verdict on its own theory, error / sigma, and the verdict of the same record
    against the theory with the weight decay times WRONG_DECAY."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [name, "--steps", str(STEPS), "--constant-lr", "--lr", repr(lr), "--weight-decay", repr(decay),
                "--seed", str(seed), "--json", "--quiet", "--out", str(Path(tmp) / "run")]
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            main(argv)
        record = load_record(Path(tmp) / "run")
    v = json.loads(buffer.getvalue())
    d = v.get("details", {})
    spec = nctheory.get_spec(name)
    own = spec.with_hparams(**{k: record.hparams[k] for k in spec.hyperparameter_names if k in record.hparams})
    sigma, _, _ = noise_floor(record, own)
    S = np.asarray(record.row_sums)
    pred = predict(own, S[0], len(record.learning_rates), lr_schedule=np.asarray(record.learning_rates))
    ratio = float(np.max(np.linalg.norm(pred - S, axis=1)[1:] / sigma[1:]))
    wrong = own.with_hparams(weight_decay=WRONG_DECAY * float(own.values["weight_decay"]))
    control = check_records([record], theory=predict_theory(wrong))
    true = {"verdict": v["verdict"], "max_error_over_sigma": ratio, "resolvable_steps": d.get("resolvable_steps"),
            "injection": d.get("rounding_injection")}
    return true, {"verdict": control.verdict, "resolvable_steps": control.details.get("resolvable_steps")}


def newton_schulz_bound(shapes=((5, 16), (10, 16), (16, 5), (10, 100), (50, 64)), seeds=20):
    """float64 Newton-Schulz on centred Gaussian matrices: the measured ``||1^T fl(O)||`` over the
    derived ``sqrt(G^2 eps_in^2 + u^2 own^2)`` (eps_in the normalised input's measured row sum)."""
    a, b, c = mt.TORCH_NS_COEFFICIENTS
    u, out = 2.0 ** -53, {}
    for K, d in shapes:
        ns = newton_schulz_rounding(a, b, c, mt.TORCH_NS_STEPS, K, d)
        ratios = []
        for seed in range(seeds):
            G = np.random.default_rng(seed).normal(size=(K, d))
            G -= G.mean(axis=0)
            eps_in = np.linalg.norm((G / np.linalg.norm(G)).sum(axis=0))
            O = mt.newton_schulz(G, (a, b, c), mt.TORCH_NS_STEPS, mt.TORCH_NS_EPS)
            ratios.append(float(np.linalg.norm(O.sum(axis=0)) / np.hypot(ns.gain * eps_in, u * ns.own)))
        out[f"{K}x{d}"] = {"gain": ns.gain, "own_u": ns.own, "output_min": ns.output_min,
                           "measured_over_model_max": max(ratios), "measured_over_model_median": float(np.median(ratios))}
    return out


def main_run():
    rows, started = [], time.time()
    constants = newton_schulz_bound()
    print(json.dumps(constants, indent=1), flush=True)
    for name in OPTIMIZERS:
        for seed in SEEDS:
            for lr in LRS:
                for product in DECAY_PRODUCTS:
                    decay = product / lr
                    true, wrong = judge(name, lr, decay, seed)
                    row = {"optimizer": name, "seed": seed, "lr": lr, "weight_decay": decay, "eta_lambda": product,
                           "true": true, "wrong_decay": wrong}
                    rows.append(row)
                    print(name, seed, lr, product, row["true"]["verdict"], f"{row['true']['max_error_over_sigma']:.3g}",
                          row["wrong_decay"]["verdict"], flush=True)
    summary = {}
    for name in OPTIMIZERS:
        mine = [r for r in rows if r["optimizer"] == name]
        ratios = np.array([r["true"]["max_error_over_sigma"] for r in mine])
        summary[name] = {"runs": len(mine),
                         "true_refuted": sum(r["true"]["verdict"] == "refuted" for r in mine),
                         "true_verified": sum(r["true"]["verdict"] == "verified" for r in mine),
                         "wrong_decay_refuted": sum(r["wrong_decay"]["verdict"] == "refuted" for r in mine),
                         "max_error_over_sigma_max": float(np.nanmax(ratios)),
                         "max_error_over_sigma_median": float(np.nanmedian(ratios))}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"confidence_z": Z, "steps": STEPS, "summary": summary, "newton_schulz": constants,
                               "runs": rows,
                               "wall_time_s": round(time.time() - started, 1)}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main_run()
