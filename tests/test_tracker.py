"""``nctheory.pytorch.tracker.track``: the user's own torch loop, real torch.optim optimizers."""

import math

import numpy as np
import pytest
import torch

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.verdict import check_record
from nctheory.pytorch.tracker import Tracker, track

from _loops import make_problem, one_thread, tracked_run, train

SGD_HB = dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3)


def step_lr(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=40, gamma=0.5)


def test_sgd_momentum_dampening_with_steplr_is_verified():
    tr = tracked_run(lambda p: torch.optim.SGD(p, **SGD_HB), steps=150, scheduler_factory=step_lr,
                     label_smoothing=0.1)
    record = tr.to_record()
    # the lr actually used at each step, scheduler included
    assert record.learning_rates[0] == 0.1 and record.learning_rates[40] == 0.05 and record.learning_rates[-1] == 0.0125
    assert record.steps_done == 150 and record.row_sums.shape == (151, 16)
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons
    assert v.max_rel_error < 1e-12 and v.theory == "sgd_momentum"
    text = tr.report()
    assert "VERIFIED" in text and "learning rate varied" in text


def test_nesterov_is_verified():
    tr = tracked_run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
                     steps=150, scheduler_factory=step_lr)
    assert tr.spec.name == "sgd_nesterov"
    v = tr.verdict()
    assert v.verdict == "verified" and v.max_rel_error < 1e-12


def test_wrong_momentum_and_wrong_method_are_refuted():
    tr = tracked_run(lambda p: torch.optim.SGD(p, **SGD_HB), steps=150, scheduler_factory=step_lr)
    assert tr.verdict(theory="sgd_momentum:momentum=0.8").verdict == "refuted"
    assert tr.verdict(theory=nctheory.optimizer("sgd_momentum", **{**SGD_HB, "dampening": 0.0})).verdict == "refuted"
    assert tr.verdict(theory="sgd_nesterov:dampening=0").verdict == "refuted"
    assert tr.verdict(theory="sgdw_momentum").verdict == "refuted"


def test_mse_loss_is_refuted_with_lemma_1():
    tr = tracked_run(lambda p: torch.optim.SGD(p, **SGD_HB), steps=60, loss="mse")
    v = tr.verdict()
    assert v.verdict == "refuted" and any("Lemma 1 fails for the mse loss" in r for r in v.reasons)


def test_tracking_starts_mid_training_with_the_buffers():
    """from_torch captures the momentum buffer's row sums at creation: the prediction continues."""
    model, X, y, g = make_problem(seed=2)
    opt = torch.optim.SGD(model.parameters(), **SGD_HB)
    with one_thread():
        train(model, X, y, g, opt, 30)
        tr = track(model, opt)
        assert tr.spec is None  # the classifier (and its buffers) are read at the next forward pass
        train(model, X, y, g, opt, 100)
    assert tr.spec.initial_buffers is not None
    assert tr.verdict().verdict == "verified"
    # ignoring the buffers (a fresh-state theory) is wrong
    fresh = nctheory.optimizer("sgd_momentum", **SGD_HB)
    assert tr.verdict(theory=fresh).verdict == "refuted"


def test_nc_metrics_every_k_steps_and_the_sup_norm():
    model, X, y, g = make_problem(seed=1)
    opt = torch.optim.SGD(model.parameters(), **SGD_HB)
    tr = track(model, opt, record_every=10)
    with one_thread():
        train(model, X, y, g, opt, 40, tracker=tr, record_every=5)
    rec = tr.to_record()
    recorded = np.flatnonzero(np.isfinite(rec.metrics["nc1"]))
    np.testing.assert_array_equal(recorded, [10, 20, 30, 40])
    W = model[-1].weight.detach()
    assert rec.metrics["w_sup"][-1] == pytest.approx(float(W.abs().max()), rel=1e-15)
    assert rec.metrics["nc0_rel"][-1] == pytest.approx(nctheory.nc0_rel(W), rel=1e-12)
    with pytest.raises(NCTheoryError, match="labels"):
        tr.record(features=torch.zeros(3, 16))


def test_one_cycle_momentum_schedule_is_predicted_per_step():
    """OneCycleLR cycles the momentum (cycle_momentum=True, its default): every value is part of
    the recurrence, A_t = A(eta_t, mu_t), and the run is verified (issue 8; before: inconclusive)."""
    tr = tracked_run(lambda p: torch.optim.SGD(p, **SGD_HB), steps=60,
                     scheduler_factory=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=60))
    record = tr.to_record()
    assert record.schedules["momentum"][0] == pytest.approx(0.95) and record.schedules["momentum"].min() < 0.86
    v = tr.verdict()
    assert v.verdict == "verified" and v.max_rel_error < 1e-12, v.reasons
    # negative controls: a constant momentum (the cycle's middle), or the run's start without its
    # schedule, is refuted
    assert tr.verdict(theory="sgd_momentum:momentum=0.9").verdict == "refuted"
    # the schedule and the per-step norms are saved with the record
    import tempfile

    from nctheory.runs.training import load_record, save_record

    with tempfile.TemporaryDirectory() as folder:
        save_record(record, f"{folder}/run")
        loaded = load_record(f"{folder}/run")
    np.testing.assert_array_equal(loaded.schedules["momentum"], record.schedules["momentum"])
    np.testing.assert_array_equal(loaded.step_norms["grad_row_sum"], record.step_norms["grad_row_sum"])
    assert check_record(loaded).verdict == "verified"
    record.schedules = {}
    assert check_record(record).verdict == "refuted"


def test_switching_nesterov_mid_run_is_inconclusive():
    """A key that pins the optimizer variant (nesterov) is not a hyperparameter of the spec:
    changing it mid-run is another optimizer, which no schedule describes."""
    model, X, y, g = make_problem(seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2)
    tr = track(model, opt)
    with one_thread():
        train(model, X, y, g, opt, 30)
        opt.param_groups[0]["nesterov"] = True
        train(model, X, y, g, opt, 30)
    v = tr.verdict()
    assert v.verdict == "inconclusive" and any("nesterov changed during training" in r for r in v.reasons)


def test_adam_and_adamw_through_the_tracker():
    tr = tracked_run(lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=5e-2), steps=40)
    v = tr.verdict()
    assert tr.spec.name == "adamw" and v.theory == "adamw"
    assert v.verdict == "inconclusive"  # lr * steps = 0.04: too short to leave the transient
    assert any("too short" in r for r in v.reasons)


def test_divergence_is_reported():
    tr = tracked_run(lambda p: torch.optim.SGD(p, lr=1e3, momentum=0.9, weight_decay=1.0), steps=300)
    v = tr.verdict()
    assert v.verdict == "diverged" and v.details["diverged_at"] < 300


def test_bad_arguments_are_named():
    model, *_ = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    other = torch.nn.Linear(3, 2).double()
    with pytest.raises(NCTheoryError, match="not among the optimizer's parameters"):
        track(other, opt)
    with pytest.raises(NCTheoryError, match="torch.optim.Optimizer"):
        track(model, "sgd")
    with pytest.raises(NCTheoryError, match="record_every"):
        track(model, opt, record_every=0)
    with pytest.raises(NCTheoryError, match="not a submodule"):
        track(model, opt, last_layer="fc")
    with pytest.raises(NCTheoryError, match="no optimizer step"):
        track(model, opt).verdict()
    rms = torch.optim.Rprop(model.parameters(), lr=0.1)  # no spec matches it
    with pytest.raises(NCTheoryError, match="from_torch knows"):
        track(model, rms)


def test_hooks_are_removed_and_explicit_last_layer():
    model, X, y, g = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    with track(model, opt, last_layer="4") as tr:
        assert isinstance(tr, Tracker) and tr.weight is model[4].weight
        with one_thread():
            train(model, X, y, g, opt, 5)
    with one_thread():
        train(model, X, y, g, opt, 5)
    assert tr.steps_done == 5
    assert math.isfinite(tr.verdict().max_rel_error)
