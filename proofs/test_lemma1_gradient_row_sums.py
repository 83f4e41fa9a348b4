"""Lemma 1: the gradient's row sums vanish for shift-invariant losses.

Statement. For z = W h + b and a per-sample loss with l(z + c 1_K) = l(z) for all c,
1_K^T grad_W l = (sum_k dl/dz_k) h^T = 0 and 1_K^T grad_b l = 0 -- for every sample,
hence every minibatch, feature map and step.

Hypotheses. Shift invariance: cross-entropy, label smoothing, soft (mixup) labels, focal
loss, Crammer-Singer hinge. NOT squared error on logits, NOT one-vs-rest sigmoid: for
those the lemma fails and no exact NC0 dynamics are claimed.

Proof. Chain rule dl/dW_kj = (dl/dz_k) h_j; sum_k dl/dz_k = d/dc l(z + c 1)|_{c=0} = 0.
Checked exactly with symbolic W, b, h (cross-entropy, K = 2..5), for THEORY.md's loss
table by a shift-invariance decision written here (losses_by_hand.py), and numerically
against torch autograd in float64. (Zhao et al., arXiv:2602.16642.)

Independence. The losses, their gradients and the invariance decision are written in
losses_by_hand.py; the package's loss registry is only the object of one check (its
sympy forms decided by that independent procedure), and the theorem object is run for its
own proof and its negative control. The engine's decider (shift_invariance) is tested in
tests/test_losses.py.
"""

import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losses_by_hand import (SHIFT, THEORY_TABLE, cancelled, cross_entropy, decide_shift_invariance, last_layer,
                            logits, minibatch_gradient, per_sample_gradients, squared_error, witness_value)
from nctheory.theorems.lemma1 import EXPECTED_SHIFT_INVARIANCE, LEMMA1, GradientRowSums
from nctheory.theory.losses import LOSSES


def test_step1_chain_rule_gives_grad_W_as_an_outer_product():
    grad_w, _, grad_z, h = per_sample_gradients(cross_entropy, 3, 2)
    assert sp.simplify(grad_w - grad_z * h.T) == sp.zeros(3, 2)


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_step2_cross_entropy_row_sums_of_grad_W_and_grad_b_vanish(K):
    grad_w, grad_b, _, _ = per_sample_gradients(cross_entropy, K, 2)
    assert cancelled(sp.ones(1, K) * grad_w) == sp.zeros(1, 2)
    assert sp.cancel(sp.together((sp.ones(1, K) * grad_b)[0])) == 0


def test_step3_a_minibatch_gradient_has_zero_row_sums():
    grad = minibatch_gradient(cross_entropy, labels=(0, 2, 1, 1), k=3, d=2)
    assert cancelled(sp.ones(1, 3) * grad) == sp.zeros(1, 2)


@pytest.mark.parametrize("loss_name", sorted(THEORY_TABLE))
def test_step4_the_loss_table_of_theory_md(loss_name):
    loss, invariant = THEORY_TABLE[loss_name]
    for K in (2, 3, 4):
        z = logits(K)
        assert decide_shift_invariance(loss(list(z)), z) is invariant


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_step4_the_package_s_loss_expressions_obey_the_table(loss_name):
    """The registered sympy forms (the objects the engine decides on), decided here independently."""
    assert EXPECTED_SHIFT_INVARIANCE[loss_name] is THEORY_TABLE[loss_name][1]
    for K in (2, 3):
        expression, z = LOSSES[loss_name].expression(K)
        assert decide_shift_invariance(expression, z) is THEORY_TABLE[loss_name][1]


@pytest.mark.parametrize("loss_name, K, value", [("mse", 3, -2), ("sigmoid_ovr", 3, sp.Rational(1, 2)),
                                                 ("sigmoid_ovr", 2, sp.Rational(5, 12))])
def test_step5_failures_rest_on_an_exact_rational_witness(loss_name, K, value):
    z = logits(K)
    assert witness_value(THEORY_TABLE[loss_name][0](list(z)), z) == value


def test_negative_control_mse_row_sums_are_2_sum_z_minus_1_times_h():
    grad_w, _, _, h = per_sample_gradients(squared_error, 3, 2)
    z = last_layer(3, 2)[3]
    assert sp.expand(sp.ones(1, 3) * grad_w - 2 * (sum(z) - 1) * h.T) == sp.zeros(1, 2)
    assert sp.expand(sp.ones(1, 3) * grad_w) != sp.zeros(1, 2)


def test_negative_control_the_decision_refutes_losses_that_are_not_invariant():
    z = logits(3)
    assert decide_shift_invariance(cross_entropy(list(z)) + z[0] / 2, z) is False  # witness 1/2
    assert decide_shift_invariance(cross_entropy(list(z)) + z[0] ** 2, z) is None  # no rational witness: undecided
    assert decide_shift_invariance(sp.Max(0, 1 + sp.Max(*z[1:]) - 2 * z[0]), z) is not True
    shifted = sp.Max(z[1] + SHIFT, z[2] + SHIFT)
    assert sp.expand(shifted - SHIFT - sp.Max(z[1], z[2])) != 0  # the max rewrite is needed, not automatic


def test_negative_control_a_wrong_loss_table_is_refuted():
    proof = GradientRowSums(expected={"cross_entropy": True, "mse": True}, sizes=(2,)).prove()
    assert not proof.holds
    assert any("mse" in step.description for step in proof.failing_steps)


# -- numerical cross-check with torch autograd (float64), losses written here from THEORY.md ---------
def torch_loss(name, K, soft):
    F = torch.nn.functional

    def onehot(y):
        return F.one_hot(y, K).double()

    def focal(Z, y):
        log_p = F.log_softmax(Z, 1).gather(1, y[:, None])[:, 0]
        return (-(1 - log_p.exp()) ** 2 * log_p).mean()

    def crammer_singer(Z, y):
        others = Z.masked_fill(onehot(y).bool(), -torch.inf)
        return torch.relu(1 + others.max(1, keepdim=True).values - Z.gather(1, y[:, None])).mean()

    return {
        "cross_entropy": lambda Z, y: -(F.log_softmax(Z, 1) * onehot(y)).sum(1).mean(),
        "label_smoothing": lambda Z, y: -(F.log_softmax(Z, 1) * (0.9 * onehot(y) + 0.1 / K)).sum(1).mean(),
        "soft_labels": lambda Z, y: -(soft * F.log_softmax(Z, 1)).sum(1).mean(),
        "focal": focal,
        "crammer_singer": crammer_singer,
        "mse": lambda Z, y: ((Z - onehot(y)) ** 2).sum(1).mean(),
    }[name]


@settings(max_examples=30)
@given(K=st.integers(2, 6), d=st.integers(1, 5), n=st.integers(1, 8), seed=st.integers(0, 2 ** 16),
       loss_name=st.sampled_from(["cross_entropy", "label_smoothing", "soft_labels", "focal", "crammer_singer"]))
def test_property_torch_autograd_row_sums_vanish_for_invariant_losses(K, d, n, seed, loss_name):
    generator = torch.Generator().manual_seed(seed)
    W = torch.randn(K, d, generator=generator, dtype=torch.float64, requires_grad=True)
    b = torch.randn(K, generator=generator, dtype=torch.float64, requires_grad=True)
    h = 3 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, K, (n,), generator=generator)
    soft = torch.softmax(torch.randn(n, K, generator=generator, dtype=torch.float64), dim=1)
    torch_loss(loss_name, K, soft)(h @ W.T + b, labels).backward()
    scale = 1 + W.grad.abs().sum().item() + b.grad.abs().sum().item()
    assert W.grad.sum(dim=0).abs().max().item() <= 1e-13 * scale
    assert abs(b.grad.sum().item()) <= 1e-13 * scale


def test_negative_control_torch_mse_row_sums_do_not_vanish():
    generator = torch.Generator().manual_seed(0)
    W = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    h = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    torch_loss("mse", 3, None)(h @ W.T, torch.tensor([0, 1, 2, 0, 1])).backward()
    assert W.grad.sum(dim=0).abs().max().item() > 1e-3


def test_the_theorem_object_proves_every_step():
    proof = LEMMA1.prove()
    assert proof.holds, str(proof)
