"""Plain SGD with coupled weight decay: ``W <- W - eta (G + lambda W)``.

torch.optim.SGD with ``momentum=0`` (torch/optim/sgd.py). Row sums: s' = (1 - eta lambda) s.
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

ROBBINS1951 = r"""@article{robbins1951stochastic,
  author  = {Robbins, Herbert and Monro, Sutton},
  title   = {A Stochastic Approximation Method},
  journal = {The Annals of Mathematical Statistics},
  volume  = {22},
  number  = {3},
  pages   = {400--407},
  year    = {1951}
}"""


SPEC = OptimizerSpec(
    name="sgd",
    title="SGD",
    summary="SGD, coupled weight decay (torch.optim.SGD, momentum=0)",
    chain=(tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.WEIGHT_DECAY),
    reference="Robbins & Monro (1951); torch/optim/sgd.py",
    citations=(ROBBINS1951,),
    torch=(TorchClass("torch.optim.SGD", {"momentum": 0, "nesterov": False}),),
)
