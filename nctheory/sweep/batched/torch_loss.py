"""The loss of R runs at once on torch, and the per-run metrics of a torch run.

**Loss.** A one-run torch runner takes the mean of the registry's torch form
(``LOSSES[loss].torch_value(Z, y, reduction="mean")``, ``F.cross_entropy`` for cross-entropy)
over the rows of its logits ``Z`` (B x K) and differentiates it by autograd. The batched
torch UFM computes each run's mean loss ``(R,)`` (:func:`mean_losses`) and differentiates
their sum: run r's parameters receive exactly ``dL_r / dtheta_r`` (runs share no parameter),
through the same autograd formulas.

The layout matters for speed: torch's (log-)softmax over a short last axis (K = 10 classes)
is slow on CPU -- measured 2.7 ms for 20,000 x 10 float64 logits against 0.37 ms for the
same numbers laid out (200, 10, 100), classes in the middle. The registry's torch forms take
the class axis as axis 1, which ``F.cross_entropy`` also accepts for inputs
``(R, K, B)`` with targets ``(R, B)``. :func:`class_axis_one` decides, per loss, by
evaluating it on a small random input both ways, whether the form gives per-sample values
in that layout equal to the flat ``(R B, K)`` evaluation; if not (a form that builds a
one-hot of shape ``(B, K)``), the flat layout is used.

**Metrics.** :func:`torch_metrics` is ``TorchRunner.metrics`` of
:mod:`nctheory.runs.training.runners` for one run's tensors: the same finiteness test, the
same loss and accuracy on the whole training set and :func:`nctheory.runs.collapse_metrics.nc_metrics`.
"""

from __future__ import annotations

import functools

import torch

from nctheory.runs.collapse_metrics import nc_metrics
from nctheory.theory.losses import LOSSES, run_parameters


@functools.cache
def class_axis_one(loss: str, eps: float, num_classes: int) -> bool:
    """Whether ``LOSSES[loss].torch_value`` on logits ``(R, K, B)`` with labels ``(R, B)``
    gives the per-sample values of the flat ``(R B, K)`` evaluation (float64, to 1e-12)."""
    generator = torch.Generator().manual_seed(0)
    Z = torch.randn(2, 3, num_classes, dtype=torch.float64, generator=generator)
    y = torch.randint(0, num_classes, (2, 3), generator=generator)
    form, parameters = LOSSES[loss], run_parameters(eps)
    try:
        flat = form.torch_value(Z.reshape(6, num_classes), y.reshape(6), reduction="none", **parameters)
        middle = form.torch_value(Z.transpose(1, 2).contiguous(), y, reduction="none", **parameters)
    except Exception:  # noqa: BLE001 -- a form that refuses the layout: use the flat one
        return False
    return tuple(middle.shape) == (2, 3) and bool(torch.allclose(middle.reshape(6), flat, rtol=1e-12, atol=0.0))


def mean_losses(logits, y, loss: str, eps: float):
    """Each run's mean loss ``(R,)`` of logits laid out ``(R, K, B)`` (classes in the middle)
    and labels ``(R, B)``: in that layout where the loss's form accepts it
    (:func:`class_axis_one`), else flattened to ``(R B, K)``."""
    form, parameters = LOSSES[loss], run_parameters(eps)
    R, K, B = logits.shape
    if class_axis_one(loss, eps, K):
        return form.torch_value(logits, y, reduction="none", **parameters).mean(-1)
    flat = logits.transpose(1, 2).reshape(R * B, K)
    return form.torch_value(flat, y.reshape(R * B), reduction="none", **parameters).reshape(R, B).mean(-1)


def torch_metrics(W, H, Z, y, b, num_classes: int, loss: str, eps: float) -> dict | None:
    """One run's NC metrics, loss and accuracy, as ``TorchRunner.metrics`` computes them
    (None when features, logits or weights are not finite)."""
    with torch.no_grad():
        if not (bool(torch.isfinite(H).all()) and bool(torch.isfinite(Z).all()) and bool(torch.isfinite(W).all())):
            return None
        value = float(LOSSES[loss].torch_value(Z, y, reduction="mean", **run_parameters(eps)))
        accuracy = float((Z.argmax(1) == y).double().mean())
    out = nc_metrics(W.detach(), H, y, None if b is None else b.detach(), num_classes)
    out["loss"], out["accuracy"] = value, accuracy
    return out


def stacked_loss_accuracy(W, H, b, y, loss: str, eps: float):
    """Host arrays ``(finite, loss, accuracy)`` of R stacked runs (``W`` (R, K, d), ``H``
    (R, N, d), ``b`` (R, K) or None, labels ``y`` (N,)), as :func:`torch_metrics` computes them
    per run: ``finite`` is the test of ``H``, the logits and ``W``; the loss is each run's mean
    (:func:`mean_losses` on logits ``W_r H_r^T + b_r``); accuracy the fraction of argmax hits."""
    with torch.no_grad():
        Zt = W @ H.mT  # (R, K, N)
        if b is not None:
            Zt = Zt + b[:, :, None]
        finite = torch.isfinite(H).flatten(1).all(1) & torch.isfinite(Zt).flatten(1).all(1) \
            & torch.isfinite(W).flatten(1).all(1)
        R, N = Zt.shape[0], Zt.shape[2]
        values = mean_losses(Zt, y.expand(R, N), loss, eps)
        accuracy = (Zt.argmax(1) == y).double().mean(-1)
    return finite.cpu().numpy(), values.double().cpu().numpy(), accuracy.cpu().numpy()
