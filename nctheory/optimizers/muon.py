"""Muon with Nesterov momentum and decoupled weight decay, as torch.optim.Muon implements it.

``b <- mu b + (1 - mu) G`` from ``b = 0``; ``O = NS_k^{(a,b,c)}((1 - mu) G + mu b)`` (quintic
Newton-Schulz, torch's coefficients ``(3.4445, -4.7750, 2.0315)`` and 5 steps);
``W <- (1 - eta lambda) W - eta sqrt(max(1, K/d)) O``.
Jordan et al., "Muon: an optimizer for hidden layers in neural networks" (2024),
https://kellerjordan.github.io/posts/muon/; torch/optim/_muon.py (``_single_tensor_muon``).

Theory (derived from the chain, :mod:`nctheory.theory.symbolic.centring`): the argument of
Newton-Schulz is built from gradients only, whose row sums vanish (Lemma 1); Newton-Schulz is
left-orthogonally equivariant, so its output has zero row sums (the matrix theorem,
:mod:`nctheory.theorems.matrix_row_sums`) and the row sums follow ``s' = (1 - eta lambda) s``
exactly -- SGDW's rate, unlike AdamW.

Measured on: ``torch.optim.Muon`` with its Newton-Schulz step computed in the parameter's
dtype instead of bfloat16 (:class:`nctheory.pytorch.newton_schulz_dtype.MuonNewtonSchulzInParamDtype`:
torch's own step, only the precision of that one function changed). torch's own bfloat16 step
leaves a rounding floor: :mod:`nctheory.theorems.bfloat16_floor`.
"""

from dataclasses import replace

import sympy as sp

from nctheory.errors import HyperparameterError
from nctheory.theory import hyperparams as hp
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import Condition, TorchClass
from nctheory.optimizers._references import JORDAN2024

MOMENTUM = replace(hp.MOMENTUM, description="momentum mu of Muon's buffer (torch default 0.95)", example=0.95,
                   default=0.95, low_open=False)
NS_A = hp.Hyperparameter("ns_a", "Newton-Schulz coefficient a (ns_coefficients[0])", mt.TORCH_NS_COEFFICIENTS[0],
                         default=mt.TORCH_NS_COEFFICIENTS[0], low=0.0, low_open=True,
                         symbol=sp.Symbol("a_NS", positive=True), torch_key="ns_coefficients", torch_index=0)
NS_B = hp.Hyperparameter("ns_b", "Newton-Schulz coefficient b (ns_coefficients[1])", mt.TORCH_NS_COEFFICIENTS[1],
                         default=mt.TORCH_NS_COEFFICIENTS[1], symbol=sp.Symbol("b_NS", real=True),
                         torch_key="ns_coefficients", torch_index=1)
NS_C = hp.Hyperparameter("ns_c", "Newton-Schulz coefficient c (ns_coefficients[2])", mt.TORCH_NS_COEFFICIENTS[2],
                         default=mt.TORCH_NS_COEFFICIENTS[2], symbol=sp.Symbol("c_NS", real=True),
                         torch_key="ns_coefficients", torch_index=2)
NS_STEPS = hp.Hyperparameter("ns_steps", "number of Newton-Schulz iterations (torch: < 100)", mt.TORCH_NS_STEPS,
                             default=mt.TORCH_NS_STEPS, low=0.0, high=100.0, high_open=True, integer=True,
                             symbol=sp.Symbol("k_NS", integer=True, nonnegative=True))
EPS = replace(hp.EPS, description="floor of ||G||_F in Newton-Schulz's normalisation", example=mt.TORCH_NS_EPS,
              default=mt.TORCH_NS_EPS)
#: torch's default ``adjust_lr_fn=None`` is "original": ``sqrt(max(1, rows / cols))``.
ORIGINAL_SCALING = Condition("None or 'original'", lambda v: v in (None, "original"))
MUON_WHEN = {"nesterov": True, "adjust_lr_fn": ORIGINAL_SCALING}


def lr_times_decay_at_most_one(name: str, values: dict) -> None:
    """``eta lambda <= 1``: beyond it the decoupled factor ``1 - eta lambda`` flips the weights' sign."""
    lr, wd = values.get("lr"), values.get("weight_decay")
    if lr is not None and wd is not None and lr * wd > 1:
        raise HyperparameterError(f"{name}: lr * weight_decay = {float(lr * wd):g} must be <= 1 "
                                  f"(the decoupled factor 1 - lr * weight_decay would be negative)")


HYPERPARAMETERS = (hp.LR, hp.WEIGHT_DECAY, MOMENTUM, NS_A, NS_B, NS_C, NS_STEPS, EPS)

SPEC = OptimizerSpec(
    name="muon",
    title="Muon",
    summary="Muon: Nesterov momentum, Newton-Schulz orthogonalisation, decoupled decay (torch.optim.Muon)",
    chain=(mt.muon_momentum, mt.newton_schulz_orthogonalisation, tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=HYPERPARAMETERS,
    reference="Jordan et al. (2024); torch/optim/_muon.py",
    citations=(JORDAN2024,),
    examples={"lr": 0.02, "weight_decay": 0.1},
    defaults={"weight_decay": 0.1},
    constraints=(lr_times_decay_at_most_one,),
    torch=(TorchClass("torch.optim.Muon", MUON_WHEN),),
    reference_implementation=TorchClass("nctheory.pytorch.newton_schulz_dtype.MuonNewtonSchulzInParamDtype",
                                        MUON_WHEN),
)
