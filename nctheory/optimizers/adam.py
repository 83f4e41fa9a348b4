"""Adam with coupled (L2) weight decay, as torch.optim.Adam implements it.

``d = G + lambda W``; ``m, v`` moments of d; ``W <- W - eta m_hat / (sqrt(v_hat) + eps)``.
Kingma & Ba, ICLR 2015; torch/optim/adam.py.
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import KINGMA2015

SPEC = OptimizerSpec(
    name="adam",
    title="Adam",
    summary="Adam, coupled L2 weight decay (torch.optim.Adam)",
    chain=(tf.add_decayed_weights, tf.scale_by_adam, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.BETA1, hp.BETA2, hp.EPS, hp.WEIGHT_DECAY),
    reference="Kingma & Ba (2015); torch/optim/adam.py",
    citations=(KINGMA2015,),
    examples={"lr": 1e-3, "weight_decay": 5e-2},
    torch=(TorchClass("torch.optim.Adam", {"amsgrad": False, "decoupled_weight_decay": False}),),
)
