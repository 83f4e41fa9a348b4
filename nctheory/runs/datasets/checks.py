"""The checks applied to tensors a user passes in."""

from __future__ import annotations

import numbers

import numpy as np

from nctheory.errors import NCTheoryError


def check_user_tensors(X, y, num_classes: int | None = None):
    """Validate inputs ``X`` and labels ``y`` a user passes in; returns ``(X, y, K)``.

    ``X``: a numpy array or torch tensor of floating type, shape (N, ...) with N >= 2,
    all finite. ``y``: integer labels, shape (N,), in [0, K) with every class present
    (NC1..NC4 need every class mean). ``K`` is ``num_classes`` or ``max(y) + 1`` (>= 2).
    Returns torch tensors (X unchanged in dtype, y as int64) and K.
    """
    import torch

    def as_tensor(value, name):
        if isinstance(value, torch.Tensor):
            return value.detach()
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists etc.
            raise NCTheoryError(f"{name} must be an array or tensor, got {type(value).__name__}") from exc
        if arr.dtype == object:
            raise NCTheoryError(f"{name} must be a numeric array or tensor, got dtype object")
        return torch.from_numpy(np.ascontiguousarray(arr))

    X, y = as_tensor(X, "X"), as_tensor(y, "y")
    if not X.is_floating_point():
        raise NCTheoryError(f"X must hold floating-point inputs, got dtype {X.dtype}")
    if X.ndim < 2 or X.shape[0] < 2:
        raise NCTheoryError(f"X must have shape (N, ...) with N >= 2 samples, got shape {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        bad = int((~torch.isfinite(X)).sum())
        raise NCTheoryError(f"X contains {bad} NaN or inf value(s)")
    if y.ndim != 1:
        raise NCTheoryError(f"y must be a 1-D vector of labels, got shape {tuple(y.shape)}")
    if y.shape[0] != X.shape[0]:
        raise NCTheoryError(f"y has {y.shape[0]} labels but X has {X.shape[0]} samples")
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise NCTheoryError(f"y must hold integer class labels, got dtype {y.dtype}")
    y = y.long()
    if num_classes is None:
        num_classes = int(y.max()) + 1
        if num_classes < 2:
            raise NCTheoryError(f"y must contain at least 2 classes, got labels up to {int(y.max())}")
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise NCTheoryError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    num_classes = int(num_classes)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_classes:
        raise NCTheoryError(f"y must hold labels in [0, {num_classes}), got labels in [{lo}, {hi}]")
    counts = torch.bincount(y, minlength=num_classes)
    missing = [k for k in range(num_classes) if int(counts[k]) == 0]
    if missing:
        raise NCTheoryError(
            f"y has no sample of class(es) {missing}; NC1..NC4 need every class in [0, {num_classes})")
    return X, y, num_classes
