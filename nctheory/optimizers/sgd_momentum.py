"""Heavy-ball SGD with dampening and coupled decay (torch.optim.SGD, momentum > 0).

``d = G + lambda W``; ``b_1 = d_0``, then ``b <- mu b + (1 - tau) d``; ``W <- W - eta b``.
Polyak, "Some methods of speeding up the convergence of iteration methods" (1964).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import NONZERO, TorchClass

POLYAK1964 = r"""@article{polyak1964some,
  author  = {Polyak, Boris T.},
  title   = {Some Methods of Speeding up the Convergence of Iteration Methods},
  journal = {USSR Computational Mathematics and Mathematical Physics},
  volume  = {4},
  number  = {5},
  pages   = {1--17},
  year    = {1964}
}"""


SPEC = OptimizerSpec(
    name="sgd_momentum",
    title="heavy ball",
    summary="heavy-ball momentum with dampening, coupled decay (torch.optim.SGD)",
    chain=(tf.add_decayed_weights, tf.torch_momentum, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.MOMENTUM, hp.DAMPENING, hp.WEIGHT_DECAY),
    examples={"dampening": 0.3},  # the check's default exercises torch's dampening (and its first-step rule)
    reference="Polyak (1964); torch/optim/sgd.py",
    citations=(POLYAK1964,),
    torch=(TorchClass("torch.optim.SGD", {"momentum": NONZERO, "nesterov": False}),),
)
