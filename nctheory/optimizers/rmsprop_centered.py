"""Centred RMSprop (torch.optim.RMSprop with ``centered=True``), momentum and coupled decay.

``d = G + lambda W``; ``v <- alpha v + (1 - alpha) d^2``, ``g <- alpha g + (1 - alpha) d``
from 0; ``b <- mu b + d / (sqrt(v - g^2) + eps)``; ``W <- W - eta b``.
Graves, "Generating sequences with recurrent neural networks", arXiv:1308.0850 (2013),
eq. (38)-(41); torch/optim/rmsprop.py. Same theory as RMSprop (Adam's family: coupled).
"""

from dataclasses import replace

from nctheory.optimizers.rmsprop import SPEC as _RMSPROP
from nctheory.optimizers.rmsprop import MomentumFromZero, ScaleByRMS
from nctheory.theory import transforms as tf
from nctheory.theory.torch_mapping import TorchClass
from nctheory.optimizers._references import TIELEMAN2012

GRAVES2013 = r"""@misc{graves2013generating,
  author       = {Graves, Alex},
  title        = {Generating Sequences with Recurrent Neural Networks},
  howpublished = {arXiv:1308.0850},
  year         = {2013}
}"""


SPEC = replace(
    _RMSPROP,
    name="rmsprop_centered",
    title="centred RMSprop",
    summary="centred RMSprop with momentum, coupled L2 weight decay (torch.optim.RMSprop, centered=True)",
    chain=(tf.add_decayed_weights, ScaleByRMS(centered=True), MomentumFromZero(), tf.scale_by_learning_rate),
    reference="Graves (2013), eq. (38)-(41); torch/optim/rmsprop.py",
    citations=(GRAVES2013, TIELEMAN2012),
    torch=(TorchClass("torch.optim.RMSprop", {"centered": True}),),
)
