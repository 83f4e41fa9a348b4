"""Quasi-hyperbolic momentum with coupled decay.

``d = G + lambda W``; ``b <- mu b + (1 - mu) d`` from ``b_0 = 0``;
``W <- W - eta ((1 - nu) d + nu b)``.
Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019; qhoptim.
Reference: the authors' ``qhoptim.pyt.QHM`` with ``weight_decay_type="grad"`` (coupled).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

MA2019 = r"""@inproceedings{ma2019quasi,
  author    = {Ma, Jerry and Yarats, Denis},
  title     = {Quasi-Hyperbolic Momentum and {Adam} for Deep Learning},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2019}
}"""


SPEC = OptimizerSpec(
    name="qhm",
    title="QHM",
    summary="quasi-hyperbolic momentum, coupled decay (Ma & Yarats 2019)",
    chain=(tf.add_decayed_weights, tf.quasi_hyperbolic_momentum, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.MOMENTUM, hp.NU, hp.WEIGHT_DECAY),
    reference="Ma & Yarats (2019); github.com/facebookresearch/qhoptim",
    citations=(MA2019,),
    examples={"momentum": 0.999, "nu": 0.7},
    torch=(TorchClass("qhoptim.pyt.QHM", {"weight_decay_type": "grad"}, requirement="qhoptim"),),
)
