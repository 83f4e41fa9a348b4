"""Muon with coupled (L2) weight decay: ``lambda W`` added to the gradient before the momentum
and the orthogonalisation.

``d = G + lambda W``; ``b <- mu b + (1 - mu) d`` from 0; ``W <- W - eta sqrt(max(1, K/d))
NS((1 - mu) d + mu b)``. The chain of :mod:`nctheory.optimizers.muon` with the decay moved to
the front (Jordan et al. 2024 for the rest).

Theory (derived, :mod:`nctheory.theory.symbolic.centring`): the weights enter the argument of
Newton-Schulz, whose row sums are then ``lambda s + ...`` rather than 0, so the matrix theorem
does not apply and no recurrence holds: the row sum of the update depends on the whole
matrices. Stationary points of the L2-regularised objective have NC0 = 0 (Theorem 2), but the
orthogonalised step has all singular values near 1 however small the gradient, so with a
constant step only an O(eta) neighbourhood is reached -- the statement checked, over several
step sizes (:mod:`nctheory.verdict.matrix`).

torch.optim.Muon has no coupled variant; pytorch-optimizer's ``Muon(weight_decouple=False)``
has exactly these semantics (its Newton-Schulz in bfloat16 by default): runs measure on it with
the iteration in the parameter's dtype
(:class:`nctheory.pytorch.newton_schulz_dtype.CoupledMuonInParamDtype`).
"""

from dataclasses import replace

from nctheory.optimizers.muon import SPEC as _MUON
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import transforms as tf
from nctheory.theory.torch_mapping import TorchClass

SPEC = replace(
    _MUON,
    name="muon_coupled",
    title="Muon with coupled decay",
    summary="Muon with coupled L2 weight decay (lambda W added before momentum and Newton-Schulz)",
    chain=(tf.add_decayed_weights, mt.muon_momentum, mt.newton_schulz_orthogonalisation, tf.scale_by_learning_rate),
    reference="Jordan et al. (2024), decay moved before the momentum",
    # lambda = 0.1 (torch's default) drives the UFM's W and H to the trivial point 0 under L2
    examples={"lr": 0.02, "weight_decay": 0.01},
    torch=(TorchClass("pytorch_optimizer.Muon", {"weight_decouple": False, "nesterov": True, "use_muon": True,
                                                   "use_adjusted_lr": False}, requirement="pytorch-optimizer"),),
    reference_implementation=TorchClass("nctheory.pytorch.newton_schulz_dtype.CoupledMuonInParamDtype",
                                        requirement="pytorch-optimizer"),
)
