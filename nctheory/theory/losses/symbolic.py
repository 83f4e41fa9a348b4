"""The losses as sympy expressions in the logits ``z_1 .. z_K``, true class index 0.

These expressions are what Lemma 1's shift-invariance test (:mod:`.invariance`) decides
and what the array forms (:mod:`.arrays`, :mod:`.torch_forms`) are tested against
(``tests/test_losses.py``: their gradients equal the lambdified sympy gradient). A
parameter left out stays a symbol, so the test decides invariance for every value of it.
"""

from __future__ import annotations

import sympy as sp


def logits(num_classes: int) -> tuple:
    """Real symbols ``z_1 .. z_K``."""
    return sp.symbols(f"z_1:{num_classes + 1}", real=True)


def _softmax(z, k):
    return sp.exp(z[k]) / sum(sp.exp(zj) for zj in z)


def _log_softmax(z, k):
    return z[k] - sp.log(sum(sp.exp(zj) for zj in z))


def cross_entropy(z):
    """``-log p_y`` with ``p = softmax(z)``."""
    return -_log_softmax(z, 0)


def label_smoothing(z, epsilon):
    """Cross-entropy against ``(1 - eps) e_y + eps/K`` (Szegedy et al., CVPR 2016)."""
    K = len(z)
    weights = [(1 - epsilon) * int(k == 0) + epsilon / K for k in range(K)]
    return -sum(w * _log_softmax(z, k) for k, w in enumerate(weights))


def soft_labels(z, targets=None):
    """Cross-entropy against soft targets q with ``sum q = 1`` (mixup; Zhang et al., ICLR 2018).

    ``targets=None``: symbolic ``q_1 .. q_{K-1}`` and ``q_K = 1 - q_1 - ... - q_{K-1}``.
    """
    if targets is None:
        targets = list(sp.symbols(f"q_1:{len(z)}", nonnegative=True))
        targets.append(1 - sum(targets))
    return -sum(qk * _log_softmax(z, k) for k, qk in enumerate(targets))


def focal(z, gamma):
    """``-(1 - p_y)^gamma log p_y`` (Lin et al., ICCV 2017)."""
    p = _softmax(z, 0)
    return -(1 - p) ** gamma * sp.log(p)


def crammer_singer(z):
    """``max(0, 1 + max_{k != y} z_k - z_y)`` (Crammer & Singer, JMLR 2001)."""
    return sp.Max(0, 1 + sp.Max(*z[1:]) - z[0]) if len(z) > 2 else sp.Max(0, 1 + z[1] - z[0])


def squared_error(z):
    """``||z - e_y||^2``: not shift invariant."""
    return sum((zk - (1 if k == 0 else 0)) ** 2 for k, zk in enumerate(z))


def sigmoid_one_vs_rest(z):
    """``-log sigma(z_y) - sum_{k != y} log sigma(-z_k)``: not shift invariant."""
    def log_sigmoid(x):
        return -sp.log(1 + sp.exp(-x))

    return -sum(log_sigmoid(zk) if k == 0 else log_sigmoid(-zk) for k, zk in enumerate(z))
