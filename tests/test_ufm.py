"""The unconstrained features model: analytic gradients, Lemma 1, and exact row-sum dynamics."""

import numpy as np
import pytest
import torch

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.runs.ufm import UFM, array_namespace, check_loss, init_ufm, loss_and_gradients, loss_value
from nctheory.theory.ops import namespace

K, N_PER, D = 5, 8, 16
HB = dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3)


def autograd_reference(params, y, loss, eps, rows):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    H = t["H"] if rows is None else t["H"][torch.as_tensor(rows)]
    yb = torch.as_tensor(y if rows is None else y[rows])
    Z = H @ t["W"].T + (t["b"] if "b" in t else 0.0)
    if loss == "mse":
        value = ((Z - torch.nn.functional.one_hot(yb, K).double()) ** 2).sum(1).mean()
    else:
        value = torch.nn.functional.cross_entropy(Z, yb, label_smoothing=eps)
    value.backward()
    return float(value.detach()), {k: v.grad.numpy() for k, v in t.items()}


@pytest.mark.parametrize("loss, eps", [("cross_entropy", 0.0), ("cross_entropy", 0.2), ("mse", 0.0)])
@pytest.mark.parametrize("bias, batch", [(False, None), (True, None), (True, 7)])
def test_analytic_gradients_match_torch_autograd(loss, eps, bias, batch):
    """Relative error <= 1e-12 in float64.

    Both sides evaluate the same smooth formulas with different operation orders (log-sum-
    exp, matrix products with <= 40 terms), so they differ by O(n_terms * eps_64) ~ 1e-14
    relative for these well-conditioned sizes; 1e-12 leaves two orders of margin while any
    mistake in a formula (a missing 1/|B|, a transposed product) gives O(1) errors.
    """
    params, y = init_ufm(K, N_PER, D, seed=3, bias=bias)
    params["b"] = np.linspace(-1, 1, K) if bias else None
    params = {k: v for k, v in params.items() if v is not None}
    rows = None if batch is None else np.random.default_rng(0).permutation(K * N_PER)[:batch]
    value, grads = loss_and_gradients(params, y, loss, eps, rows)
    ref_value, ref = autograd_reference(params, y, loss, eps, rows)
    assert float(value) == pytest.approx(ref_value, rel=1e-12)
    assert set(grads) == set(ref)
    for name in grads:
        assert np.linalg.norm(grads[name] - ref[name]) <= 1e-12 * np.linalg.norm(ref[name]), name


def test_lemma1_gradient_row_sums_vanish_for_cross_entropy_not_for_mse():
    params, y = init_ufm(K, N_PER, D, seed=1, bias=True)
    for eps in (0.0, 0.1):
        _, g = loss_and_gradients(params, y, "cross_entropy", eps)
        # each row of dL/dZ sums to zero up to rounding of K-term sums: measured 3e-16
        # relative; 1e-14 bounds K * N * eps_64 for these sizes
        assert np.linalg.norm(g["W"].sum(0)) <= 1e-14 * np.linalg.norm(g["W"])
        assert abs(g["b"].sum()) <= 1e-14 * np.linalg.norm(g["b"])
    _, g = loss_and_gradients(params, y, "mse")
    assert np.linalg.norm(g["W"].sum(0)) >= 1e-2 * np.linalg.norm(g["W"])


def run_numpy_ufm(spec, steps, loss="cross_entropy", eps=0.0, batch=None, lrs=None, seed=0):
    ufm = UFM(K, N_PER, D, seed=seed, loss=loss, label_smoothing=eps)
    state = ufm.init_state(spec)
    rng = np.random.default_rng(seed)
    rows_sums = [ufm.row_sum().copy()]
    hp = spec.float_hp()
    for t in range(steps):
        rows = None if batch is None else rng.permutation(K * N_PER)[:batch]
        _, state = ufm.step(spec, state, {**hp, "lr": hp["lr"] if lrs is None else lrs[t]}, rows)
        rows_sums.append(ufm.row_sum().copy())
    return np.array(rows_sums)


def trajectory_error(measured, predicted):
    return float((np.linalg.norm(measured - predicted, axis=1) / np.linalg.norm(predicted, axis=1)).max())


def test_row_sum_trajectory_equals_prediction_and_negative_control():
    """THEORY.md section 3: whole-trajectory relative error <= 1e-9 in float64."""
    spec = nctheory.optimizer("sgd_momentum", **HB)
    measured = run_numpy_ufm(spec, 300, eps=0.1, batch=10)
    assert trajectory_error(measured, spec.predict(measured[0], 300)) <= 1e-9
    wrong = nctheory.optimizer("sgd_momentum", **{**HB, "momentum": 0.5})
    assert trajectory_error(measured, wrong.predict(measured[0], 300)) >= 1e-2


def test_prediction_with_a_learning_rate_schedule():
    spec = nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.8, weight_decay=1e-2)
    lrs = 0.1 * 0.5 * (1 + np.cos(np.pi * np.arange(200) / 200)) + 1e-3
    measured = run_numpy_ufm(spec, 200, lrs=lrs)
    assert trajectory_error(measured, spec.predict(measured[0], 200, lr_schedule=lrs)) <= 1e-9
    assert trajectory_error(measured, spec.predict(measured[0], 200)) >= 1e-3  # constant lr: wrong


def test_mse_breaks_the_prediction():
    spec = nctheory.optimizer("sgd_momentum", **HB)
    measured = run_numpy_ufm(spec, 100, loss="mse")
    assert trajectory_error(measured, spec.predict(measured[0], 100)) >= 1e-2


def test_decay_applies_to_w_and_h():
    """With a zero gradient contribution removed, SGD's decay shrinks H as well as W."""
    spec = nctheory.optimizer("sgd", lr=0.1, weight_decay=0.5)
    ufm = UFM(K, N_PER, D, seed=0)
    before = {k: v.copy() for k, v in ufm.params.items()}
    _, grads = ufm.loss_and_gradients()
    ufm.step(spec, ufm.init_state(spec), spec.float_hp())
    for name in ("W", "H"):
        np.testing.assert_allclose(ufm.params[name], before[name] - 0.1 * (grads[name] + 0.5 * before[name]),
                                   rtol=1e-15, atol=1e-15)


def test_seeded_init_and_namespace():
    a, y = init_ufm(3, 2, 4, seed=7)
    b, _ = init_ufm(3, 2, 4, seed=7)
    c, _ = init_ufm(3, 2, 4, seed=8)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(a["W"], c["W"])
    np.testing.assert_array_equal(y, [0, 0, 1, 1, 2, 2])
    assert array_namespace(a["W"]) is namespace("numpy")  # array-api-compat's numpy namespace
    value, Z = loss_value(a, y)
    assert Z.shape == (6, 3) and float(value) == pytest.approx(float(loss_and_gradients(a, y)[0]), rel=1e-15)


def test_bad_arguments():
    with pytest.raises(NCTheoryError, match="loss must be"):
        check_loss("hinge")
    with pytest.raises(NCTheoryError, match="label_smoothing"):
        check_loss("cross_entropy", 1.0)
    with pytest.raises(NCTheoryError, match="not to loss='mse'"):
        check_loss("mse", 0.1)
    assert check_loss("label_smoothing") == ("label_smoothing", 0.1)
    assert check_loss("cross_entropy", 0.2) == ("label_smoothing", 0.2)
    with pytest.raises(NCTheoryError, match="num_classes"):
        init_ufm(1, 2, 3)
    with pytest.raises(NCTheoryError, match="samples_per_class"):
        init_ufm(3, 0, 3)


def _cupy_ok():
    from nctheory.runs.backends import cupy_available

    return cupy_available()


@pytest.mark.skipif(not _cupy_ok(), reason="needs cupy and a CUDA GPU; none is available on this machine")
def test_cupy_gradients_and_trajectory_match_numpy():
    import cupy

    params, y = init_ufm(K, N_PER, D, seed=2, bias=True)
    gp = {k: cupy.asarray(v) for k, v in params.items()}
    value, grads = loss_and_gradients(gp, cupy.asarray(y), "cross_entropy", 0.1)
    ref_value, ref = loss_and_gradients(params, y, "cross_entropy", 0.1)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    for k in ref:
        assert np.linalg.norm(grads[k].get() - ref[k]) <= 1e-12 * np.linalg.norm(ref[k])
    spec = nctheory.optimizer("sgd_momentum", **HB)
    ufm = UFM(K, N_PER, D, xp=cupy, seed=0)
    state = ufm.init_state(spec)
    sums = [ufm.row_sum().get()]
    for _ in range(200):
        _, state = ufm.step(spec, state, spec.float_hp())
        sums.append(ufm.row_sum().get())
    sums = np.array(sums)
    assert trajectory_error(sums, spec.predict(sums[0], 200)) <= 1e-9
    assert trajectory_error(sums, run_numpy_ufm(spec, 200)) <= 1e-9
