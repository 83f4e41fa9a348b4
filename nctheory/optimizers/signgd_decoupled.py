"""SignGD with decoupled weight decay: ``W <- (1 - eta lambda) W - eta sign(G)``.

AdamW with beta1 = beta2 = 0 and eps -> 0. The decay keeps ``||W||_inf <= max(||W_0||_inf,
1/lambda)`` (the l_inf-constrained view of AdamW; Xie & Li, ICML 2024), and the row sum
cannot vanish for odd K when the sign pattern settles (THEORY.md section 4).
Reference: ``torch.optim.AdamW(betas=(0, 0), eps=1e-300)`` (the step is ``sign(G)`` to a few ulps).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

XIE2024 = r"""@inproceedings{xie2024implicit,
  author    = {Xie, Shuo and Li, Zhiyuan},
  title     = {Implicit Bias of {AdamW}: $\ell_\infty$-Norm Constrained Optimization},
  booktitle = {Proceedings of the 41st International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {235},
  year      = {2024}
}"""


SPEC = OptimizerSpec(
    name="signgd_decoupled",
    title="decoupled SignGD",
    summary="SignGD, decoupled weight decay (AdamW with betas=0, eps->0)",
    chain=(tf.scale_by_sign, tf.add_decayed_weights, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.WEIGHT_DECAY),
    reference="Xie & Li (2024); Zhao et al. (2026), arXiv:2602.16642",
    citations=(XIE2024,),
    examples={"lr": 1e-2, "weight_decay": 5e-2},
    reference_implementation=TorchClass("torch.optim.AdamW", {"betas": (0.0, 0.0), "eps": 1e-300, "amsgrad": False}),
)
