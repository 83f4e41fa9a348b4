"""Lion: sign of an interpolated momentum, decoupled weight decay.

``W <- (1 - eta lambda) W - eta sign(beta1 m + (1 - beta1) G)``; ``m <- beta2 m + (1 - beta2) G``.
Chen et al., "Symbolic discovery of optimization algorithms", NeurIPS 2023 (Program 1).
Reference: ``lion_pytorch.Lion`` (github.com/lucidrains/lion-pytorch) with its default
``decoupled_weight_decay=False`` (there ``True`` divides the decay by the initial lr).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

CHEN2023 = r"""@inproceedings{chen2023symbolic,
  author    = {Chen, Xiangning and Liang, Chen and Huang, Da and Real, Esteban and Wang, Kaiyuan and Pham, Hieu
               and Dong, Xuanyi and Luong, Thang and Hsieh, Cho-Jui and Lu, Yifeng and Le, Quoc V.},
  title     = {Symbolic Discovery of Optimization Algorithms},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  volume    = {36},
  year      = {2023}
}"""


SPEC = OptimizerSpec(
    name="lion",
    title="Lion",
    summary="Lion, sign of interpolated momentum, decoupled decay (Chen et al. 2023)",
    chain=(tf.scale_by_lion, tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.BETA1, hp.BETA2, hp.WEIGHT_DECAY),
    reference="Chen et al. (2023), Program 1",
    citations=(CHEN2023,),
    examples={"lr": 3e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.5},  # the default check: 10,000 steps
    defaults={"beta1": 0.9, "beta2": 0.99},
    torch=(TorchClass("lion_pytorch.Lion", {"decoupled_weight_decay": False, "use_triton": False},
                      attributes={"decoupled_wd": False}, requirement="lion-pytorch"),),
)
