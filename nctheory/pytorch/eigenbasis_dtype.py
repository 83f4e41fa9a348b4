"""pytorch-optimizer's SOAP with its eigenbasis refresh computed in the parameter's dtype.

``SOAP.get_orthogonal_matrix_qr`` (pytorch_optimizer/optimizer/soap.py, Kim, pytorch-optimizer 4.1)
runs one power iteration ``QR(GG Q)`` and casts the product to float32 before the QR. On
float64 parameters that leaves the eigenbasis orthogonal only to ~1e-7, and ``1/sqrt(K)`` a
column of it only to ~1e-7: the row sums of SOAP's update are then ~1e-7 of its norm instead
of rounding level. :class:`SOAPEigenbasisInParamDtype` is the library's class with that one
method replaced by the same code without the cast (line for line otherwise); every other part
of the step is the library's. Vyas et al., "SOAP", arXiv:2409.11321 (2024).
"""

from __future__ import annotations

import torch

try:
    from pytorch_optimizer import SOAP as _SOAP
except ImportError:  # the references extra is not installed
    _SOAP = None


if _SOAP is not None:
    class SOAPEigenbasisInParamDtype(_SOAP):
        """``pytorch_optimizer.SOAP`` whose power-iteration QR runs in the parameter's dtype."""

        def get_orthogonal_matrix_qr(self, state, max_precondition_dim: int = 10000, merge_dims: bool = False):
            original_shape = state["exp_avg_sq"].shape
            permuted_shape = original_shape
            if self.data_format == "channels_last" and len(original_shape) == 4:
                permuted_shape = state["exp_avg_sq"].permute(0, 3, 1, 2).shape
            exp_avg_sq = state["exp_avg_sq"]
            if merge_dims:
                exp_avg_sq = self.merge_dims(exp_avg_sq, max_precondition_dim)
            matrices = []
            for ind, (m, o) in enumerate(zip(state["GG"], state["Q"])):
                if len(m) == 0:
                    matrices.append([])
                    continue
                matrix_product = m @ o
                est_eig = (o * matrix_product).sum(dim=0)
                sort_idx = torch.argsort(est_eig, descending=True)
                exp_avg_sq = exp_avg_sq.index_select(ind, sort_idx)
                power_iter = matrix_product.index_select(1, sort_idx)
                q, _ = torch.linalg.qr(power_iter)  # the library: power_iter.to(torch.float32)
                matrices.append(q)
            if merge_dims:
                if self.data_format == "channels_last" and len(original_shape) == 4:
                    exp_avg_sq = exp_avg_sq.reshape(permuted_shape).permute(0, 2, 3, 1)
                else:
                    exp_avg_sq = exp_avg_sq.reshape(original_shape)
            state["exp_avg_sq"] = exp_avg_sq
            return matrices
