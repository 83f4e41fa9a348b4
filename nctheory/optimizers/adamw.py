"""AdamW: Adam with decoupled weight decay, as torch.optim.AdamW implements it.

``W <- (1 - eta lambda) W - eta m_hat / (sqrt(v_hat) + eps)`` with the moments of G alone.
Loshchilov & Hutter, ICLR 2019; torch/optim/adamw.py (``param.mul_(1 - lr * weight_decay)``).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import KINGMA2015, LOSHCHILOV2019

SPEC = OptimizerSpec(
    name="adamw",
    title="AdamW",
    summary="AdamW, decoupled weight decay (torch.optim.AdamW)",
    chain=(tf.scale_by_adam, tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.BETA1, hp.BETA2, hp.EPS, hp.WEIGHT_DECAY),
    reference="Loshchilov & Hutter (2019); torch/optim/adamw.py",
    citations=(LOSHCHILOV2019, KINGMA2015),
    examples={"lr": 1e-3, "weight_decay": 5e-2},
    torch=(TorchClass("torch.optim.AdamW", {"amsgrad": False}),
           TorchClass("torch.optim.Adam", {"amsgrad": False, "decoupled_weight_decay": True})),
)
