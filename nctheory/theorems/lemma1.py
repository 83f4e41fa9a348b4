"""Lemma 1 (THEORY.md section 2): gradient row sums vanish for shift-invariant losses.

**Statement.** Let ``z = W h + b`` with ``W in R^{K x d}``. If the per-sample loss is
invariant under ``z -> z + c 1_K`` (cross-entropy, label smoothing, soft / mixup labels
summing to one, focal loss, the Crammer-Singer hinge, any function of the softmax
probabilities), then ``sum_k dl/dz_k = 0``, hence

    1_K^T grad_W l = sum_k (dl/dz_k) h^T = 0   and   1_K^T grad_b l = 0,

for every sample, so for every minibatch, feature map and step. It fails for squared
error on the logits and for one-vs-rest sigmoid losses: there ``d/dc l(z + c 1)`` is
not identically zero and the exact NC0 recurrences are not claimed.

**Proof (every K >= 2, symbolic K, d and N).** With ``z_k = sum_i W_ki h_i + b_k``,
``dz_k/dW_rt = delta_{kr} h_t``, so the chain rule gives ``dl/dW_rt = (dl/dz_r) h_t`` and the
column sums of ``grad_W l`` are ``(sum_k dl/dz_k) h_t``. For every loss of the table,
written as index sums over ``k = 1..K`` with K a symbol (:mod:`nctheory.theorems.softmax_sums`),
``l(z + c 1) - l(z)`` and ``sum_j dl/dz_j`` reduce to 0 exactly (eps, gamma, the soft
targets and the label symbolic); the Crammer-Singer hinge by the translation property of
max, proved by induction on the number of terms. A minibatch average of per-sample
gradients that each sum to 0 has zero column sums (every N). Squared error and the
one-vs-rest sigmoid fail for every K >= 2, each with an exact witness.

**Finite instances (cross-checks, not the proof).** Cross-entropy with explicit symbolic
matrices for K = 2..5, a minibatch at K = 3, and the engine's decision
(:func:`nctheory.theory.losses.shift_invariance`) on the registered expressions at K = 3.

Reference: Zhao et al., arXiv:2602.16642; the losses: Szegedy et al. (2016), Zhang et
al. (2018), Lin et al. (2017), Crammer & Singer (2001).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.losses import LOSSES, cross_entropy, logits, shift_invariance, squared_error
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, distinct, fact, identity
from nctheory.theorems.index_sums import sums_identity
from nctheory.theorems.softmax_sums import (LABEL, general_k_verdict, gradient_structure_steps, partition,
                                            sum_of_partials)

#: THEORY.md's table: loss name -> whether Lemma 1 applies.
EXPECTED_SHIFT_INVARIANCE = {
    "cross_entropy": True,
    "label_smoothing": True,
    "soft_labels": True,
    "focal": True,
    "crammer_singer": True,
    "mse": False,
    "sigmoid_ovr": False,
}


def last_layer(num_classes: int, dim: int):
    """Symbolic ``W`` (K x d), ``b`` (K), ``h`` (d) and the logits ``z = W h + b``."""
    weights = sp.Matrix(num_classes, dim, lambda i, j: sp.Symbol(f"W_{i + 1}{j + 1}", real=True))
    bias = sp.Matrix(num_classes, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
    features = sp.Matrix(dim, 1, lambda j, _: sp.Symbol(f"h_{j + 1}", real=True))
    return weights, bias, features, weights * features + bias


def loss_gradients(loss_builder, num_classes: int, dim: int):
    """``(grad_W l, grad_b l, grad_z l evaluated at z = W h + b, h)`` for the loss ``loss_builder``."""
    weights, bias, features, z = last_layer(num_classes, dim)
    loss = loss_builder(list(z))
    grad_w = sp.Matrix(num_classes, dim, lambda i, j: sp.diff(loss, weights[i, j]))
    grad_b = sp.Matrix(num_classes, 1, lambda i, _: sp.diff(loss, bias[i]))
    zs = logits(num_classes)
    grad_z = sp.Matrix([sp.diff(loss_builder(list(zs)), zk) for zk in zs]).subs(dict(zip(zs, z)))
    return grad_w, grad_b, grad_z, features


def with_label(loss_builder, label: int):
    """The loss for true class ``label`` (the registered builders use class index 0)."""
    def build(z):
        z = list(z)
        return loss_builder([z[label]] + z[:label] + z[label + 1:])

    return build


def minibatch_gradient(loss_builder, labels, num_classes: int, dim: int, weights=None):
    """``grad_W`` of ``(1/n) sum_i l(W h_i + b; y_i)`` with symbolic features ``h_i``."""
    if weights is None:
        weights = last_layer(num_classes, dim)[0]
    bias = last_layer(num_classes, dim)[1]
    total = sp.Integer(0)
    for index, label in enumerate(labels):
        features = sp.Matrix(dim, 1, lambda j, _: sp.Symbol(f"h_{index + 1}{j + 1}", real=True))
        total += with_label(loss_builder, label)(list(weights * features + bias))
    total = total / len(labels)
    return sp.Matrix(num_classes, dim, lambda i, j: sp.diff(total, weights[i, j]))


class GradientRowSums(Theorem):
    """Lemma 1; ``expected`` is the claimed table (loss -> Lemma 1 applies)."""

    name = "lemma1"
    title = "Gradient row sums vanish for shift-invariant losses"
    statement = ("For every K >= 2: if l(z + c 1_K) = l(z) for all c, then 1_K^T grad_W l = sum_k (dl/dz_k) h^T "
                 "= 0 and 1_K^T grad_b l = 0 for every sample, minibatch and feature map. Cross-entropy, label "
                 "smoothing, soft labels, focal loss, any function of the softmax probabilities and the "
                 "Crammer-Singer hinge qualify for every K >= 2; squared error on logits and one-vs-rest sigmoid "
                 "losses do not, for any K >= 2.")
    statement_latex = (r"For every $K \ge 2$: $\ell(z + c\mathbf 1_K) = \ell(z)\ \forall c \ \Longrightarrow\ "
                       r"\mathbf 1_K^\top \nabla_W \ell = \Big(\sum_k \tfrac{\partial\ell}{\partial z_k}\Big) h^\top = 0,"
                       r"\ \mathbf 1_K^\top \nabla_b \ell = 0$.")
    hypotheses = ("K >= 2 classes, any feature dimension d and batch size N",
                  "last layer z = W h + b (h from any network, or free in the UFM)",
                  "the loss is invariant under z -> z + c 1_K; labels y in 1..K")
    reference = "Zhao et al., arXiv:2602.16642 (THEORY.md section 2)"
    status = ("proved symbolically for every K >= 2 (index sums of symbolic length K, symbolic d and N; every "
              "loss of the table, MSE and sigmoid refuted by exact witnesses for every K >= 2); cross-entropy "
              "for K = 2..5 and the engine's decision at K = 3 are finite instances")

    def __init__(self, expected: dict | None = None, sizes=(2, 3, 4, 5), dim: int = 2):
        self.expected = dict(EXPECTED_SHIFT_INVARIANCE if expected is None else expected)
        self.sizes = tuple(sizes)
        self.dim = dim

    environment = "lemma"

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_foundations`)."""
        from nctheory.theorems.prose_foundations import lemma1_tex

        return lemma1_tex(self)

    def steps(self):
        yield from gradient_structure_steps()
        for loss_name, invariant in self.expected.items():
            verdict, steps = general_k_verdict(loss_name)
            yield from steps
            yield fact(f"{loss_name}, every K >= 2: Lemma 1 applies = {verdict}, claimed {invariant}", (),
                       verdict is invariant)
        tilted = sum_of_partials(lambda z: sp.log(partition(z)) - 2 * z[LABEL])
        yield sums_identity("negative control, every K: the tilted loss log S - 2 z_y has sum_j dl/dz_j = -1",
                            tilted, -1)
        yield from self._instances()

    def _instances(self):
        """Finite instances with explicit symbolic matrices: cross-checks of the general-K proof."""
        yield from _cross_entropy_instances(self.sizes, self.dim)
        for loss_name, invariant in self.expected.items():
            verdict = shift_invariance(loss_name, 3)
            yield fact(f"instance K = 3: the engine decides {loss_name}: invariant = {verdict.invariant}, claimed "
                       f"{invariant} ({verdict.reason})", (verdict.derivative,), verdict.invariant is invariant)
            if invariant is False:
                yield fact(f"instance K = 3: {loss_name}'s failure rests on an exact witness point, not on a "
                           f"simplification that did not finish", tuple((verdict.witness or {}).values()),
                           verdict.witness is not None)
        yield from _squared_error_instance(self.dim)

    def check(self, seed: int = 0, batch: int = 128, width: int = 32) -> NumericalCheck:
        """Real gradients: a seeded MLP's penultimate features on a batch of digits, every loss
        of the table written in torch, ``grad_W`` and ``grad_b`` of ``z = W h + b`` by autograd.

        Tolerance (float64 analysis, not tuned): ``G = delta^T H / n`` with ``delta_i =
        dl/dz_i``. Each entry of ``delta_i`` passes through at most ~8 rounded operations
        (exp, sum, log, division, power, subtraction), so the computed ``1^T delta_i``
        differs from its exact value (0 for an invariant loss) by at most
        ``8 K eps (||delta_i||_1 + 1)``; the product adds ``gamma_n |delta|^T |H| / n`` and the
        column sum ``gamma_K 1^T |G|`` (Higham 3.5). The tolerance is the norm of the sum of
        these entrywise bounds (for ``grad_b = delta^T 1 / n`` the same bound with ``h_i = 1``);
        losses that are not invariant must exceed it a million-fold.
        """
        import torch

        from nctheory.runs.data import load_digits_data
        from nctheory.runs.models import build_model, find_last_linear, penultimate_features

        torch.manual_seed(seed)
        data = load_digits_data(seed=seed)
        X = torch.as_tensor(data.X[:batch])
        y = torch.as_tensor(data.y[:batch])
        model = build_model("mlp", X.shape[1], data.num_classes, width=width)
        last = find_last_linear(model)
        H, _ = penultimate_features(model, X)
        K, n = data.num_classes, H.shape[0]
        eps = float(torch.finfo(torch.float64).eps)
        soft_targets = torch.distributions.Dirichlet(torch.ones(K, dtype=torch.float64)).sample((n,))
        rows = []
        for loss_name, invariant in self.expected.items():
            loss_fn = torch_loss(loss_name, K, soft_targets)
            if loss_fn is None:
                rows.append(Comparison(f"{loss_name}: ||1^T grad_W L||", 0.0 if invariant else "!= 0", "n/a", None,
                                       "no torch implementation of this loss"))
                continue
            W = last.weight.detach().clone().requires_grad_(True)
            b = last.bias.detach().clone().requires_grad_(True)
            Z = H @ W.T + b
            Z.retain_grad()
            loss_fn(Z, y).backward()
            delta, G = Z.grad, W.grad
            gamma_n, gamma_k = n * eps / (1 - n * eps), K * eps / (1 - K * eps)
            per_sample = 8 * K * eps * (delta.abs().sum(1, keepdim=True) + 1)  # |computed 1^T delta_i|
            entrywise = (per_sample * H.abs()).sum(0) / n \
                + gamma_n * (delta.abs().T @ H.abs()).sum(0) / n + gamma_k * G.abs().sum(0)
            tolerance = float(entrywise.norm())
            # grad_b = delta^T 1 / n: the same bound with h_i = 1
            tolerance_b = float(per_sample.sum() / n + gamma_n * delta.abs().sum() / n + gamma_k * b.grad.abs().sum())
            measured = float(G.sum(0).norm())
            measured_b = float(b.grad.sum().abs())
            relative = measured / float(G.norm())
            if invariant:
                holds = measured <= tolerance and measured_b <= tolerance_b
                note = (f"tolerance {tolerance:.2e} (float64 bound); |1^T grad_b L| = {measured_b:.2e} <= "
                        f"{tolerance_b:.2e} needed too")
            else:
                holds = measured > 1e6 * tolerance
                note = f"not shift invariant: must exceed 1e6 x tolerance {tolerance:.2e}"
            rows.append(Comparison(f"{loss_name}: ||1^T grad_W L|| (relative {relative:.1e})",
                                   0.0 if invariant else "!= 0", measured, holds, note))
        setting = (f"digits, {n} samples through a seeded MLP (width {width}, seed {seed}); "
                   f"last layer z = W h + b, K = {K}, float64")
        return NumericalCheck(self.name, setting, tuple(rows))


def _cross_entropy_instances(sizes: tuple, dim: int) -> tuple:
    """Cross-entropy with explicit symbolic W, b, h (no claim enters: each part computed once per process)."""
    return (*_chain_rule_and_minibatch_instance(dim), *(step for size in sizes for step in _row_sum_instance(size, dim)))


@lru_cache(maxsize=None)
def _chain_rule_and_minibatch_instance(dim: int) -> tuple:
    grad_w, _, grad_z, features = loss_gradients(cross_entropy, 3, dim)
    batch_grad = minibatch_gradient(cross_entropy, labels=(0, 2, 1), num_classes=3, dim=dim)
    return (identity("instance K = 3: chain rule grad_W l = (grad_z l) h^T (cross-entropy)", grad_w,
                     grad_z * features.T, "simplify"),
            identity("instance K = 3: a minibatch (3 samples, labels 0, 2, 1, own features each): 1^T grad_W L = 0",
                     sp.ones(1, 3) * batch_grad, sp.zeros(1, dim), "cancel"))


@lru_cache(maxsize=None)
def _row_sum_instance(size: int, dim: int) -> tuple:
    grad_w, grad_b, _, _ = loss_gradients(cross_entropy, size, dim)
    return (identity(f"instance K = {size}: cross-entropy 1^T grad_W l = 0 (symbolic W, b, h)",
                     sp.ones(1, size) * grad_w, sp.zeros(1, dim), "cancel"),
            identity(f"instance K = {size}: cross-entropy 1^T grad_b l = 0", (sp.ones(1, size) * grad_b)[0], 0,
                     "cancel"))


@lru_cache(maxsize=None)
def _squared_error_instance(dim: int) -> tuple:
    grad_w, _, _, features = loss_gradients(squared_error, 3, dim)
    z = last_layer(3, dim)[3]
    return (identity("negative control, instance K = 3 (MSE): 1^T grad_W l = 2 (sum_k z_k - 1) h^T",
                     sp.ones(1, 3) * grad_w, 2 * (sum(z) - 1) * features.T),
            distinct("negative control, instance K = 3 (MSE): that row sum is not identically 0",
                     sp.ones(1, 3) * grad_w, sp.zeros(1, dim)))


def torch_loss(name: str, num_classes: int | None = None, soft_targets=None):
    """The loss of :data:`nctheory.theory.losses.LOSSES` named ``name`` as a torch function
    ``(Z, y) -> mean loss``: the registry's torch form with its declared parameters (focal's
    gamma, label smoothing's eps), soft labels against ``soft_targets``; None for a loss the
    registry cannot evaluate so (no torch form, or a parameter without default not given).
    ``num_classes`` is read from the logits and kept for compatibility."""
    loss = LOSSES[name]
    given = {p.name: soft_targets for p in loss.parameters if p.name == "targets" and soft_targets is not None}
    try:
        loss.values(**given)  # raises when a parameter without default is missing
    except NCTheoryError:
        return None
    return None if loss.torch_form is None else lambda Z, y: loss.torch_value(Z, y, reduction="mean", **given)


LEMMA1 = GradientRowSums()
__all__ = ["EXPECTED_SHIFT_INVARIANCE", "GradientRowSums", "LEMMA1", "LOSSES", "last_layer", "loss_gradients",
           "minibatch_gradient", "with_label"]
