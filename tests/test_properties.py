"""Hypothesis: for drawn hyperparameters, sizes and seeds, the symbolic prediction matches
the empirical row-sum trajectory to 1e-9 in float64 -- and a wrong theory does not.

Runs are short (<= 40 steps) so that the ``ci`` profile's examples stay fast; shrinking
prints a minimal counter-example if one is ever found.
"""

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import nctheory
from nctheory.runs.training import run_training
from nctheory.verdict import check_record

from _loops import make_problem, one_thread, train
from nctheory.pytorch.tracker import track

lrs = st.floats(0.005, 0.3)
decays = st.floats(1e-4, 0.05)
momenta = st.floats(0.05, 0.99)
dampenings = st.floats(0.0, 0.9)
nus = st.floats(0.0, 1.0)
seeds = st.integers(0, 2 ** 16)


def test_predict_with_a_tiny_nonzero_hyperparameter():
    """Found by hypothesis: dampening=2.2e-308 once overflowed when its exact rational was compiled."""
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, dampening=2.2250738585072014e-308,
                              weight_decay=1e-2)
    reference = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, dampening=0.0, weight_decay=1e-2)
    np.testing.assert_allclose(spec.predict(np.ones(3), 5), reference.predict(np.ones(3), 5), rtol=1e-15)


def relative_error(record, spec):
    pred = spec.predict(record.row_sums[0], record.steps_done, lr_schedule=record.learning_rates)
    return float(np.max(np.linalg.norm(pred - record.row_sums, axis=1) / np.linalg.norm(record.row_sums, axis=1)))


@given(lr=lrs, wd=decays, mu=momenta, tau=dampenings, nesterov=st.booleans(), K=st.integers(2, 8),
       d=st.integers(2, 12), steps=st.integers(5, 40), seed=seeds, smoothing=st.sampled_from([0.0, 0.1]),
       decay_lr=st.booleans())
def test_torch_sgd_in_a_user_loop_matches_the_prediction(lr, wd, mu, tau, nesterov, K, d, steps, seed, smoothing,
                                                         decay_lr):
    """Real torch.optim.SGD (heavy ball with dampening, or Nesterov), an MLP, minibatches,
    optionally label smoothing and an exponentially decaying lr: exact to 1e-9."""
    model, X, y, g = make_problem(seed=seed, num_classes=K, in_dim=6, hidden=12, feat=d, n=40)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mu, dampening=0.0 if nesterov else tau,
                          weight_decay=wd, nesterov=nesterov)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.97) if decay_lr else None
    tr = track(model, opt)
    with one_thread():
        train(model, X, y, g, opt, steps, sched, batch=10, label_smoothing=smoothing)
    record = tr.to_record()
    assert relative_error(record, tr.spec) <= 1e-9
    v = tr.verdict()
    assert v.verdict == "verified", v.reasons


linear_hparams = st.one_of(
    st.builds(lambda lr, wd: ("sgd", dict(lr=lr, weight_decay=wd)), lrs, decays),
    st.builds(lambda lr, wd, mu, tau: ("sgd_momentum", dict(lr=lr, weight_decay=wd, momentum=mu, dampening=tau)),
              lrs, decays, momenta, dampenings),
    st.builds(lambda lr, wd, mu: ("sgd_nesterov", dict(lr=lr, weight_decay=wd, momentum=mu)), lrs, decays, momenta),
    st.builds(lambda lr, wd, mu, tau: ("sgdw_momentum", dict(lr=lr, weight_decay=wd, momentum=mu, dampening=tau)),
              lrs, decays, momenta, dampenings),
    st.builds(lambda lr, wd, mu, nu: ("qhm", dict(lr=lr, weight_decay=wd, momentum=mu, nu=nu)),
              lrs, decays, momenta, nus),
)


@given(case=linear_hparams, K=st.integers(2, 7), d=st.integers(2, 10), n=st.integers(1, 5),
       steps=st.integers(5, 40), seed=seeds, batch=st.sampled_from([None, 3]))
def test_every_linear_spec_on_the_ufm_matches_the_prediction(case, K, d, n, steps, seed, batch):
    """run_training on the UFM (numpy: the spec's own step with analytic gradients)."""
    name, hp = case
    assume(batch is None or batch <= K * n)
    record = run_training(name, hp, steps=steps, seed=seed, backend="numpy", num_classes=K, dim=d,
                          samples_per_class=n, batch_size=batch, record_every=5)
    spec = nctheory.optimizer(name, **hp)
    assert relative_error(record, spec) <= 1e-9
    assert check_record(record).verdict == "verified"


@given(lr=st.floats(0.01, 0.3), wd=st.floats(1e-3, 0.05), mu=st.floats(0.2, 0.85), delta=st.floats(0.05, 0.14),
       sign=st.sampled_from([-1, 1]), steps=st.integers(10, 40), seed=seeds)
def test_a_wrong_momentum_is_always_refuted(lr, wd, mu, delta, sign, steps, seed):
    """Negative control: the theory with momentum mu +- delta cannot pass for mu."""
    hp = dict(lr=lr, weight_decay=wd, momentum=mu, dampening=0.1)
    record = run_training("sgd_momentum", hp, steps=steps, seed=seed, backend="numpy", record_every=5)
    wrong = nctheory.optimizer("sgd_momentum", **{**hp, "momentum": mu + sign * delta})
    assert check_record(record, theory=wrong).verdict == "refuted"
