"""The losses on torch tensors: values, differentiated by autograd.

Each function takes logits ``Z`` (B x K), integer labels ``y`` (B), a ``reduction``
(``"none"``: per sample, ``"mean"``, ``"sum"``) and the loss's parameters. The
cross-entropies are ``torch.nn.functional.cross_entropy`` -- with ``label_smoothing=eps``
for label smoothing (Szegedy et al., CVPR 2016) and probability targets for soft labels --
since that is what users train with; the formulas are those of :mod:`.arrays`. torch is
imported when a form is called, never by importing this module.
"""

from __future__ import annotations


def _functional():
    import torch.nn.functional

    return torch.nn.functional


def _reduce(values, reduction):
    return values if reduction == "none" else values.mean() if reduction == "mean" else values.sum()


def _onehot(Z, y):
    return _functional().one_hot(y, Z.shape[1]).to(Z.dtype)


def cross_entropy(Z, y, reduction):
    return _functional().cross_entropy(Z, y, reduction=reduction)


def label_smoothing(Z, y, reduction, epsilon):
    return _functional().cross_entropy(Z, y, label_smoothing=epsilon, reduction=reduction)


def soft_labels(Z, y, reduction, targets):
    return _functional().cross_entropy(Z, targets.to(Z.dtype), reduction=reduction)


def focal(Z, y, reduction, gamma):
    log_py = _functional().log_softmax(Z, 1).gather(1, y[:, None])[:, 0]
    return _reduce(-(1 - log_py.exp()) ** gamma * log_py, reduction)


def crammer_singer(Z, y, reduction):
    import torch

    true = Z.gather(1, y[:, None])
    others = Z.masked_fill(_onehot(Z, y).bool(), -torch.inf)
    return _reduce(torch.relu(1 + others.max(1, keepdim=True).values - true)[:, 0], reduction)


def squared_error(Z, y, reduction):
    return _reduce(((Z - _onehot(Z, y)) ** 2).sum(1), reduction)


def sigmoid_one_vs_rest(Z, y, reduction):
    values = _functional().binary_cross_entropy_with_logits(Z, _onehot(Z, y), reduction="none").sum(1)
    return _reduce(values, reduction)
