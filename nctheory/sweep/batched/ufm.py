r"""R unconstrained features models at once: stacked ``W`` (R, K, d), ``H`` (R, N, d), ``b`` (R, K).

Each run starts from :func:`nctheory.runs.ufm.init_ufm` with its own seed -- the arrays its
one-at-a-time run starts from, on every backend -- and the runs share the labels
``y = (0,..,0, ..., K-1)``.

* :class:`ArrayUFMBatch` (numpy / cupy): the analytic gradients of :mod:`nctheory.runs.ufm`
  with a run axis: ``Z_r = H_{r,B_r} W_r^T (+ b_r)``, the registry's per-sample values and
  logit gradients on the rows of all runs at once (``(R |B|) x K``; the array forms act row
  by row), ``dL_r/dZ_r`` divided by ``|B|``, then ``grad_W = dZ^T H_B``, ``grad_H[B] = dZ W``
  (zero elsewhere), ``grad_b = 1^T dZ`` as batched matrix products. The ``(R |B|) x K``
  logits are stored class by class (memory order ``(K, R, |B|)``, computed as
  ``W_r H_{r,B}^T``), which makes the forms' reductions over the classes fast; the sums
  then associate differently, so results differ from the one-run numpy run by ulps
  (measured 8.5e-15 relative after 200 steps, K=10, d=16) instead of none.
* :class:`TorchUFMBatch` (torch, CPU or CUDA): autograd, as the one-run torch runner, of
  each run's mean loss with logits computed as ``W_r H_{r,B}^T`` -- classes in the middle
  axis, the fast layout of :mod:`.torch_loss`.

Both offer ``loss_and_grads(params, rows)`` (rows: ``(R, |B|)`` host indices or None),
``row_sums(params)`` (``(R, d)``), ``metrics(params, r)`` (the one-run runner's metrics of run
r), ``stacked_metrics(params)`` (those of every run at once, :mod:`.metrics`; None where not
covered: cupy and CUDA keep the per-run path) and ``select(keep)``.
"""

from __future__ import annotations

import numpy as np

from nctheory.runs.collapse_metrics import nc_metrics, to_numpy
from nctheory.runs.ufm import init_ufm, loss_value
from nctheory.theory.losses import LOSSES, run_parameters


def initial_arrays(sizes: dict, seeds, bias: bool, dtype) -> tuple[dict, np.ndarray]:
    """Host arrays ``{"W", "H"[, "b"]}`` stacked over the runs' seeds, and the labels."""
    per_run = [init_ufm(sizes["num_classes"], sizes["samples_per_class"], sizes["dim"], seed=int(s), bias=bias,
                        dtype=dtype) for s in seeds]
    params = {k: np.stack([p[k] for p, _ in per_run]) for k in per_run[0][0]}
    return params, per_run[0][1]


class ArrayUFMBatch:
    """Stacked UFMs on numpy or cupy (``xp``: the Array API namespace)."""

    classifier = "W"

    def __init__(self, xp, sizes: dict, seeds, bias: bool, dtype, loss: str, eps: float):
        host, y = initial_arrays(sizes, seeds, bias, dtype)
        self.xp, self.loss, self.eps = xp, loss, eps
        self.params = {k: xp.asarray(v) for k, v in host.items()}
        self.y_host, self.y = y, xp.asarray(y)
        self.num_classes = sizes["num_classes"]
        self.num_samples, self.dim = int(y.size), sizes["dim"]

    def make(self, host_array):
        return self.xp.asarray(host_array, dtype=self.params["W"].dtype)

    def loss_and_grads(self, params: dict, rows):
        xp = self.xp
        W, H = params["W"], params["H"]
        R = W.shape[0]
        if rows is None:
            HB, yb = H, xp.broadcast_to(self.y, (R, self.y.shape[0]))
        else:
            rows = xp.asarray(rows)
            runs = xp.arange(R)[:, None]
            HB, yb = H[runs, rows], self.y[rows]
        B, K = HB.shape[1], W.shape[1]
        Zt = W @ HB.swapaxes(-1, -2)  # (R, K, B)
        if "b" in params:
            Zt = Zt + params["b"][:, :, None]
        # the logits as the (R B) x K matrix the loss's array form takes, stored class by class
        # (memory (K, R, B)): its reductions over the K classes then run as K - 1 passes over
        # contiguous rows instead of one short reduction per sample (measured 1.7x faster for
        # 100 runs); every row is the same, only the summation order of a row differs (ulps)
        by_class = xp.empty((K, R, B), dtype=Zt.dtype)
        by_class[...] = xp.moveaxis(Zt, 1, 0)
        values, dZ = LOSSES[self.loss].value_and_grad(by_class.reshape(K, R * B).T, yb.reshape(R * B),
                                                       **run_parameters(self.eps))
        losses = values.reshape(R, B).sum(axis=1) / B
        dZt = xp.moveaxis(dZ.T.reshape(K, R, B), 0, 1) / B  # (R, K, B)
        grads = {"W": dZt @ HB}
        if rows is None:
            grads["H"] = dZt.swapaxes(-1, -2) @ W
        else:
            grads["H"] = xp.zeros_like(H)
            grads["H"][runs, rows] = dZt.swapaxes(-1, -2) @ W
        if "b" in params:
            grads["b"] = dZt.sum(axis=2)
        return losses, grads

    def row_sums(self, params: dict):
        return params["W"].sum(axis=1)

    def metrics(self, params: dict, r: int) -> dict | None:
        """``ArrayUFMRunner.metrics`` of run r: host float64 copies, the same formulas."""
        p = {k: to_numpy(v[r]).astype(np.float64) for k, v in params.items()}
        if not all(np.isfinite(v).all() for v in p.values()):
            return None
        value, Z = loss_value(p, self.y_host, self.loss, self.eps)
        out = nc_metrics(p["W"], p["H"], self.y_host, p.get("b"), self.num_classes)
        out["loss"] = float(value)
        out["accuracy"] = float(np.mean(Z.argmax(1) == self.y_host))
        return out

    def stacked_metrics(self, params: dict) -> list | None:
        """:meth:`metrics` of every run at once (:func:`.metrics.ufm_metrics`, numpy only; None
        on cupy, whose runs take the per-run path)."""
        if not isinstance(params["W"], np.ndarray):
            return None
        from nctheory.sweep.batched.metrics import ufm_metrics

        p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        return ufm_metrics(p["W"], p["H"], self.y_host, p.get("b"), self.loss, self.eps)

    def select(self, keep) -> None:
        """Nothing per run besides the parameters."""


class TorchUFMBatch:
    """Stacked UFMs on torch (autograd), on ``device`` in ``dtype``."""

    classifier = "W"

    def __init__(self, sizes: dict, seeds, bias: bool, dtype, device, loss: str, eps: float):
        import torch

        host, y = initial_arrays(sizes, seeds, bias, np.float64)
        self.torch, self.loss, self.eps = torch, loss, eps
        self.dtype, self.device = dtype, device
        self.params = {k: torch.tensor(v, dtype=dtype, device=device) for k, v in host.items()}
        self.y = torch.as_tensor(y, device=device)
        self.num_classes = sizes["num_classes"]
        self.num_samples, self.dim = int(y.size), sizes["dim"]
        self._ones: dict = {}

    def make(self, host_array):
        return self.torch.as_tensor(np.asarray(host_array), dtype=self.dtype, device=self.device)

    def loss_and_grads(self, params: dict, rows):
        from nctheory.sweep.batched.torch_loss import mean_losses

        torch = self.torch
        leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
        W, H = leaves["W"], leaves["H"]
        R = W.shape[0]
        with torch.enable_grad():
            if rows is None:
                HB, yb = H, self.y.expand(R, -1)
            else:
                rows = torch.as_tensor(rows, device=self.device)
                HB, yb = H[torch.arange(R, device=self.device)[:, None], rows], self.y[rows]
            Zt = W @ HB.mT  # (R, K, B): classes in the middle axis
            if "b" in leaves:
                Zt = Zt + leaves["b"][:, :, None]
            losses = mean_losses(Zt, yb, self.loss, self.eps)
            # d(sum_r L_r)/dL_r = 1: the backward of ``losses.sum()`` without its node
            ones = self._ones.get(R)
            if ones is None:
                ones = self._ones[R] = torch.ones(R, dtype=losses.dtype, device=losses.device)
            grads = torch.autograd.grad(losses, list(leaves.values()), grad_outputs=ones)
        return losses.detach(), dict(zip(leaves, grads))

    def row_sums(self, params: dict):
        return params["W"].detach().sum(1)

    def metrics(self, params: dict, r: int) -> dict | None:
        from nctheory.sweep.batched.torch_loss import torch_metrics

        W, H = params["W"][r].detach(), params["H"][r].detach()
        b = params["b"][r].detach() if "b" in params else None
        Z = H @ W.T
        Z = Z if b is None else Z + b
        return torch_metrics(W, H, Z, self.y, b, self.num_classes, self.loss, self.eps)

    def stacked_metrics(self, params: dict) -> list | None:
        """:meth:`metrics` of every run at once (CPU only; None on CUDA, per-run there): the
        finiteness test, loss and accuracy of :func:`.torch_loss.torch_metrics` in the run's dtype
        on the stacked logits, the NC metrics by :func:`.metrics.stacked_nc_metrics`."""
        if self.params["W"].device.type != "cpu":
            return None
        from nctheory.sweep.batched.metrics import stacked_nc_metrics
        from nctheory.sweep.batched.torch_loss import stacked_loss_accuracy

        W, H = params["W"].detach(), params["H"].detach()
        b = params["b"].detach() if "b" in params else None
        finite, losses, accuracy = stacked_loss_accuracy(W, H, b, self.y, self.loss, self.eps)
        out: list = [None] * W.shape[0]
        live = np.flatnonzero(finite)
        if not live.size:
            return out
        index = self.torch.as_tensor(live)
        W, H, b = (None if x is None else to_numpy(x[index]).astype(np.float64) for x in (W, H, b))
        metrics = stacked_nc_metrics(W, H, self.y.cpu().numpy(), b)
        for i, r in enumerate(live):
            metrics[i]["loss"], metrics[i]["accuracy"] = float(losses[r]), float(accuracy[r])
            out[int(r)] = metrics[i]
        return out

    def select(self, keep) -> None:
        """Nothing per run besides the parameters."""
