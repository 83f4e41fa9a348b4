r"""The NC metrics, loss and accuracy of R stacked UFM runs at once.

:func:`stacked_nc_metrics` computes, for every run r of stacked ``W`` (R, K, d), ``H``
(R, N, d) and optional ``b`` (R, K) with shared labels ``y`` (N,), the dictionary
:func:`nctheory.runs.collapse_metrics.nc_metrics` returns for ``(W[r], H[r], y, b[r])`` --
NC0, NC0_rel, NC1, NC2 (equinorm, equiangularity), NC3, NC4 of Papyan, Han & Donoho
(PNAS 2020), ``w_fro`` and ``w_sup`` -- with the same formulas in float64 on the host, each
operation carrying the run axis in front:

* class means ``onehot @ H_r / counts``, centred means ``M_r``, ``Sigma_B = M_r^T M_r / K``;
* NC1 over the top ``min(K-1, d)`` eigenpairs of the stacked ``Sigma_B`` (``np.linalg.eigh``
  on the stack runs LAPACK's routine matrix by matrix, so the eigenpairs are those of the
  one-run call) with the same threshold ``lambda_j > d eps max(lambda_max, 0)``;
* NC2 / NC3 / NC4 as written in :mod:`nctheory.runs.collapse_metrics`, NC4 with numpy's
  first-index ``argmax`` / ``argmin`` ties on the same logits and distances.

The undefined cases of :mod:`~nctheory.runs.collapse_metrics` -- non-finite inputs, one class,
class means that coincide up to rounding (``||M||_F`` at or near the degenerate threshold:
within a factor :data:`DEGENERATE_MARGIN`, so that a decision made at the threshold cannot
differ by rounding), or no eigenvalue above the NC1 threshold -- are handed, run by run, to
``nc_metrics`` itself: they get exactly its NaN / inf conventions. The others agree with it to
rounding (sums of the same terms in a different order: ulps, far inside the 1e-12 that
tests/test_sweep_batched_metrics.py checks).

:func:`ufm_metrics` adds the loss and the accuracy on all samples, as the one-run numpy runner
(``ArrayUFMRunner.metrics``: float64 logits, the registry's per-sample values summed and divided
by N) computes them, and None for a run with a non-finite parameter.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.collapse_metrics import DEGENERATE_ROUNDING, nc_metrics
from nctheory.theory.losses import LOSSES, run_parameters

_EPS = float(np.finfo(np.float64).eps)

#: Runs whose ``||M||_F`` is within this factor of the degenerate threshold go to ``nc_metrics``.
DEGENERATE_MARGIN = 4.0


def _check(W, H, y, b):
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(y)
    if W.ndim != 3 or W.size == 0:
        raise NCTheoryError(f"W must be a non-empty stack (R, K, d) of classifiers, got shape {W.shape}")
    R, K, d = W.shape
    if H.ndim != 3 or H.shape[0] != R or H.shape[2] != d or H.shape[1] == 0:
        raise NCTheoryError(f"H must be a stack (R, N, d) = ({R}, N, {d}) of features with N >= 1, got {H.shape}")
    if y.ndim != 1 or y.shape[0] != H.shape[1] or not np.issubdtype(y.dtype, np.integer):
        raise NCTheoryError(f"y must be a vector of {H.shape[1]} integer labels shared by the runs, got "
                            f"shape {y.shape} dtype {y.dtype}")
    if y.min() < 0 or y.max() >= K:
        raise NCTheoryError(f"y must hold labels in [0, {K}), got [{y.min()}, {y.max()}]")
    counts = np.bincount(y, minlength=K)
    if np.any(counts == 0):
        raise NCTheoryError(f"class(es) {np.flatnonzero(counts == 0).tolist()} have no sample in y")
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (R, K):
            raise NCTheoryError(f"b must be a stack (R, K) = ({R}, {K}) of biases, got shape {b.shape}")
    return W, H, y.astype(np.int64, copy=False), b, counts


def stacked_nc_metrics(W, H, y, b=None) -> list[dict]:
    """``[nc_metrics(W[r], H[r], y, b[r], K) for r in range(R)]``, computed on the stack
    (module docstring). ``W`` (R, K, d), ``H`` (R, N, d), ``b`` (R, K) or None, ``y`` (N,)."""
    W, H, y, b, counts = _check(W, H, y, b)
    R, K, d = W.shape
    N = H.shape[1]
    onehot = np.zeros((K, N))
    onehot[y, np.arange(N)] = 1.0
    finite = np.isfinite(H).all((1, 2)) & np.isfinite(W).all((1, 2))
    if b is not None:
        finite &= np.isfinite(b).all(1)
    with np.errstate(all="ignore"):
        means = onehot @ H / counts[:, None]  # (R, K, d)
        M = means - H.mean(1)[:, None, :]
        rounding = DEGENERATE_ROUNDING * N * _EPS * np.linalg.norm(H, axis=2).max(1)
        m_norm = np.sqrt((M ** 2).sum((1, 2)))
        regular = finite & (K >= 2) & (m_norm > DEGENERATE_MARGIN * rounding * math.sqrt(K))
        within = H - means[:, y]
        sigma_b = M.swapaxes(1, 2) @ M / K
        regular &= np.isfinite(sigma_b).all((1, 2)) & np.isfinite(within).all((1, 2))
        # NC1 on the regular runs (the others' sigma_b is replaced by 0 so that eigh runs)
        eigvals, eigvecs = np.linalg.eigh(np.where(regular[:, None, None], sigma_b, 0.0))
        rank = min(K - 1, d)
        eigvals, eigvecs = eigvals[:, ::-1][:, :rank], eigvecs[:, :, ::-1][:, :, :rank]
        top = np.maximum(eigvals.max(1, initial=0.0), 0.0)
        keep = eigvals > d * _EPS * top[:, None]
        regular &= keep.any(1)
        quad = ((within @ eigvecs) ** 2).sum(1) / N  # (R, rank)
        nc1 = np.where(keep, quad / np.where(keep, eigvals, 1.0), 0.0).sum(1) / K
        # NC2
        norms = np.linalg.norm(M, axis=2)  # (R, K)
        mean = norms.mean(1)
        equinorm = np.where(mean > 0, norms.std(1) / mean, np.nan)
        unit = M / norms[:, :, None]
        cos = unit @ unit.swapaxes(1, 2)
        upper = np.triu_indices(K, 1)
        equiangularity = np.abs(cos[:, upper[0], upper[1]] + 1.0 / (K - 1)).mean(1)
        equiangularity = np.where((norms == 0).any(1), np.nan, equiangularity)
        # NC3
        wn = np.sqrt((W ** 2).sum((1, 2)))
        nc3 = np.sqrt(((W / wn[:, None, None] - M / m_norm[:, None, None]) ** 2).sum((1, 2)))
        nc3 = np.where(wn == 0, np.nan, nc3)
        # NC4
        logits = H @ W.swapaxes(1, 2)
        if b is not None:
            logits = logits + b[:, None, :]
        distances = -2.0 * H @ means.swapaxes(1, 2) + (means ** 2).sum(2)[:, None, :]
        nc4 = np.mean(logits.argmax(2) != distances.argmin(2), axis=1)
        # NC0 and the norms
        nc0 = np.sqrt((W.sum(1) ** 2).sum(1))
        nc0_rel = np.where(wn == 0, np.nan, nc0 / (math.sqrt(K) * wn))
        w_sup = np.abs(W).max((1, 2))
    columns = {"nc0": nc0, "nc0_rel": nc0_rel, "nc1": nc1, "nc2_norm": equinorm, "nc2_angle": equiangularity,
               "nc3": nc3, "nc4": nc4, "w_fro": wn, "w_sup": w_sup}
    names = list(columns)
    table = np.stack([columns[n] for n in names], axis=1).tolist()
    out = []
    for r in range(R):
        if regular[r]:
            out.append(dict(zip(names, table[r])))
        else:  # an undefined case: the one-run function's own conventions
            with np.errstate(all="ignore"):
                out.append(nc_metrics(W[r], H[r], y, None if b is None else b[r], K))
    return out


def ufm_metrics(W, H, y, b, loss: str, eps: float) -> list:
    """Per run, ``ArrayUFMRunner.metrics`` of the stacked float64 host arrays: None where a
    parameter is not finite, else the NC metrics with ``loss`` and ``accuracy`` on all N
    samples (the registry's per-sample values of ``loss`` summed and divided by N)."""
    W, H, y, b, _ = _check(W, H, y, b)
    R, N = H.shape[0], H.shape[1]
    finite = np.isfinite(W).all((1, 2)) & np.isfinite(H).all((1, 2))
    if b is not None:
        finite &= np.isfinite(b).all(1)
    out: list = [None] * R
    live = np.flatnonzero(finite)
    if not live.size:
        return out
    Wl, Hl = W[live], H[live]
    bl = None if b is None else b[live]
    with np.errstate(all="ignore"):
        Z = Hl @ Wl.swapaxes(1, 2)
        if bl is not None:
            Z = Z + bl[:, None, :]
        K = Z.shape[2]
        values, _ = LOSSES[loss].value_and_grad(Z.reshape(-1, K), np.tile(y, live.size), **run_parameters(eps))
        losses = np.asarray(values).reshape(live.size, N).sum(1) / N
        accuracy = np.mean(Z.argmax(2) == y, axis=1)
    for i, metrics in enumerate(stacked_nc_metrics(Wl, Hl, y, bl)):
        metrics["loss"], metrics["accuracy"] = float(losses[i]), float(accuracy[i])
        out[int(live[i])] = metrics
    return out
