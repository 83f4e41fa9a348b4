"""Plain SGD with coupled weight decay: ``W <- W - eta (G + lambda W)``.

torch.optim.SGD with ``momentum=0`` (torch/optim/sgd.py). Row sums: s' = (1 - eta lambda) s.
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

SPEC = OptimizerSpec(
    name="sgd",
    summary="SGD, coupled weight decay (torch.optim.SGD, momentum=0)",
    chain=(tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.WEIGHT_DECAY),
    reference="Robbins & Monro (1951); torch/optim/sgd.py",
    torch=(TorchClass("torch.optim.SGD", {"momentum": 0, "nesterov": False}),),
)
