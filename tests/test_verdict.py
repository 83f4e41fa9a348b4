"""The verdict layer: verified / refuted / inconclusive / diverged, and the negative controls.

Records come from three sources: synthetic ones built from ``spec.predict`` (so that the
truth is known exactly and a perturbation of known size can be injected), real runs of
``run_training`` (UFM, numpy backend: fast), and a small torch MLP loop (tests/_loops.py).
"""

import json
import math

import numpy as np
import pytest
import torch

import nctheory
from nctheory.errors import NCTheoryError, UnknownOptimizerError
from nctheory.runs.training import TrainingRecord, run_training
from nctheory.verdict import (ADAMW_MIN_END_FRACTION, TOLERANCES, Verdict, check_record, check_records,
                              excited_rate, noise_floor, resolve_theory, sign_increments)
from nctheory.cli.exit_codes import exit_code
from nctheory.theory.designator import parse_theory

from _loops import tracked_run

HB = dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3)


def synthetic(spec, steps=200, d=6, K=5, seed=0, w_fro=3.0, dtype="float64", lrs=None, noise=0.0, **extra):
    """A record whose row sums are exactly the prediction (plus relative ``noise``)."""
    rng = np.random.default_rng(seed)
    s0 = rng.standard_normal(d)
    lrs = np.full(steps, float(spec.values["lr"])) if lrs is None else np.asarray(lrs, float)
    rows = spec.predict(s0, steps, lr_schedule=lrs)
    if noise:
        rows = rows * (1 + noise * rng.standard_normal(rows.shape))
    nc0 = np.linalg.norm(rows, axis=1)
    metrics = {"nc0": nc0, "nc0_rel": nc0 / (math.sqrt(K) * w_fro), **extra.pop("metrics", {})}
    return TrainingRecord(optimizer=spec.name, hparams=spec.float_hp(), model="ufm", backend="numpy", device="cpu",
                          dtype=dtype, seed=seed, num_classes=K, row_sums=rows, learning_rates=lrs,
                          metric_steps=np.arange(steps + 1), metrics=metrics, **extra)


# ---------------------------------------------------------------------- linear: synthetic
def test_exact_trajectory_is_verified_and_a_perturbed_one_refuted():
    spec = nctheory.optimizer("sgd_momentum", **HB)
    v = check_record(synthetic(spec))
    assert v.verdict == "verified" and exit_code(v) == 0
    assert v.max_rel_error < 1e-13 and v.tolerance == TOLERANCES["float64"] == 1e-9
    assert v.predicted_rate == pytest.approx(spec.rate(), abs=0)
    assert v.measured_rate == pytest.approx(spec.rate(), rel=1e-6)  # the fit sees a transient too
    assert v.measured_rate == pytest.approx(v.details["predicted_fitted_rate"], rel=1e-12)
    # a relative perturbation of 1e-7 at every step is far above the noise floor: refuted
    bad = check_record(synthetic(spec, noise=1e-7))
    assert bad.verdict == "refuted" and exit_code(bad) == 1
    assert 1e-8 < bad.max_rel_error < 1e-6
    # 1e-12 is below the tolerance: still verified (the tolerance is not the noise level)
    assert check_record(synthetic(spec, noise=1e-12)).verdict == "verified"


def test_wrong_momentum_is_refuted_on_an_exact_trajectory():
    record = synthetic(nctheory.optimizer("sgd_momentum", **HB))
    v = check_record(record, theory="sgd_momentum:momentum=0.8")
    assert v.verdict == "refuted" and v.theory_hparams["momentum"] == 0.8
    assert "another theory" in v.reasons[0]
    # the same theory given as a spec object
    spec = nctheory.optimizer("sgd_momentum", **{**HB, "momentum": 0.85})
    assert check_record(record, theory=spec).verdict == "refuted"


def test_theory_with_another_lr_rescales_the_recorded_schedule_and_is_refuted():
    record = synthetic(nctheory.optimizer("sgd_momentum", **HB))
    v = check_record(record, theory="sgd_momentum:lr=0.12")
    assert v.verdict == "refuted"
    assert any("rescaled" in r for r in v.reasons)


def test_decay_to_the_noise_floor_is_verified_on_its_resolvable_steps():
    """a = eta*lambda = 0.25: ||s_t|| falls by 0.75^t, far below eps * ||W|| (||W|| fixed at 3).

    Issue 8: a run that decays into its rounding noise is judged on the steps that resolve the
    tolerance and must stay within the rounding floor on the others: verified, not inconclusive
    (before: inconclusive from the first unresolvable step, with advice to rerun shorter)."""
    spec = nctheory.optimizer("sgd", lr=0.5, weight_decay=0.5)
    v = check_record(synthetic(spec, steps=300, d=4))
    assert v.verdict == "verified" and exit_code(v) == 0, v.reasons
    first = v.details["first_unresolvable_step"]
    assert 20 < first < 100 and v.details["resolvable_steps"] == first - 1
    assert any("noise floor" in r and "stays within" in r for r in v.reasons)
    assert not any("--steps" in r for r in v.reasons)  # no command-line advice to a Python user
    # a mismatch before the floor still refutes
    wrong = check_record(synthetic(spec, steps=300, d=4), theory="sgd:weight_decay=0.45")
    assert wrong.verdict == "refuted"
    # an error in the tail above the rounding floor refutes too (not hidden by the floor)
    tail = synthetic(spec, steps=300, d=4)
    tail.row_sums[200:] += 1e-9
    bad = check_record(tail)
    assert bad.verdict == "refuted" and any("more than float rounding explains" in r for r in bad.reasons)
    # nothing resolvable after the start: inconclusive
    tiny = synthetic(spec, steps=50, d=4)
    tiny.row_sums = tiny.row_sums * 1e-15
    assert check_record(tiny).verdict == "inconclusive"


def test_float32_tolerance():
    spec = nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.9, weight_decay=5e-3)
    ok = check_record(synthetic(spec, steps=50, dtype="float32", noise=1e-6, w_fro=0.5))
    assert ok.tolerance == 1e-4 and ok.verdict == "verified", ok.reasons
    assert check_record(synthetic(spec, steps=50, dtype="float32", noise=1e-3, w_fro=0.5)).verdict == "refuted"
    # the same trajectory with large weights: float32 rounding of ||W|| ~ 30 swamps NC0 ~ 2
    assert check_record(synthetic(spec, steps=50, dtype="float32", w_fro=30.0)).verdict == "inconclusive"


def test_sgdw_momentum_mode_is_never_excited():
    """mu = 0.9999 > 1 - a = 0.9995: spectral radius mu, but the run decays at 1 - a."""
    spec = nctheory.optimizer("sgdw_momentum", lr=0.1, momentum=0.9999, weight_decay=5e-3)
    rate, minpoly = excited_rate(spec)
    assert rate == pytest.approx(0.9995, abs=1e-15) and spec.rate() == pytest.approx(0.9999, abs=1e-15)
    v = check_record(synthetic(spec, steps=400))
    assert v.verdict == "verified"
    assert v.measured_rate == pytest.approx(0.9995, rel=1e-10)
    assert v.details["excited_rate"] == pytest.approx(0.9995, abs=1e-15)
    assert any("never" in r or "stays at 0" in r for r in v.reasons)
    # heavy ball from a fresh state excites both modes
    hb = nctheory.optimizer("sgd_momentum", **HB)
    assert excited_rate(hb)[0] == pytest.approx(hb.rate(), rel=1e-12)


def test_divergence_gives_diverged_with_the_step():
    record = synthetic(nctheory.optimizer("sgd_momentum", **HB), steps=30)
    record.diverged_at = 30
    v = check_record(record)
    assert v.verdict == "diverged" and exit_code(v) == 3 and v.details["diverged_at"] == 30
    assert "step 30" in v.reasons[0]


def test_real_divergence_from_run_training():
    r = run_training("sgd", dict(lr=1e3, weight_decay=1.0), backend="numpy", steps=400)
    assert r.diverged_at is not None
    assert check_record(r).verdict == "diverged"


def test_json_is_one_object_with_nulls_for_nan():
    v = check_record(synthetic(nctheory.optimizer("sgd", lr=0.1, weight_decay=5e-3)))
    v.details["something"] = float("nan")
    d = json.loads(v.to_json())
    for key in ("name", "hparams", "verdict", "predicted_rate", "measured_rate", "max_rel_error", "reasons"):
        assert key in d
    assert d["details"]["something"] is None and d["verdict"] == "verified"
    with pytest.raises(NCTheoryError, match="verdict must be one of"):
        Verdict("maybe", "sgd", {})


def test_theory_parsing_and_resolution_errors():
    assert parse_theory("qhm:nu=0.5, momentum=0.99") == ("qhm", {"nu": 0.5, "momentum": 0.99})
    with pytest.raises(NCTheoryError, match="key=value"):
        parse_theory("sgd:momentum")
    with pytest.raises(NCTheoryError, match="must be a number"):
        parse_theory("sgd:lr=fast")
    record = synthetic(nctheory.optimizer("sgd", lr=0.1, weight_decay=5e-3))
    with pytest.raises(UnknownOptimizerError, match="known optimizers"):
        check_record(record, theory="sgd_momentun")
    with pytest.raises(NCTheoryError, match="momentum"):
        check_record(record, theory="sgd_momentum:momentum=1.5")
    # a theory declaring hyperparameters the run lacks takes its example values
    assert float(resolve_theory("sgd_momentum", record).values["momentum"]) == 0.9  # example value
    with pytest.raises(NCTheoryError, match="non-empty list"):
        check_records([])


# ---------------------------------------------------------------------- linear: real runs
def test_real_ufm_run_verified_and_negative_controls_refuted():
    r = run_training("sgd_momentum", HB, backend="numpy", steps=200, record_every=20, label_smoothing=0.1)
    v = check_record(r)
    assert v.verdict == "verified" and v.max_rel_error < 1e-12
    for wrong in ("sgd_momentum:momentum=0.8", "sgd_momentum:dampening=0", "sgd_nesterov:dampening=0",
                  "sgdw_momentum", "qhm", "sgd"):
        assert check_record(r, theory=wrong).verdict == "refuted", wrong


def test_mse_run_refuted_because_lemma_1_fails():
    r = run_training("sgd_momentum", HB, backend="numpy", steps=100, record_every=20, loss="mse")
    v = check_record(r)
    assert v.verdict == "refuted" and v.details["lemma1_holds"] is False
    assert any("Lemma 1 fails for the mse loss" in reason for reason in v.reasons)
    # an MSE record that happened to match would still not be verified
    exact = synthetic(nctheory.optimizer("sgd_momentum", **HB), loss="mse")
    assert check_record(exact).verdict == "inconclusive"


def test_noise_floor_covers_the_error_of_true_theories():
    """Calibration of NOISE_SAFETY: the measured error of a true theory stays below half the
    floor at every step, in float32 and float64 (a real torch MLP with minibatches)."""
    for dtype in (torch.float32, torch.float64):
        for seed, (lr, mu, tau, wd) in enumerate([(0.1, 0.9, 0.3, 5e-3), (0.05, 0.95, 0.0, 2e-2)]):
            tr = tracked_run(lambda p: torch.optim.SGD(p, lr=lr, momentum=mu, dampening=tau, weight_decay=wd),
                             steps=200, seed=seed, dtype=dtype)
            record = tr.to_record()
            _, floor, _ = noise_floor(record, tr.spec)
            pred = tr.spec.predict(record.row_sums[0], record.steps_done, lr_schedule=record.learning_rates)
            err = np.linalg.norm(pred - record.row_sums, axis=1)
            assert np.all(err[1:] <= 0.5 * floor[1:]), (dtype, seed, float(np.max(err[1:] / floor[1:])))


# ---------------------------------------------------------------------- sign-based
def sign_runs(name, base_steps=1000, **hp):
    hp = {**nctheory.get_spec(name).example_values(), **hp}
    return [run_training(name, {**hp, "lr": hp["lr"] / f}, steps=base_steps * f, backend="numpy",
                         record_every=base_steps * f // 50) for f in (1, 3, 9)]


@pytest.fixture(scope="module")
def coupled_runs():
    return sign_runs("signgd")


@pytest.fixture(scope="module")
def decoupled_runs():
    return sign_runs("signgd_decoupled")


def test_coupled_signgd_scaling_law(coupled_runs):
    v = check_records(coupled_runs)
    assert v.verdict == "verified", v.reasons
    assert 0.5 <= v.details["measured_slope"] <= 1.5
    assert v.details["plateaus"] == sorted(v.details["plateaus"])
    # negative control: judged by the decoupled theory
    w = check_records(coupled_runs, theory="signgd_decoupled")
    assert w.verdict == "refuted"
    failed = {c["name"].split("[")[0] for c in w.details["checks"] if c["status"] == "fail"}
    assert {"sign_increments", "scaling_law", "nc0_rel_order_one"} <= failed


def test_decoupled_signgd_scaling_law(decoupled_runs):
    v = check_records(decoupled_runs)
    assert v.verdict == "verified", v.reasons
    assert abs(v.details["measured_slope"]) < 0.3 and min(v.details["nc0_rel_plateaus"]) >= 0.3
    w = check_records(decoupled_runs, theory="signgd")
    assert w.verdict == "refuted"
    assert any("[FAIL] scaling_law" in r for r in w.reasons)
    # a linear theory cannot describe a sign-based run either
    assert check_record(decoupled_runs[0], theory="sgd").verdict == "refuted"


def test_a_single_step_size_cannot_establish_a_scaling_law(coupled_runs):
    v = check_record(coupled_runs[0])
    assert v.verdict == "inconclusive"
    assert any("needs runs at >= 3 distinct step sizes" in r for r in v.reasons)


def test_sign_increments_are_integers_with_the_parity_of_K(decoupled_runs):
    r = decoupled_runs[0]
    spec = resolve_theory(None, r)
    sigma = sign_increments(r, spec)
    assert np.max(np.abs(sigma - np.rint(sigma))) < 1e-9
    assert np.all((np.rint(sigma).astype(int) - r.num_classes) % 2 == 0)
    assert np.max(np.abs(np.rint(sigma))) <= r.num_classes


def _constant_pattern_record(K, sigma, steps=400, lr=0.05, wd=0.05, w_sup=None):
    """Decoupled SignGD row sums with a constant sign-pattern row sum ``sigma``."""
    s = np.zeros((steps + 1, len(sigma)))
    s[0] = np.linspace(-1, 1, len(sigma))
    for t in range(steps):
        s[t + 1] = (1 - lr * wd) * s[t] - lr * np.asarray(sigma, float)
    nc0 = np.linalg.norm(s, axis=1)
    metrics = {"nc0": nc0, "nc0_rel": np.full(steps + 1, 0.9)}
    if w_sup is not None:
        metrics["w_sup"] = w_sup
    return TrainingRecord("signgd_decoupled", {"lr": lr, "weight_decay": wd}, "ufm", "numpy", "cpu", "float64", 0, K,
                          s, np.full(steps, lr), np.arange(steps + 1), metrics)


def test_parity_bound_when_its_hypothesis_holds():
    r = _constant_pattern_record(5, [1, -3, 5, 1])
    checks = {c["name"]: c for c in check_record(r).details["checks"]}
    parity = checks["parity_lower_bound[lr=0.05]"]
    assert parity["status"] == "pass"
    assert parity["predicted"] == pytest.approx(math.sqrt(4) / 0.05)
    assert parity["measured"] == pytest.approx(math.sqrt(1 + 9 + 25 + 1) / 0.05)
    # K even: the bound is 0, not applicable
    r_even = _constant_pattern_record(4, [0, 2, -4, 2])
    checks = {c["name"]: c for c in check_record(r_even).details["checks"]}
    assert checks["parity_lower_bound[lr=0.05]"]["status"] == "inconclusive"
    # a pattern that keeps changing: hypothesis not met
    r_change = _constant_pattern_record(5, [1, 1, 1, 1])
    r_change.row_sums[-10:] += 0.05 * np.arange(10)[:, None] * np.array([2, 0, 0, 0])
    checks = {c["name"]: c for c in check_record(r_change).details["checks"]}
    assert checks["parity_lower_bound[lr=0.05]"]["status"] in ("inconclusive", "fail")


def test_box_bound_with_and_without_the_sup_norm():
    steps, lr, wd = 400, 0.05, 0.05
    a = lr * wd
    t = np.arange(steps + 1)
    bound = (1 - a) ** t * 2.0 + (1 - (1 - a) ** t) / wd
    ok = _constant_pattern_record(5, [1, -3, 5, 1], steps, lr, wd, w_sup=0.99 * bound + 0.01 * 2.0 * (1 - a) ** t)
    checks = {c["name"].split("[")[0]: c for c in check_record(ok).details["checks"]}
    assert checks["box_bound"]["status"] == "pass"
    bad = _constant_pattern_record(5, [1, -3, 5, 1], steps, lr, wd, w_sup=bound * 1.01)
    bad.metrics["w_sup"][0] = 2.0
    checks = {c["name"].split("[")[0]: c for c in check_record(bad).details["checks"]}
    assert checks["box_bound"]["status"] == "fail"
    none = _constant_pattern_record(5, [1, -3, 5, 1], steps, lr, wd)
    checks = {c["name"].split("[")[0]: c for c in check_record(none).details["checks"]}
    assert checks["box_bound"]["status"] == "inconclusive"


# ---------------------------------------------------------------------- Adam / AdamW / Lion
@pytest.fixture(scope="module")
def adaptive_runs():
    hp = dict(lr=1e-3, weight_decay=5e-2)
    return {name: run_training(name, hp, steps=3000, backend="numpy", record_every=60) for name in ("adam", "adamw")}


def test_adam_and_adamw_thresholds_and_their_negative_controls(adaptive_runs):
    adam, adamw = adaptive_runs["adam"], adaptive_runs["adamw"]
    assert check_record(adam).verdict == "verified"
    assert check_record(adamw).verdict == "verified"
    assert check_record(adam, theory="adamw").verdict == "refuted"
    assert check_record(adamw, theory="adam").verdict == "refuted"
    v = check_record(adamw)
    assert v.details["nc0_rel_end"][0] >= ADAMW_MIN_END_FRACTION * v.details["nc0_rel_start"][0]
    names = {c["name"] for c in v.details["checks"]}
    assert {"nc0_rel_persists", "nc3_at_least_nc0_rel", "nc3_bounded_below"} <= names


def test_adaptive_run_too_short_is_inconclusive():
    r = run_training("adam", dict(lr=1e-3, weight_decay=5e-2), steps=400, backend="numpy", record_every=8)
    v = check_record(r)
    assert v.verdict == "inconclusive"
    assert any("too short" in reason or "still falling" in reason for reason in v.reasons)


def test_lion_sits_with_adamw():
    r = run_training("lion", dict(lr=1e-3, weight_decay=5e-2), steps=2500, backend="numpy", record_every=50)
    assert check_record(r).verdict == "verified"
    assert check_record(r, theory="adamw").verdict == "verified"
    assert check_record(r, theory="adam").verdict == "refuted"


def test_without_weight_decay_the_nonlinear_theories_claim_nothing():
    r = run_training("adam", dict(lr=1e-3, weight_decay=0.0), steps=3000, backend="numpy", record_every=60)
    v = check_record(r)
    assert v.verdict == "inconclusive"
    statuses = {c["name"]: c["status"] for c in v.details["checks"]}
    assert statuses["nc0_rel_decreases"] == "inconclusive" and statuses["hypothesis_weight_decay"] == "inconclusive"
    assert statuses["nc3_at_least_nc0_rel"] == "pass"  # an identity, true whatever the decay
