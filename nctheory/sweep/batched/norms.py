"""Per-step norms of the classifier for the verdict's rounding model, for R torch runs at once.

``TorchRunner.step_norms`` (:mod:`nctheory.runs.training.runners`) records after every step
``||W_(t+1)||_F``, ``||W_(t+1) - W_t||_F``, ``||G_t||_F``, ``||1^T G_t||``, the drift ratio
``||EMA(dW)|| / EMA(||dW||)`` (beta 0.99) and each chain buffer's ``||b_(t+1)||_F``, in
float64 on the device; :mod:`nctheory.verdict.noise` and :mod:`nctheory.verdict.adaptive`
read them. :class:`BatchedStepNorms` computes the same quantities per run from the stacked
classifier, its gradient and the batched chain state (whose buffers carry torch's names);
a buffer not created yet (torch's momentum buffer before the first step) is NaN, as there.
"""

from __future__ import annotations

from nctheory.sweep.batched.stacking import PerRun, select


class BatchedStepNorms:
    """Step norms of the stacked classifier ``name`` of a torch batch."""

    def __init__(self, spec, name: str):
        import torch

        self.torch, self.name = torch, name
        self.buffers = [(i, b) for i, t in enumerate(spec.chain) for b in t.buffers]
        self.names = ["w_fro", "update_fro", "grad_fro", "grad_row_sum", "drift_ratio"] + \
            [f"buffer_fro:{b}" for _, b in self.buffers]
        self.drift = self.drift_size = None

    def __call__(self, before: dict, after: dict, grads: dict, state: dict):
        """``(R, len(names))`` float64 norms after a step."""
        torch = self.torch
        with torch.no_grad():
            W = after[self.name].detach().to(torch.float64)
            G = grads[self.name].detach().to(torch.float64)
            delta = W - before[self.name].detach().to(torch.float64)
            size = torch.linalg.vector_norm(delta, dim=(-2, -1))
            if self.drift is None:
                self.drift, self.drift_size = delta * 0.01, size * 0.01
            else:
                self.drift = self.drift * 0.99 + delta * 0.01
                self.drift_size = self.drift_size * 0.99 + size * 0.01
            values = [torch.linalg.vector_norm(W, dim=(-2, -1)), size, torch.linalg.vector_norm(G, dim=(-2, -1)),
                      torch.linalg.vector_norm(G.sum(-2), dim=-1),
                      torch.linalg.vector_norm(self.drift, dim=(-2, -1)) / torch.clamp(self.drift_size, min=1e-300)]
            sub = state[self.name]
            for i, b in self.buffers:
                values.append(self._buffer_norm(sub[i], b, W))
            return torch.stack(values, dim=1)

    def _buffer_norm(self, sub, b, W):
        torch = self.torch
        nan = torch.full((W.shape[0],), float("nan"), dtype=torch.float64, device=W.device)
        if isinstance(sub, PerRun):
            return torch.stack([torch.linalg.vector_norm(s[b].detach().to(torch.float64))
                                if isinstance(s.get(b), torch.Tensor) else nan[0] for s in sub])
        value = sub.get(b) if isinstance(sub, dict) else None
        if not isinstance(value, torch.Tensor) or value.ndim == 0:
            return nan
        return torch.linalg.vector_norm(value.detach().to(torch.float64).flatten(1), dim=1)

    def select(self, keep, xp=None) -> None:
        if self.drift is not None:
            self.drift = select(self.drift, keep, xp)
            self.drift_size = select(self.drift_size, keep, xp)
