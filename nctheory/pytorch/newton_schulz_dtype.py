"""torch.optim.Muon with its Newton-Schulz step computed in the parameter's dtype.

torch's ``_zeropower_via_newtonschulz`` (``torch/optim/_muon.py``) casts the update to
bfloat16 before the iteration. :class:`MuonNewtonSchulzInParamDtype` runs torch's own
``Muon.step`` -- momentum, Nesterov, shape factor, decoupled decay, all torch's code -- with
that one function replaced, for the duration of the step, by :func:`zeropower_in_dtype`: the
same iteration line for line (Jordan et al. 2024) without the cast. On float64 parameters it
is the float64 iteration THEORY.md section 4b measured (``(1 - eta lambda)^t`` to 2e-13 over
300 steps); with bfloat16 it is torch's own step.
"""

from __future__ import annotations

import torch
import torch.optim._muon as _torch_muon


def zeropower_in_dtype(grad, ns_coefficients, ns_steps, eps):
    """``torch.optim._muon._zeropower_via_newtonschulz`` without ``.bfloat16()``."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


class MuonNewtonSchulzInParamDtype(torch.optim.Muon):
    """``torch.optim.Muon`` whose Newton-Schulz iteration runs in the parameter's dtype."""

    @torch.no_grad()
    def step(self, closure=None):
        original = _torch_muon._zeropower_via_newtonschulz
        _torch_muon._zeropower_via_newtonschulz = zeropower_in_dtype
        try:
            return super().step(closure)
        finally:
            _torch_muon._zeropower_via_newtonschulz = original


def _pytorch_optimizer_muon():
    """pytorch-optimizer's Muon class and its module of shared steps (None if not installed)."""
    try:
        import pytorch_optimizer.optimizer.muon.base as base
        from pytorch_optimizer import Muon
    except ImportError:  # the references extra is not installed
        return None, None
    return Muon, base


_PO_MUON, _PO_BASE = _pytorch_optimizer_muon()


if _PO_MUON is not None:
    class CoupledMuonInParamDtype(_PO_MUON):
        """pytorch-optimizer's ``Muon`` (Kim, pytorch_optimizer 4.1) with ``weight_decouple=False``
        -- ``lambda W`` added to the gradient before its momentum and Newton-Schulz, which
        torch.optim.Muon does not offer -- over one ``use_muon=True`` group, its Newton-Schulz
        iteration run in the parameter's dtype (the library's default is bfloat16) with ``eps``.

        Everything else is the library's step: ``apply_weight_decay`` (coupled), the momentum
        ``lerp`` and Nesterov ``lerp``, the shape factor ``sqrt(max(1, rows/cols))``. The group
        also keeps the keys torch.optim.Muon uses (``ns_coefficients``, ``eps``), so that
        ``from_torch`` reads its hyperparameters.
        """

        def __init__(self, params, lr=2e-2, weight_decay=0.1, momentum=0.95,
                     ns_coefficients=(3.4445, -4.7750, 2.0315), ns_steps=5, eps=1e-7):
            group = {"params": list(params), "use_muon": True, "ns_coefficients": tuple(ns_coefficients),
                     "eps": eps}
            super().__init__([group], lr=lr, momentum=momentum, weight_decay=weight_decay, weight_decouple=False,
                             nesterov=True, ns_steps=int(ns_steps), ns_coeffs=tuple(ns_coefficients),
                             use_adjusted_lr=False, foreach=False)

        @torch.no_grad()
        def step(self, closure=None):
            original = _PO_BASE.zero_power_via_newton_schulz_5
            group = self.param_groups[0]
            dtype = next((p.dtype for p in group["params"]), torch.float64)

            def in_param_dtype(g, num_steps=5, weights=None, **_):
                return original(g, num_steps=num_steps, eps=group["eps"], weights=weights, dtype=dtype)

            _PO_BASE.zero_power_via_newton_schulz_5 = in_param_dtype
            try:
                return super().step(closure)
            finally:
                _PO_BASE.zero_power_via_newton_schulz_5 = original
