r"""Neural Collapse metrics NC1-NC4 of Papyan, Han & Donoho (PNAS 2020).

V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal
phase of deep learning training", PNAS 117(40):24652-24663, 2020 (Figures 2-7 define the
measurements). NC0 (the row sum of W, THEORY.md section 1) lives in
:mod:`nctheory.runs.nc0`; :func:`nc_metrics` returns it together with these.

Notation: features ``H`` (N x d, row i is h_i) with labels ``y_i`` in [0, K); classifier
``W`` (K x d) and bias ``b`` (K,).

* class means ``mu_k = mean_{y_i = k} h_i``; global mean ``mu_G = mean_i h_i`` (over all
  samples, as in the paper; equal to the mean of the class means for balanced classes);
  centred means ``M`` (K x d) with rows ``mu_k - mu_G``.
* ``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T``,
  ``Sigma_B = (1/K) sum_k (mu_k - mu_G)(mu_k - mu_G)^T``.
* **NC1** ``= tr(Sigma_W Sigma_B^+) / K`` (variability collapse). ``Sigma_B^+`` is the
  pseudo-inverse restricted to the top ``min(K-1, d)`` eigenpairs of Sigma_B, as the
  authors' code does (``svds(Sigma_B, k=C-1)``): centred means of balanced classes span at
  most K-1 dimensions, and the numerically-zero eigenvalue must not be inverted.
* **NC2** (convergence to a simplex ETF), two numbers:
  equinorm ``= std_k ||mu_k - mu_G|| / mean_k ||mu_k - mu_G||`` and
  equiangularity ``= mean_{k < k'} |cos(mu_k - mu_G, mu_k' - mu_G) + 1/(K-1)|``;
  both vanish exactly for a simplex ETF (equal norms, cosines -1/(K-1)).
* **NC3** (self-duality) ``= || W/||W||_F - M/||M||_F ||_F`` (the paper writes the means as
  the columns of a d x K matrix and compares W^T with it; with M stored K x d, W is
  compared with M directly).
* **NC4** (nearest class centre) = fraction of samples on which the classifier's decision
  ``argmax_k (W h_i + b)_k`` differs from ``argmin_k ||h_i - mu_k||``.

All functions accept numpy arrays, torch tensors (bfloat16 and float16 included) or cupy
arrays and compute in float64 numpy on the host.

**Undefined cases** return NaN, never a number that means nothing:

* non-finite features (NaN / inf): every metric is NaN; non-finite weights or bias: the metrics
  that read them (NC0, NC3, NC4 and the weight norms) are NaN, while NC1 and NC2, which read only
  the features, stay defined;
* one class (K = 1): the centred means vanish identically, so NC1, NC2 and NC3 are NaN;
* features whose class means coincide *up to rounding* -- all features equal (zero or not),
  or equal class means: the centred means ``M`` are then rounding noise of size
  ``<= N eps max_i ||h_i||`` (each mean is a sum of N rounded terms), not a direction.
  ``||M||_F <= DEGENERATE_ROUNDING * N * eps * sqrt(K) * max_i ||h_i||`` counts as ``M = 0``:
  NC2 and NC3 are NaN, NC1 is NaN when the within-class scatter vanishes too (at the same
  rounding level) and inf when it does not;
* empty inputs (no sample, no class, no feature) raise NCTheoryError naming the argument.
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.theory import ops
from nctheory.runs.nc0 import nc0, nc0_rel

_EPS = float(np.finfo(np.float64).eps)

#: torch dtypes numpy cannot represent (compared by name: no torch import here)
_TORCH_HALF = ("torch.bfloat16", "torch.float16")


#: Rounding margin of the degenerate-means test (module docstring): the mean of N values is
#: within N eps max|h| of the exact one (sequential summation), so centred means of equal
#: features are at most ~2 N eps max ||h|| in norm per class; the margin 4 covers the global mean.
DEGENERATE_ROUNDING = 4.0


def to_numpy(x, name: str = "array") -> np.ndarray:
    """A numpy array on the host of a numpy / torch / cupy array (:func:`nctheory.theory.ops.to_numpy`);
    torch's bfloat16 / float16 tensors (which numpy cannot hold) are widened to float32 first."""
    if ops.library(x) == "torch" and str(x.dtype) in _TORCH_HALF:
        x = x.detach().float()
    arr = ops.to_numpy(x)
    if arr.dtype == object:
        raise NCTheoryError(f"{name} must be numeric, got dtype object")
    return arr


def _features_labels(H, y, num_classes):
    H = to_numpy(H, "H").astype(np.float64, copy=False)
    y = to_numpy(y, "y")
    if H.ndim != 2:
        raise NCTheoryError(f"H must be a 2-D matrix of features (N x d), got shape {H.shape}")
    if H.shape[0] == 0 or H.shape[1] == 0:
        raise NCTheoryError(f"H must have at least one sample and one feature, got shape {H.shape}")
    if y.ndim != 1 or y.shape[0] != H.shape[0]:
        raise NCTheoryError(f"y must be a vector of {H.shape[0]} labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise NCTheoryError(f"y must hold integer labels, got dtype {y.dtype}")
    if num_classes is not None and int(num_classes) < 1:
        raise NCTheoryError(f"num_classes must be >= 1, got {num_classes!r}")
    K = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= K:
        raise NCTheoryError(f"y must hold labels in [0, {K}), got [{y.min()}, {y.max()}]")
    counts = np.bincount(y, minlength=K)
    if np.any(counts == 0):
        raise NCTheoryError(f"class(es) {np.flatnonzero(counts == 0).tolist()} have no sample in y; "
                            f"NC metrics need every class mean")
    return H, y.astype(np.int64, copy=False), K, counts


class _Stats:
    """Features, labels, class means and global mean, computed once and shared."""

    def __init__(self, H, y, num_classes):
        self.H, self.y, self.K, counts = _features_labels(H, y, num_classes)
        onehot = np.zeros((self.K, self.H.shape[0]))
        onehot[self.y, np.arange(self.H.shape[0])] = 1.0
        self.means = onehot @ self.H / counts[:, None]
        self.global_mean = self.H.mean(0)
        self.M = self.means - self.global_mean
        self.finite = bool(np.all(np.isfinite(self.H)))
        N = self.H.shape[0]
        # rounding level of means of N terms (module docstring); 0 for exactly zero features
        self.rounding = DEGENERATE_ROUNDING * N * _EPS * float(np.max(np.linalg.norm(self.H, axis=1))) \
            if self.finite else math.nan
        self.degenerate = self.K < 2 or not np.linalg.norm(self.M) > self.rounding * math.sqrt(self.K)


def class_means(H, y, num_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(means, global_mean)``: ``mu_k`` (K x d) and ``mu_G = mean_i h_i`` (d,)."""
    stats = _Stats(H, y, num_classes)
    return stats.means, stats.global_mean


def centred_means(H, y, num_classes: int | None = None) -> np.ndarray:
    """``M``: rows ``mu_k - mu_G`` (K x d)."""
    return _Stats(H, y, num_classes).M


def nc1(H, y, num_classes: int | None = None) -> float:
    """``tr(Sigma_W Sigma_B^+) / K`` (Papyan et al. 2020, Fig. 6).

    Computed as ``(1/K) sum_j v_j^T Sigma_W v_j / lambda_j`` over the top ``min(K-1, d)``
    eigenpairs ``(lambda_j, v_j)`` of Sigma_B with ``lambda_j > d * eps * lambda_max``.
    Returns inf when Sigma_B = 0 (all class means equal) but Sigma_W != 0, NaN when both
    vanish or when the covariances overflow float64.
    """
    return _nc1(_Stats(H, y, num_classes))


def _nc1(s: _Stats) -> float:
    N, d = s.H.shape
    within = s.H - s.means[s.y]
    sigma_b = s.M.T @ s.M / s.K
    if not (s.finite and np.all(np.isfinite(sigma_b)) and np.all(np.isfinite(within))):
        return math.nan  # non-finite features, or so large that the covariances overflow
    if s.degenerate:  # class means equal up to rounding: Sigma_B = 0
        return math.nan if s.K < 2 or not np.max(np.linalg.norm(within, axis=1)) > s.rounding else math.inf
    eigvals, eigvecs = np.linalg.eigh(sigma_b)
    rank = min(s.K - 1, d)
    eigvals, eigvecs = eigvals[::-1][:rank], eigvecs[:, ::-1][:, :rank]
    keep = eigvals > d * np.finfo(np.float64).eps * max(eigvals.max(initial=0.0), 0.0)
    if not np.any(keep):
        return math.nan if not np.any(within) else math.inf
    projected = within @ eigvecs[:, keep]  # (N, r): v_j^T (h_i - mu_{y_i})
    quad = (projected ** 2).sum(0) / N  # v_j^T Sigma_W v_j
    return float((quad / eigvals[keep]).sum() / s.K)


def equinorm(M) -> float:
    """``std_k ||m_k|| / mean_k ||m_k||`` over the rows of ``M`` (population std); NaN for
    fewer than 2 rows, a zero or a non-finite M."""
    M = _rows(M)
    norms = np.linalg.norm(M, axis=1)
    mean = norms.mean()
    if M.shape[0] < 2 or not np.all(np.isfinite(norms)) or not mean > 0:
        return math.nan
    return float(norms.std() / mean)


def _rows(M) -> np.ndarray:
    M = to_numpy(M, "M").astype(np.float64)
    if M.ndim != 2 or M.shape[0] == 0:
        raise NCTheoryError(f"M must be a K x d matrix of class means with K >= 1, got shape {M.shape}")
    return M


def equiangularity(M) -> float:
    """``mean_{k < k'} |cos(m_k, m_k') + 1/(K-1)|`` over the rows of ``M``; NaN for fewer than
    2 rows, a zero row or a non-finite M."""
    M = _rows(M)
    K = M.shape[0]
    norms = np.linalg.norm(M, axis=1)
    if K < 2 or not np.all(np.isfinite(norms)) or np.any(norms == 0):
        return math.nan
    unit = M / norms[:, None]
    cos = unit @ unit.T
    upper = np.triu_indices(K, 1)
    return float(np.abs(cos[upper] + 1.0 / (K - 1)).mean())


def nc2(H, y, num_classes: int | None = None) -> tuple[float, float]:
    """``(equinorm, equiangularity)`` of the centred class means (Papyan et al., Figs. 2-3);
    NaN when the means coincide up to rounding (module docstring)."""
    return _nc2(_Stats(H, y, num_classes))


def _nc2(s: _Stats) -> tuple[float, float]:
    if s.degenerate or not s.finite:
        return math.nan, math.nan
    return equinorm(s.M), equiangularity(s.M)


def _as_classifier(W, K=None):
    W = to_numpy(W, "W").astype(np.float64)
    if W.ndim != 2 or W.size == 0 or (K is not None and W.shape[0] != K):
        raise NCTheoryError(f"W must be a non-empty K x d matrix (K classes), got shape {W.shape}")
    return W


def nc3(W, H, y, num_classes: int | None = None) -> float:
    """``|| W/||W||_F - M/||M||_F ||_F`` (self-duality; Papyan et al., Fig. 5)."""
    W = _as_classifier(W)
    return _nc3(W, _Stats(H, y, num_classes if num_classes is not None else W.shape[0]))


def _nc3(W, s: _Stats) -> float:
    if W.shape != s.M.shape:
        raise NCTheoryError(f"W must have shape (K, d) = {s.M.shape} to match the class means, got {W.shape}")
    wn, mn = np.linalg.norm(W), np.linalg.norm(s.M)
    if s.degenerate or not (s.finite and np.isfinite(wn)) or wn == 0:
        return math.nan
    return float(np.linalg.norm(W / wn - s.M / mn))


def nc4(W, b, H, y, num_classes: int | None = None) -> float:
    """Fraction of samples where ``argmax_k (W h + b)_k != argmin_k ||h - mu_k||`` (Fig. 7)."""
    W = _as_classifier(W)
    return _nc4(W, b, _Stats(H, y, num_classes if num_classes is not None else W.shape[0]))


def _nc4(W, b, s: _Stats) -> float:
    if W.shape != s.M.shape:
        raise NCTheoryError(f"W must have shape (K, d) = {s.M.shape} to match the class means, got {W.shape}")
    if b is not None:
        b = to_numpy(b, "b").astype(np.float64)
        if b.shape != (W.shape[0],):
            raise NCTheoryError(f"b must be a vector of {W.shape[0]} biases, got shape {b.shape}")
    if not (s.finite and np.all(np.isfinite(W)) and (b is None or np.all(np.isfinite(b)))):
        return math.nan  # argmax / argmin of NaN would pick an index and report a number
    logits = s.H @ W.T
    if b is not None:
        logits = logits + b
    # ||h - mu_k||^2 = ||h||^2 - 2 h.mu_k + ||mu_k||^2; the first term is common to all k
    distances = -2.0 * s.H @ s.means.T + (s.means ** 2).sum(1)
    return float(np.mean(logits.argmax(1) != distances.argmin(1)))


def nc_metrics(W, H, y, b=None, num_classes: int | None = None) -> dict:
    """All of NC0, NC0_rel, NC1, NC2 (``nc2_norm``, ``nc2_angle``), NC3, NC4 as floats,
    and the norms ``w_fro = ||W||_F`` and ``w_sup = ||W||_inf`` (max |entry|) that the
    verdicts need (noise floor; box bound of decoupled sign methods)."""
    W = _as_classifier(W, num_classes)
    s = _Stats(H, y, W.shape[0])
    nc2_norm, nc2_angle = _nc2(s)
    return {"nc0": nc0(W), "nc0_rel": nc0_rel(W), "nc1": _nc1(s),
            "nc2_norm": nc2_norm, "nc2_angle": nc2_angle, "nc3": _nc3(W, s),
            "nc4": _nc4(W, b, s), "w_fro": float(np.linalg.norm(W)), "w_sup": float(np.abs(W).max())}


def simplex_etf(num_classes: int, dim: int | None = None, scale: float = 1.0, seed: int | None = None) -> np.ndarray:
    """A K x d simplex ETF: rows of equal norm ``scale`` with pairwise cosines -1/(K-1).

    ``sqrt(K/(K-1)) (I_K - 11^T/K)`` embedded in R^d (d >= K; default d = K) by an
    orthonormal map (random when ``seed`` is given, else the identity embedding).
    """
    K = int(num_classes)
    d = K if dim is None else int(dim)
    if K < 2 or d < K:
        raise NCTheoryError(f"need num_classes >= 2 and dim >= num_classes, got {K}, {d}")
    etf = math.sqrt(K / (K - 1)) * (np.eye(K) - np.ones((K, K)) / K)
    if seed is None:
        U = np.eye(d)[:K]
    else:
        Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, K)))
        U = Q.T
    return scale * etf @ U
