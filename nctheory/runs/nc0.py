"""NC0, the diagnostic of THEORY.md section 1, for numpy arrays and torch tensors.

``NC0(W) = ||W^T 1_K||_2`` for a last layer ``W`` in R^{K x d} (rows = classes), and
``NC0_rel(W) = ||W^T 1_K|| / (sqrt(K) ||W||_F)`` in [0, 1] by Cauchy-Schwarz: 0 for a
centred frame (e.g. a simplex ETF, Lemma 0), 1 when all rows are equal.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.theory import ops


def _as_matrix(W, name: str = "W"):
    """``W`` as a 2-D numpy array or torch tensor, checked."""
    if ops.library(W) == "torch":
        if W.ndim != 2 or W.numel() == 0:
            raise NCTheoryError(f"{name} must be a non-empty 2-D matrix (K classes x d features), got shape "
                                f"{tuple(W.shape)}")
        W = W.detach()
        if W.dtype.itemsize < 4:  # bfloat16 / float16 sums would keep 3 digits: sum in float64
            import torch

            W = W.to(torch.float64)
        return W
    arr = np.asarray(W)
    if arr.ndim != 2 or arr.size == 0:
        raise NCTheoryError(f"{name} must be a non-empty 2-D matrix (K classes x d features), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise NCTheoryError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


def row_sum(W):
    """``W^T 1_K``: the sum of the rows of the last-layer weights (shape (d,))."""
    return _as_matrix(W).sum(0)


def nc0(W) -> float:
    """``||W^T 1_K||_2`` (raw NC0)."""
    return float((row_sum(W) ** 2).sum() ** 0.5)


def nc0_rel(W) -> float:
    """``||W^T 1_K|| / (sqrt(K) ||W||_F)``; NaN for W = 0, where it is undefined."""
    W = _as_matrix(W)
    frob = float((W ** 2).sum() ** 0.5)
    if frob == 0.0:
        return math.nan
    return nc0(W) / (math.sqrt(W.shape[0]) * frob)
