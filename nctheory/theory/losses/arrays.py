r"""The losses on numpy / cupy arrays: per-sample values and gradients in the logits.

Each function takes logits ``Z`` (B x K), integer labels ``y`` (B), the Array API
namespace ``xp`` of ``Z`` and the loss's parameters, and returns ``(l, G)`` with
``l_i = l(z_i; y_i)`` and ``G_i = dl/dz_i``. Notation: ``p = softmax(z)``, ``e_y`` the
one-hot label, ``delta_k = [k = y]``.

* cross-entropy against a target distribution ``q`` (one-hot; label smoothing's
  ``(1 - eps) e_y + eps/K``, Szegedy et al., CVPR 2016; soft labels):
  ``l = -sum_k q_k log p_k``, ``dl/dz = p - q`` (as ``sum q = 1``);
* focal (Lin et al., ICCV 2017), ``l = -(1 - p_y)^gamma log p_y``:
  ``dl/dz_k = (delta_k - p_k) [gamma p_y (1 - p_y)^(gamma-1) log p_y - (1 - p_y)^gamma]``;
* Crammer-Singer hinge, ``l = max(0, m)``, ``m = 1 + z_j - z_y``, ``j = argmax_{k != y} z_k``:
  ``dl/dz = [m > 0] (e_j - e_y)`` (the subgradient torch's relu and max give);
* squared error ``||z - e_y||^2``: ``dl/dz = 2 (z - e_y)``;
* one-vs-rest sigmoid, ``l = sum_k softplus(z_k) - z_y``: ``dl/dz = sigma(z) - e_y``.

Log-probabilities are computed from ``z - max z`` (no overflow), softplus as
``logaddexp(0, z)`` and ``sigma(z) = exp(-softplus(-z))``.
"""

from __future__ import annotations


def _onehot(Z, y, xp):
    onehot = xp.zeros_like(Z)
    onehot[xp.arange(Z.shape[0]), y] = 1.0
    return onehot


def _log_softmax(Z, xp):
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _against(Z, target, xp):
    """Cross-entropy of softmax(Z) against the rows of ``target`` (each summing to one)."""
    log_p = _log_softmax(Z, xp)
    return -(target * log_p).sum(axis=1), xp.exp(log_p) - target


def cross_entropy(Z, y, xp):
    return _against(Z, _onehot(Z, y, xp), xp)


def label_smoothing(Z, y, xp, epsilon):
    onehot = _onehot(Z, y, xp)
    return _against(Z, (1.0 - epsilon) * onehot + epsilon / Z.shape[1] if epsilon else onehot, xp)


def soft_labels(Z, y, xp, targets):
    return _against(Z, xp.asarray(targets, dtype=Z.dtype), xp)


def focal(Z, y, xp, gamma):
    log_p = _log_softmax(Z, xp)
    log_py = log_p[xp.arange(Z.shape[0]), y]
    p_y = xp.exp(log_py)
    rest = 1 - p_y
    coefficient = gamma * p_y * rest ** (gamma - 1) * log_py - rest ** gamma
    return -rest ** gamma * log_py, (_onehot(Z, y, xp) - xp.exp(log_p)) * coefficient[:, None]


def crammer_singer(Z, y, xp):
    rows = xp.arange(Z.shape[0])
    others = xp.where(_onehot(Z, y, xp) > 0, -xp.inf, Z)
    runner_up = xp.argmax(others, axis=1)
    margin = 1.0 + others[rows, runner_up] - Z[rows, y]
    active = xp.astype(margin > 0, Z.dtype)
    grad = xp.zeros_like(Z)
    grad[rows, runner_up] = active
    grad[rows, y] = -active
    return xp.where(margin > 0, margin, 0.0), grad


def squared_error(Z, y, xp):
    residual = Z - _onehot(Z, y, xp)
    return (residual * residual).sum(axis=1), 2.0 * residual


def sigmoid_one_vs_rest(Z, y, xp):
    onehot = _onehot(Z, y, xp)
    value = xp.logaddexp(xp.zeros_like(Z), Z).sum(axis=1) - (onehot * Z).sum(axis=1)
    return value, xp.exp(-xp.logaddexp(xp.zeros_like(Z), -Z)) - onehot
