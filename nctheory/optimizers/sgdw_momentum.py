"""SGD with momentum and decoupled weight decay (SGDW).

``b_1 = G_0``, then ``b <- mu b + (1 - tau) G``; ``W <- (1 - eta lambda) W - eta b``.
Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019 (Algorithm 1).
The buffer sees only gradients, whose row sums vanish (Lemma 1), so momentum cannot
help the row sum: rate max(1 - eta lambda, mu).
Reference: ``pytorch_optimizer.SGDW`` (weight_decouple=True: ``W <- (1 - eta lambda) W``, then
the torch.optim momentum buffer with its first-step rule and dampening).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import NONZERO, TorchClass
from nctheory.optimizers._references import LOSHCHILOV2019

SPEC = OptimizerSpec(
    name="sgdw_momentum",
    title="SGDW",
    summary="SGD momentum with decoupled weight decay (SGDW, Loshchilov & Hutter)",
    chain=(tf.torch_momentum, tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.MOMENTUM, hp.DAMPENING, hp.WEIGHT_DECAY),
    examples={"dampening": 0.3},  # the check's default exercises torch's dampening (and its first-step rule)
    reference="Loshchilov & Hutter (2019), Algorithm 1",
    citations=(LOSHCHILOV2019,),
    torch=(TorchClass("pytorch_optimizer.SGDW", {"momentum": NONZERO, "weight_decouple": True, "nesterov": False},
                      requirement="pytorch-optimizer"),),
)
