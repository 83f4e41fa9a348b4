"""The loss registry: Lemma 1's hypothesis (shift invariance, decided exactly or with a
witness), and the array forms of every loss against its sympy expression."""

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from nctheory.errors import NCTheoryError
from nctheory.runs.ufm import check_loss, init_ufm, loss_and_gradients
from nctheory.theory.losses import LOSSES, logits, run_parameters, runnable_losses, shift_invariance

INVARIANT = ["cross_entropy", "label_smoothing", "soft_labels", "focal", "crammer_singer"]
NOT_INVARIANT = ["mse", "sigmoid_ovr"]


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_losses_pass(name, K):
    assert shift_invariance(name, K).invariant is True


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("name", NOT_INVARIANT)
def test_non_invariant_losses_fail_with_an_exact_witness(name, K):
    result = shift_invariance(name, K)
    assert result.invariant is False
    z = logits(K)
    assert sp.N(result.derivative.subs(result.witness), 30) != 0
    assert all(zk in result.witness for zk in z)


def test_user_expression_is_checked():
    z = logits(3)
    centred = sum((zk - sum(z) / 3) ** 2 for zk in z)  # depends only on differences: invariant
    assert shift_invariance(centred, logit_symbols=z).invariant is True
    assert shift_invariance(z[0] ** 2 + z[1], logit_symbols=z).invariant is False


def test_expression_without_logits_is_an_error():
    with pytest.raises(NCTheoryError, match="logit_symbols"):
        shift_invariance(sp.Symbol("x") ** 2)


def test_unknown_loss_lists_known():
    with pytest.raises(NCTheoryError, match="cross_entropy"):
        shift_invariance("hinge2")


def test_registry_is_complete():
    assert set(INVARIANT + NOT_INVARIANT) == set(LOSSES)


# -- the array forms against the sympy expression -------------------------------------
# For every registered loss, the numpy per-sample gradient and torch's autograd gradient
# must equal the gradient of the sympy expression. The reference is the sympy gradient
# lambdified with mpmath at 30 digits, so its own error is far below one float64 ulp and
# the comparison measures only the array form's rounding.
#
# Tolerance (float64, u = 2^-53): an entry of dl/dz_i comes from z_i - max z_i, K
# exponentials, one K-term sum, a log, and at most ~8 further rounded operations (exp,
# pow, products, the final subtraction of the target), each within 1 ulp (numpy, torch's
# elementwise kernels). The K-term sum contributes at most K u relatively (Higham 3.1),
# so relative to the sample's scale the error is at most (K + 8) u; errors in the
# shifted logits are absolute, of size u ||z_i||_inf, and are amplified by at most the
# sample's gradient magnitude. Hence, per sample,
#     ||G_i - G_i^exact||_inf <= 4 (K + 8) u (1 + ||z_i||_inf) (1 + ||G_i^exact||_inf),
# a factor 4 for the few ulps each operation may lose. The value l_i obeys the same bound
# with (1 + |l_i|) in place of the gradient norm. For these logits (|z| <= 9) the bound is
# 2e-14 .. 5e-14 absolute and the measured errors at most 3 ulps of the sample's scale
# (under 1% of the bound); the negative controls below show that a wrong gradient -- even
# one entry off by 1e-12 -- is refused.
ULP = float(np.finfo(np.float64).eps)
SIZES = (2, 3, 5)
BATCH = 6


def _sample(name, K, seed=0):
    """Random logits (scale 3), labels and the loss's parameter values (defaults; random
    soft targets for soft labels)."""
    rng = np.random.default_rng([seed, K, sorted(LOSSES).index(name)])
    Z = 3.0 * rng.standard_normal((BATCH, K))
    y = rng.integers(0, K, BATCH)
    values = {p.name: p.default for p in LOSSES[name].parameters if p.default is not None}
    if "targets" in {p.name for p in LOSSES[name].parameters}:
        values["targets"] = rng.dirichlet(np.ones(K), BATCH)
    return Z, y, values


def _sympy_reference(name, Z, y, values):
    """Per-sample ``(l_i, dl/dz_i)`` from the sympy expression, 30 digits, as float64."""
    loss, (B, K) = LOSSES[name], Z.shape
    z = logits(K)
    mpmath.mp.dps = 30
    out_values, out_grads = np.empty(B), np.empty((B, K))
    for i in range(B):
        order = [int(y[i])] + [k for k in range(K) if k != y[i]]  # the sympy form's true class is index 0
        given = {k: v for k, v in values.items() if k != "targets"}
        if "targets" in values:
            given["targets"] = [values["targets"][i][k] for k in order]
        expr = loss.build([z[k] for k in order], **given)
        function = sp.lambdify(z, [expr] + [sp.diff(expr, zk) for zk in z], "mpmath")
        result = function(*(mpmath.mpf(float(v)) for v in Z[i]))
        out_values[i], out_grads[i] = float(result[0]), [float(g) for g in result[1:]]
    return out_values, out_grads


def _numpy_forms(name, Z, y, values):
    return LOSSES[name].value_and_grad(Z, y, **values)


def _torch_forms(name, Z, y, values):
    given = {k: torch.as_tensor(v) if k == "targets" else v for k, v in values.items()}
    Zt = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    per_sample = LOSSES[name].torch_value(Zt, torch.as_tensor(y), reduction="none", **given)
    per_sample.sum().backward()  # the sum's gradient in z_i is dl_i/dz_i
    return per_sample.detach().numpy(), Zt.grad.numpy()


def _agrees(Z, value, grad, ref_value, ref_grad) -> bool:
    K = Z.shape[1]
    scale = 4 * (K + 8) * ULP * (1 + np.abs(Z).max(axis=1))
    grad_ok = np.abs(grad - ref_grad).max(axis=1) <= scale * (1 + np.abs(ref_grad).max(axis=1))
    value_ok = np.abs(value - ref_value) <= scale * (1 + np.abs(ref_value))
    return bool(grad_ok.all() and value_ok.all())


@pytest.mark.parametrize("K", SIZES)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_array_gradients_equal_the_sympy_gradient(name, K):
    Z, y, values = _sample(name, K)
    ref_value, ref_grad = _sympy_reference(name, Z, y, values)
    for forms in (_numpy_forms, _torch_forms):
        value, grad = forms(name, Z, y, values)
        assert value.shape == (BATCH,) and grad.shape == (BATCH, K), forms.__name__
        assert _agrees(Z, value, grad, ref_value, ref_grad), (forms.__name__, np.abs(grad - ref_grad).max())


def test_negative_control_a_wrong_gradient_is_refused():
    """The comparison would catch a wrong gradient: label smoothing's gradient without the
    eps/K term (cross-entropy's), focal's without the derivative of (1 - p_y)^gamma, and a
    correct gradient perturbed by 1e-12 in one entry (about ten times the tolerance there)."""
    K = 3
    Z, y, values = _sample("label_smoothing", K)
    ref_value, ref_grad = _sympy_reference("label_smoothing", Z, y, values)
    value, _ = _numpy_forms("label_smoothing", Z, y, values)
    _, cross_entropy_grad = _numpy_forms("cross_entropy", Z, y, {})
    assert not _agrees(Z, value, cross_entropy_grad, ref_value, ref_grad)

    Z, y, values = _sample("focal", K)
    ref_value, ref_grad = _sympy_reference("focal", Z, y, values)
    value, grad = _numpy_forms("focal", Z, y, values)
    assert _agrees(Z, value, grad, ref_value, ref_grad)
    p = np.exp(Z - Z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(K)[y]
    rest = 1 - p[np.arange(len(y)), y]
    modulating_only = -(rest ** values["gamma"])[:, None] * (onehot - p)  # (1 - p_y)^gamma taken as constant
    assert not _agrees(Z, value, modulating_only, ref_value, ref_grad)
    perturbed = grad.copy()
    perturbed[0, 0] += 1e-12
    assert not _agrees(Z, value, perturbed, ref_value, ref_grad)


# -- the registry's parameters and its consumers -----------------------------------------
def test_parameters_are_declared_once_on_the_loss():
    smoothing = LOSSES["label_smoothing"]
    assert check_loss("label_smoothing") == ("label_smoothing", smoothing.default("epsilon"))
    assert check_loss("cross_entropy", 0.2) == ("label_smoothing", 0.2)
    # Lemma 1 is decided with eps and gamma symbolic: for every value a run may choose
    for name, parameter in (("label_smoothing", "epsilon"), ("focal", "gamma")):
        expr, _ = LOSSES[name].expression(3)
        assert LOSSES[name].parameter(parameter).symbol in expr.free_symbols
    with pytest.raises(NCTheoryError, match="no parameter"):
        LOSSES["cross_entropy"].value_and_grad(np.zeros((1, 3)), np.zeros(1, dtype=int), epsilon=0.1)
    with pytest.raises(NCTheoryError, match="needs targets"):
        LOSSES["soft_labels"].value_and_grad(np.zeros((1, 3)), np.zeros(1, dtype=int))


def test_runs_accept_exactly_the_registered_losses_with_defaults():
    assert set(runnable_losses()) == set(LOSSES) - {"soft_labels"}
    for name in runnable_losses():
        assert check_loss(name)[0] == name
    with pytest.raises(NCTheoryError, match="needs per-sample parameters"):
        check_loss("soft_labels")
    with pytest.raises(NCTheoryError, match="loss must be one of 'cross_entropy'"):
        check_loss("hinge")
    with pytest.raises(NCTheoryError, match="not to loss='focal'"):
        check_loss("focal", 0.1)


@pytest.mark.parametrize("name", runnable_losses())
def test_ufm_gradients_through_the_registry_equal_torch_autograd(name):
    """The UFM's analytic gradients (numpy form, chain rule) against autograd through the
    torch form, for every loss a run accepts: relative error <= 1e-12, as in test_ufm.py
    (the same formulas in another operation order differ by O(n_terms u) ~ 1e-14)."""
    K, n, d = 4, 5, 6
    params, y = init_ufm(K, n, d, seed=2, bias=True)
    params["b"] = np.linspace(-1, 1, K)
    rows = np.random.default_rng(1).permutation(K * n)[:7]
    loss, eps = check_loss(name)
    value, grads = loss_and_gradients(params, y, loss, eps, rows)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Z = t["H"][torch.as_tensor(rows)] @ t["W"].T + t["b"]
    reference = LOSSES[loss].torch_value(Z, torch.as_tensor(y[rows]), reduction="mean", **run_parameters(eps))
    reference.backward()
    assert float(value) == pytest.approx(float(reference.detach()), rel=1e-12)
    for block in grads:
        expected = t[block].grad.numpy()
        assert np.linalg.norm(grads[block] - expected) <= 1e-12 * np.linalg.norm(expected), block
