"""Lemma 1: the gradient's row sums vanish for shift-invariant losses.

Statement. For z = W h + b and a per-sample loss with l(z + c 1_K) = l(z) for all c,
1_K^T grad_W l = (sum_k dl/dz_k) h^T = 0 and 1_K^T grad_b l = 0 -- for every sample,
hence every minibatch, feature map and step.

Hypotheses. Shift invariance: cross-entropy, label smoothing, soft (mixup) labels, focal
loss, Crammer-Singer hinge. NOT squared error on logits, NOT one-vs-rest sigmoid: for
those the lemma fails and no exact NC0 dynamics are claimed.

Proof. Chain rule dl/dW_kj = (dl/dz_k) h_j; sum_k dl/dz_k = d/dc l(z + c 1)|_{c=0} = 0.
Checked exactly with symbolic W, b, h (cross-entropy, K = 2..5), for the loss table via
nctheory.theory.losses.shift_invariance, and numerically against torch autograd in float64.
(Zhao et al., arXiv:2602.16642.)
"""

import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nctheory.theory.losses import cross_entropy, shift_invariance, squared_error
from nctheory.theorems.lemma1 import (EXPECTED_SHIFT_INVARIANCE, LEMMA1, GradientRowSums, last_layer,
                                      loss_gradients, minibatch_gradient, torch_loss)


def test_step1_chain_rule_gives_grad_W_as_an_outer_product():
    grad_w, _, grad_z, h = loss_gradients(cross_entropy, 3, 2)
    assert sp.simplify(grad_w - grad_z * h.T) == sp.zeros(3, 2)


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_step2_cross_entropy_row_sums_of_grad_W_and_grad_b_vanish(K):
    grad_w, grad_b, _, _ = loss_gradients(cross_entropy, K, 2)
    assert (sp.ones(1, K) * grad_w).applyfunc(lambda e: sp.cancel(sp.together(e))) == sp.zeros(1, 2)
    assert sp.cancel(sp.together((sp.ones(1, K) * grad_b)[0])) == 0


def test_step3_a_minibatch_gradient_has_zero_row_sums():
    grad = minibatch_gradient(cross_entropy, labels=(0, 2, 1, 1), num_classes=3, dim=2)
    assert (sp.ones(1, 3) * grad).applyfunc(lambda e: sp.cancel(sp.together(e))) == sp.zeros(1, 2)


@pytest.mark.parametrize("loss_name, invariant", sorted(EXPECTED_SHIFT_INVARIANCE.items()))
def test_step4_the_loss_table_of_theory_md(loss_name, invariant):
    for K in (2, 3, 4):
        assert shift_invariance(loss_name, K).invariant is invariant


@pytest.mark.parametrize("loss_name", ["mse", "sigmoid_ovr"])
def test_step5_failures_rest_on_an_exact_nonzero_witness(loss_name):
    verdict = shift_invariance(loss_name, 3)
    assert verdict.witness is not None
    value = verdict.derivative.subs(verdict.witness)
    assert abs(sp.N(value, 50)) > sp.Rational(1, 10 ** 6)


def test_negative_control_mse_row_sums_are_2_sum_z_minus_1_times_h():
    grad_w, _, _, h = loss_gradients(squared_error, 3, 2)
    z = last_layer(3, 2)[3]
    assert sp.expand(sp.ones(1, 3) * grad_w - 2 * (sum(z) - 1) * h.T) == sp.zeros(1, 2)
    assert sp.expand(sp.ones(1, 3) * grad_w) != sp.zeros(1, 2)


def test_negative_control_a_wrong_loss_table_is_refuted():
    proof = GradientRowSums(expected={"cross_entropy": True, "mse": True}, sizes=(2,)).prove()
    assert not proof.holds
    assert any("mse" in step.description for step in proof.failing_steps)


# -- numerical cross-check with torch autograd (float64) ------------------------------
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
    loss = torch_loss(loss_name, K, soft)(h @ W.T + b, labels)  # the same losses the theorem's check runs
    loss.backward()
    scale = 1 + W.grad.abs().sum().item() + b.grad.abs().sum().item()
    assert W.grad.sum(dim=0).abs().max().item() <= 1e-13 * scale
    assert abs(b.grad.sum().item()) <= 1e-13 * scale


def test_negative_control_torch_mse_row_sums_do_not_vanish():
    generator = torch.Generator().manual_seed(0)
    W = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    h = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    torch_loss("mse", 3)(h @ W.T, torch.tensor([0, 1, 2, 0, 1])).backward()
    assert W.grad.sum(dim=0).abs().max().item() > 1e-3


def test_the_theorem_object_proves_every_step():
    proof = LEMMA1.prove()
    assert proof.holds, str(proof)
