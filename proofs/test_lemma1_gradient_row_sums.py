"""Lemma 1: the gradient's row sums vanish for shift-invariant losses -- for every K >= 2.

Statement. For z = W h + b and a per-sample loss with l(z + c 1_K) = l(z) for all c,
1_K^T grad_W l = (sum_k dl/dz_k) h^T = 0 and 1_K^T grad_b l = 0 -- for every sample,
hence every minibatch, feature map and step.

Hypotheses. K >= 2; labels in 1..K; shift invariance: cross-entropy, label smoothing, soft
(mixup) labels, focal loss, any function of the softmax probabilities, Crammer-Singer hinge.
NOT squared error on logits, NOT one-vs-rest sigmoid: for those the lemma fails and no exact
NC0 dynamics are claimed.

Proof, for symbolic K, d and N (tests ``test_general_K_*``). dz_k/dW_rt = delta_{kr} h_t, so
dl/dW_rt = (dl/dz_r) h_t and the column sums are (sum_k dl/dz_k) h_t. Each loss of THEORY.md's
table is written as index sums over k = 1..K with K a symbol (losses_by_hand.py); l(z + c 1)
- l(z) and sum_j dl/dz_j (sympy's derivative at a generic index j in 1..K, summed over j)
reduce to 0 (index_sums_by_hand.py); Crammer-Singer through max(x + c) = max(x) + c, proved
by induction on the number of terms; squared error and the sigmoid fail for every K >= 2 with
exact witnesses. A minibatch of per-sample gradients that each sum to 0 has zero column sums.

Finite instances (tests ``test_instance_*``, cheap cross-checks, not the proof): symbolic
matrices W, b, h for cross-entropy with K = 2..5, a minibatch at K = 3, the loss table for
K = 2..4 by the decision of losses_by_hand.py, and torch autograd in float64.
(Zhao et al., arXiv:2602.16642.)

Independence. The losses, their gradients and the invariance decision are written in
losses_by_hand.py and index_sums_by_hand.py; the package's loss registry is only the object
of one check (its sympy forms decided by that independent procedure), and the theorem
object is run for its own proof and its negative control. The engine's decider
(shift_invariance) is tested in tests/test_losses.py; the theorem's symbolic-K tools
(nctheory.theorems.softmax_sums, nctheory.theorems.index_sums) are not imported.
"""

import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from index_sums_by_hand import certified_nonnegative, index_in_range, rename_bound, shift_entries, vanishes
from losses_by_hand import K as K_SYMBOL
from losses_by_hand import (LABEL, SHIFT, THEORY_TABLE, THEORY_TABLE_SYMBOLIC_K, Z, cancelled, cross_entropy,
                            decide_shift_invariance, last_layer, log_partition, logits, minibatch_gradient,
                            per_sample_gradients, probability, squared_error, witness_value)
from nctheory.theorems.lemma1 import EXPECTED_SHIFT_INVARIANCE, LEMMA1, GradientRowSums
from nctheory.theory.losses import LOSSES


def test_instance_K3_chain_rule_gives_grad_W_as_an_outer_product():
    grad_w, _, grad_z, h = per_sample_gradients(cross_entropy, 3, 2)
    assert sp.simplify(grad_w - grad_z * h.T) == sp.zeros(3, 2)


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_instance_cross_entropy_row_sums_of_grad_W_and_grad_b_vanish(K):
    grad_w, grad_b, _, _ = per_sample_gradients(cross_entropy, K, 2)
    assert cancelled(sp.ones(1, K) * grad_w) == sp.zeros(1, 2)
    assert sp.cancel(sp.together((sp.ones(1, K) * grad_b)[0])) == 0


def test_instance_K3_a_minibatch_gradient_has_zero_row_sums():
    grad = minibatch_gradient(cross_entropy, labels=(0, 2, 1, 1), k=3, d=2)
    assert cancelled(sp.ones(1, 3) * grad) == sp.zeros(1, 2)


@pytest.mark.parametrize("loss_name", sorted(THEORY_TABLE))
def test_instance_the_loss_table_of_theory_md_for_K_2_to_4(loss_name):
    loss, invariant = THEORY_TABLE[loss_name]
    for K in (2, 3, 4):
        z = logits(K)
        assert decide_shift_invariance(loss(list(z)), z) is invariant


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_instance_the_package_s_loss_expressions_obey_the_table(loss_name):
    """The registered sympy forms (the objects the engine decides on), decided here independently."""
    assert EXPECTED_SHIFT_INVARIANCE[loss_name] is THEORY_TABLE[loss_name][1]
    for K in (2, 3):
        expression, z = LOSSES[loss_name].expression(K)
        assert decide_shift_invariance(expression, z) is THEORY_TABLE[loss_name][1]


@pytest.mark.parametrize("loss_name, K, value", [("mse", 3, -2), ("sigmoid_ovr", 3, sp.Rational(1, 2)),
                                                 ("sigmoid_ovr", 2, sp.Rational(5, 12))])
def test_instance_failures_rest_on_an_exact_rational_witness(loss_name, K, value):
    z = logits(K)
    assert witness_value(THEORY_TABLE[loss_name][0](list(z)), z) == value


def test_negative_control_instance_K3_mse_row_sums_are_2_sum_z_minus_1_times_h():
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


# -- every K >= 2: index sums of symbolic length K (the symbol K_SYMBOL) ---------------------------------
r, t, i, j, s_ = sp.symbols("r t i j s", integer=True)
d, N = sp.symbols("d N", integer=True, positive=True)
W, h, b, g, e = (sp.IndexedBase(name, real=True) for name in ("W", "h", "b", "g", "e"))


def every_entry():
    """(r, t) ranging over all entries of a K x d matrix: r = 1 + u, K = 1 + u + v, likewise t."""
    return {**index_in_range(r, K_SYMBOL, "u v"), **index_in_range(t, d, "u2 v2")}


def gradient_sum(loss):
    """sum_{j=1}^K dl/dz_j: sympy's derivative at j = 1 + u (K = 1 + u + v, so every j in 1..K),
    written back in j and summed over j; the label in 1..K."""
    u, v = sp.symbols("u v", integer=True, nonnegative=True)
    at_j = sp.diff(loss(Z), Z[j]).subs({j: 1 + u, K_SYMBOL: 1 + u + v}).doit().subs({u: j - 1, v: K_SYMBOL - j})
    return sp.Sum(at_j, (j, 1, K_SYMBOL)).subs(index_in_range(LABEL, K_SYMBOL))


def test_general_K_step1_linear_layer_and_chain_rule():
    k = sp.Symbol("k", integer=True)
    z_k = sp.Sum(W[k, i] * h[i], (i, 1, d)) + b[k]
    jacobian = sp.diff(z_k, W[r, t]).subs(every_entry()).doit()
    assert sp.expand(jacobian - (sp.KroneckerDelta(k, r) * h[t]).subs(every_entry())) == 0
    chained = sp.Sum(g[k] * sp.KroneckerDelta(k, r) * h[t], (k, 1, K_SYMBOL)).subs(every_entry()).doit()
    assert sp.expand(chained - (g[r] * h[t]).subs(every_entry())) == 0  # dl/dW_rt = g_r h_t
    column = sp.Sum(g[r] * h[t], (r, 1, K_SYMBOL))
    assert vanishes(column - h[t] * sp.Sum(g[k], (k, 1, K_SYMBOL)))  # column t of grad_W l: (sum_k g_k) h_t


def test_general_K_step2_cross_entropy_gradient_is_p_minus_onehot_and_sums_to_zero():
    loss = THEORY_TABLE_SYMBOLIC_K["cross_entropy"][0]
    u, v = sp.symbols("u v", integer=True, nonnegative=True)
    at_j = sp.diff(loss(Z), Z[j]).subs({j: 1 + u, K_SYMBOL: 1 + u + v}).doit()
    assert vanishes(at_j - (probability(j) - sp.KroneckerDelta(j, LABEL)).subs({j: 1 + u, K_SYMBOL: 1 + u + v}))
    assert vanishes(sp.Sum(probability(j), (j, 1, K_SYMBOL)) - 1)
    assert sp.Sum(sp.KroneckerDelta(j, LABEL), (j, 1, K_SYMBOL)).subs(index_in_range(LABEL, K_SYMBOL)).doit() == 1
    assert vanishes(gradient_sum(loss))


def test_general_K_step2_cross_entropy_differentiated_in_W_directly():
    k = sp.Symbol("k", integer=True)

    def logit(row):
        return sp.Sum(W[row, i] * h[i], (i, 1, d)) + b[row]

    partition = sp.Sum(sp.exp(logit(k)), (k, 1, K_SYMBOL))
    derivative = sp.diff(sp.log(partition) - logit(LABEL), W[r, t]).subs(every_entry()).doit()
    expected = ((sp.exp(logit(r)) / partition - sp.KroneckerDelta(r, LABEL)) * h[t]).subs(every_entry())
    assert sp.simplify(rename_bound(derivative.doit()) - rename_bound(expected.doit())) == 0


@pytest.mark.parametrize("loss_name", sorted(THEORY_TABLE_SYMBOLIC_K))
def test_general_K_step3_the_loss_table_for_every_K(loss_name):
    loss, invariant = THEORY_TABLE_SYMBOLIC_K[loss_name]
    assert invariant is THEORY_TABLE[loss_name][1] is EXPECTED_SHIFT_INVARIANCE[loss_name]
    if invariant:
        assert vanishes((shift_entries(loss(Z), Z, SHIFT) - loss(Z)).subs(index_in_range(LABEL, K_SYMBOL)))
        assert vanishes(gradient_sum(loss))
        return
    along_ones = sp.diff(shift_entries(loss(Z), Z, SHIFT), SHIFT).subs(SHIFT, 0)
    m, n = sp.symbols("m n", integer=True, nonnegative=True)  # K = 1 + m + n, y = 1 + m
    if loss_name == "mse":  # at z = 0: -2 for every K
        at_zero = along_ones.replace(lambda x: isinstance(x, sp.Indexed) and x.base == Z, lambda x: 0)
        assert at_zero.subs(index_in_range(LABEL, K_SYMBOL)).doit() == -2
        return
    # sigmoid: at z = log(3) e_y (the sums skip y): (K - 1)/2 - 1/4, at least 1/4 for K >= 2
    point = along_ones.replace(lambda x: isinstance(x, sp.Indexed) and x.base == Z,
                               lambda x: sp.log(3) if x.indices[0] == LABEL else 0)
    value = sp.simplify(point.subs(index_in_range(LABEL, K_SYMBOL)).doit())
    assert sp.expand(value - (2 * (1 + m + n) - 3) / sp.Integer(4)) == 0
    slack = sp.Symbol("G", nonnegative=True)
    assert certified_nonnegative(value - sp.Rational(1, 4), slack / 2, {slack: m + n - 1})  # m + n = K - 1 >= 1


def test_general_K_step3_any_function_of_the_softmax_probabilities():
    assert vanishes(shift_entries(probability(j), Z, SHIFT) - probability(j))


def test_general_K_step3_crammer_singer_by_induction_on_the_max():
    """max(x_1 + c, .., x_n + c) = max(x_1, .., x_n) + c: n = 1, and n -> n + 1 with
    max_{n+1} = Max(M_n, x_{n+1}) in both cases of the order; then the hinge over the K - 1 >= 1
    logits k != y: max(0, 1 + (M + c) - (z_y + c)) = max(0, 1 + M - z_y)."""
    x, M, zy = sp.symbols("x M z_y", real=True)
    u = sp.Symbol("u", nonnegative=True)
    assert sp.Max(x + SHIFT) - (x + SHIFT) == 0
    for other in (M - u, M + u):
        assert sp.expand(sp.Max(M + SHIFT, other + SHIFT) - sp.Max(M, other) - SHIFT) == 0
    assert sp.Max(0, 1 + (M + SHIFT) - (zy + SHIFT)) == sp.Max(0, 1 + M - zy)


def test_general_K_step4_minibatch_of_centred_per_sample_gradients():
    """grad_W L = (1/N) sum_s g_s h_s^T; every vector summing to 0 is e - mean(e) (take e = g)."""
    k = sp.Symbol("k", integer=True)
    per_sample = e[s_, r] - sp.Sum(e[s_, k], (k, 1, K_SYMBOL)) / K_SYMBOL
    column = sp.Sum(per_sample * h[s_, t] / N, (r, 1, K_SYMBOL), (s_, 1, N))  # sum_r inside: finite sums commute
    assert sp.Sum(per_sample * h[s_, t] / N, (s_, 1, N), (r, 1, K_SYMBOL)).reorder((0, 1)) == column
    assert vanishes(column)


def test_negative_control_general_K_tilted_losses_are_refuted_for_every_K():
    tilted = lambda z: log_partition(z) - 2 * z[LABEL]  # noqa: E731
    assert not vanishes(gradient_sum(tilted))
    assert vanishes(gradient_sum(tilted) + 1)  # it is -1 for every K
    assert not vanishes((shift_entries(tilted(Z), Z, SHIFT) - tilted(Z)).subs(index_in_range(LABEL, K_SYMBOL)))
    M, zy = sp.symbols("M z_y", real=True)
    tilted_hinge = lambda m_, z_: sp.Max(0, 1 + m_ - 2 * z_)  # noqa: E731
    point = {M: 0, zy: 0, SHIFT: sp.Rational(1, 2)}
    assert (tilted_hinge(M + SHIFT, zy + SHIFT) - tilted_hinge(M, zy)).subs(point) == -sp.Rational(1, 2)
    u = sp.Symbol("u", nonnegative=True)  # a wrong translation rule fails the induction step
    assert sp.expand(sp.Max(M + SHIFT, M - u + SHIFT) - sp.Max(M, M - u) - 2 * SHIFT) != 0


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
