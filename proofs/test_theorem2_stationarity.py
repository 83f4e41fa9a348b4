"""Theorem 2: stationarity under coupled L2 decay forces NC0 = 0 -- for every K >= 2, d and N.

Statement. If W* is a stationary point of L(W) + (lambda/2)||W||_F^2 with lambda > 0 and
a shift-invariant loss, then 0 = 1^T(grad L(W*) + lambda W*) = lambda W*^T 1, so
W*^T 1 = 0 and NC0(W*) = 0.

Hypotheses. K >= 2; Lemma 1 applies to the loss; lambda > 0; the decay is coupled (added
to the gradient), so that stationarity reads grad L + lambda W = 0.

Proof, for symbolic K, d and N (tests ``test_general_K_*``): a minibatch of N samples with
cross-entropy against targets T_s (one-hot labels, label smoothing, soft labels), logits
z_s = W h_s + b; sympy's derivative of each per-sample loss at a generic class r in 1..K
gives grad_W L = (1/N) sum_s (dl_s/dz_s) h_s^T, and column t of 1^T (grad_W L + lambda W)
reduces to lambda sum_r W_rt (index sums, index_sums_by_hand.py); lambda > 0 leaves
W^T 1 = 0. The negative controls show the hypotheses are needed: with squared error the
same column is lambda sum_r W_rt + (1/N) sum_s (2 sum_k z_sk - 2) h_st (for every K); a
ridge stationary point has a nonzero row sum; with decoupled decay and a sign step the fixed
point -S/lambda has row sum -S^T 1/lambda != 0.

Finite instances (``test_instance_*``, cross-checks): a symbolic minibatch with K = 3,
d = 2, and numerical stationary points (Newton here, torch autograd).
(Zhao et al., arXiv:2602.16642.)

Independence. Gradients come from losses_by_hand.py (sympy.diff of THEORY.md's losses);
the ridge stationary point is solved for here; the numerical part uses its own Newton
solver and torch autograd. Only the theorem object is imported, for its own proof and its
refusal of squared error.
"""

import numpy as np
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from index_sums_by_hand import vanishes
from losses_by_hand import (K, cancelled, cross_entropy, label_smoothing, last_layer, minibatch_gradient,
                            squared_error)
from nctheory.theorems.theorem2 import THEOREM2, StationarityForcesCentring

lam = sp.Symbol("lambda", positive=True)
W = last_layer(3, 2)[0]
ones = sp.ones(1, 3)


def test_instance_K3_d2_lemma1_for_a_symbolic_minibatch():
    grad = minibatch_gradient(cross_entropy, (0, 1, 2, 0), 3, 2, W)
    assert cancelled(ones * grad) == sp.zeros(1, 2)


def test_instance_K3_d2_row_sum_of_the_regularised_gradient_is_lambda_times_the_row_sum():
    grad = minibatch_gradient(label_smoothing, (2, 0), 3, 2, W)
    assert cancelled(ones * (grad + lam * W) - lam * (W.T * sp.ones(3, 1)).T) == sp.zeros(1, 2)


def test_instance_d2_lambda_positive_leaves_only_the_zero_row_sum():
    s1, s2 = sp.symbols("s1 s2")
    assert sp.solve([lam * s1, lam * s2], [s1, s2], dict=True) == [{s1: 0, s2: 0}]


# -- every K >= 2, d, N: index sums of symbolic length ------------------------------------------------
r, t, k, l, smp = sp.symbols("r t k l s", integer=True)
d, N = sp.symbols("d N", integer=True, positive=True)
Wi, h, Z, T = (sp.IndexedBase(name, real=True) for name in ("W", "h", "z", "T"))


def sample_losses():
    """Per-sample losses of the logits z_s (a row of Z): cross-entropy against targets T_s, and
    squared error against them (targets are one-hot labels, smoothed labels or soft labels)."""
    log_partition = sp.log(sp.Sum(sp.exp(Z[smp, l]), (l, 1, K)))
    return {"cross_entropy": sp.Sum(T[smp, k] * (log_partition - Z[smp, k]), (k, 1, K)),
            "mse": sp.Sum((Z[smp, k] - T[smp, k]) ** 2, (k, 1, K))}


def logit_gradient(loss):
    """dl_s/dz_{s,r} at a generic class r in 1..K (r = 1 + u, K = 1 + u + v), written back in r."""
    u, v = sp.symbols("u v", integer=True, nonnegative=True)
    return sp.diff(loss, Z[smp, r]).subs({r: 1 + u, K: 1 + u + v}).doit().subs({u: r - 1, v: K - r})


def regularised_column(loss, decay):
    """Column t of 1^T (grad_W L + decay W): grad_W L = (1/N) sum_s (dl_s/dz_s) h_s^T (chain rule through
    z_s = W h_s + b; Lemma 1's module derives dz_k/dW_rt = delta_kr h_t for every K, d); the sum over r
    taken inside the sum over samples (finite sums commute)."""
    return sp.Sum((logit_gradient(loss) * h[smp, t] + decay * Wi[r, t]) / N, (r, 1, K), (smp, 1, N))


def test_general_K_step1_2_one_transposed_regularised_gradient_is_lambda_times_the_row_sum():
    column = regularised_column(sample_losses()["cross_entropy"], lam)
    assert vanishes(column - lam * sp.Sum(Wi[r, t], (r, 1, K)))
    assert not vanishes(column - 2 * lam * sp.Sum(Wi[r, t], (r, 1, K)))  # a wrong factor is caught


def test_general_K_step3_lambda_positive_leaves_only_the_zero_row_sum():
    s_t = sp.Symbol("s_t")  # (W^T 1)_t for a generic t in 1..d
    assert sp.solve(lam * s_t, s_t) == [0]


def test_negative_control_general_K_squared_error_keeps_a_row_sum_for_every_K():
    column = regularised_column(sample_losses()["mse"], lam)
    extra = sp.Sum((2 * sp.Sum(Z[smp, k] - T[smp, k], (k, 1, K))) * h[smp, t] / N, (smp, 1, N))
    assert vanishes(column - lam * sp.Sum(Wi[r, t], (r, 1, K)) - extra)
    # ... and the extra term is not 0: one sample, one-hot target (T_k = delta_k1), logits 0 give -2 h_t, every K
    one = extra.subs(N, 1).doit().replace(lambda x: isinstance(x, sp.Indexed) and x.base == Z, lambda x: 0)
    one = one.replace(lambda x: isinstance(x, sp.Indexed) and x.base == T, lambda x: sp.KroneckerDelta(x.indices[1], 1))
    assert sp.simplify(one.doit() + 2 * h[1, t]) == 0


def ridge_stationary_points(H, Y, weight_decay):
    """Every W with (W H - Y) H^T + lambda W = 0 (the gradient of 1/2 ||W H - Y||^2 + lambda/2 ||W||^2)."""
    unknowns = sp.Matrix(Y.shape[0], H.shape[0], lambda i, j: sp.Symbol(f"x_{i}{j}"))
    equations = list((unknowns * H - Y) * H.T + weight_decay * unknowns)
    return [unknowns.subs(solution) for solution in sp.solve(equations, list(unknowns), dict=True)]


def test_negative_control_mse_breaks_lemma1_and_the_ridge_stationary_point_is_not_centred():
    grad = minibatch_gradient(squared_error, (0, 1, 2, 0), 3, 2, W)
    assert sp.expand(ones * grad) != sp.zeros(1, 2)
    H = sp.Matrix([[1, 2, 0, -1], [3, -1, 1, 2]])
    Y = sp.Matrix([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]])
    (star,) = ridge_stationary_points(H, Y, sp.Rational(1, 10))  # strictly convex: exactly one
    assert cancelled(star.T * sp.ones(3, 1)) != sp.zeros(2, 1)


def test_negative_control_decoupled_sign_fixed_point_keeps_a_row_sum():
    eta = sp.Symbol("eta", positive=True)
    S = sp.Matrix([[1, -1], [1, 1], [-1, 1]])
    star = -S / lam
    assert sp.expand((1 - eta * lam) * star - eta * S - star) == sp.zeros(3, 2)
    assert star.T * sp.ones(3, 1) == sp.Matrix([-1 / lam, -1 / lam])


def test_negative_control_the_theorem_refuses_mse():
    assert not StationarityForcesCentring(loss="mse").prove().holds


# -- numerical check: minimise the L2-regularised objective, look at the row sum -------
def _torch_gradient(loss, W, h, labels, weight_decay):
    """grad of the regularised objective by torch autograd (float64), independent of the solver."""
    W = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    h, labels = torch.tensor(h), torch.tensor(labels)
    logits = h @ W.T
    if loss == "cross_entropy":
        data = torch.nn.functional.cross_entropy(logits, labels)
    else:
        data = ((logits - torch.nn.functional.one_hot(labels, W.shape[0]).double()) ** 2).sum(dim=1).mean()
    (data + weight_decay / 2 * (W ** 2).sum()).backward()
    return W.grad.numpy()


def _stationary_point(loss, h, labels, K, weight_decay, rng):
    """Damped Newton on the strongly convex regularised objective (numpy, float64)."""
    n, d = h.shape
    Y = np.eye(K)[labels]
    W = rng.standard_normal((K, d)) + 1.0  # start far from centred

    def value_grad_hessian(W):
        Z = h @ W.T
        if loss == "mse":
            R = Z - Y
            value = (R ** 2).sum() / n + weight_decay / 2 * (W ** 2).sum()
            grad = 2 * R.T @ h / n + weight_decay * W
            hessian = np.kron(np.eye(K), 2 * h.T @ h / n)
        else:
            Z = Z - Z.max(axis=1, keepdims=True)
            log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
            P = np.exp(log_p)
            value = -log_p[np.arange(n), labels].mean() + weight_decay / 2 * (W ** 2).sum()
            grad = (P - Y).T @ h / n + weight_decay * W
            hessian = sum(np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x)) for p, x in zip(P, h)) / n
        return value, grad, hessian + weight_decay * np.eye(K * d)

    for _ in range(200):
        value, grad, hessian = value_grad_hessian(W)
        if np.abs(grad).max() < 1e-13:
            break
        step = np.linalg.solve(hessian, grad.ravel()).reshape(K, d)
        size = 1.0  # near the optimum pure Newton steps (quadratic convergence; Armijo drowns in rounding)
        while (np.abs(grad).max() > 1e-4 and size > 1e-10
               and value_grad_hessian(W - size * step)[0] > value - 1e-4 * size * (grad * step).sum()):
            size /= 2
        W = W - size * step
    return W, _torch_gradient(loss, W, h, labels, weight_decay)


@settings(max_examples=10)
@given(K=st.integers(2, 5), d=st.integers(2, 4), n=st.integers(3, 10), seed=st.integers(0, 2 ** 16),
       weight_decay=st.sampled_from([0.01, 0.1, 0.5]))
def test_property_numerical_stationary_points_of_the_coupled_objective_are_centred(K, d, n, seed, weight_decay):
    rng = np.random.default_rng(seed)
    h = 2 * rng.standard_normal((n, d))
    labels = rng.integers(0, K, n)
    W, grad = _stationary_point("cross_entropy", h, labels, K, weight_decay, rng)
    assert np.abs(grad).max() < 1e-10  # stationary (checked by torch autograd)
    assert np.abs(W.sum(axis=0)).max() < 1e-9 * max(1.0, np.abs(W).max())  # ... and centred
    assert np.abs(W.sum(axis=0)).max() <= K * np.abs(grad).max() / weight_decay + 1e-12  # lambda W^T 1 = 1^T grad


def test_negative_control_numerical_mse_stationary_point_is_not_centred():
    rng = np.random.default_rng(1)
    h = rng.standard_normal((9, 3))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    W, grad = _stationary_point("mse", h, labels, 3, 0.1, rng)
    assert np.abs(grad).max() < 1e-10
    assert np.linalg.norm(W.sum(axis=0)) > 1e-2


def test_the_theorem_object_proves_every_step():
    proof = THEOREM2.prove()
    assert proof.holds, str(proof)
