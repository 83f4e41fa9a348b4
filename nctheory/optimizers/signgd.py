"""SignGD with coupled weight decay: ``W <- W - eta sign(G + lambda W)``.

Adam with beta1 = beta2 = 0 and eps = 0 (Balles & Hennig, ICML 2018; Bernstein et al.,
ICML 2018). Nonlinear: no row-sum recurrence; stationary points have NC0 = 0 (Theorem 2)
but a constant step only reaches an O(eta) neighbourhood.
Reference: ``torch.optim.Adam(betas=(0, 0), eps=1e-300)``: ``m = d``, ``v = d^2``, step
``d / (|d| + 1e-300)`` = ``sign(d)`` to a few ulps (0 where d = 0; eps only matters below 1e-284).
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import TorchClass

BERNSTEIN2018 = r"""@inproceedings{bernstein2018signsgd,
  author    = {Bernstein, Jeremy and Wang, Yu-Xiang and Azizzadenesheli, Kamyar and Anandkumar, Animashree},
  title     = {{signSGD}: Compressed Optimisation for Non-Convex Problems},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {560--569},
  year      = {2018}
}"""

BALLES2018 = r"""@inproceedings{balles2018dissecting,
  author    = {Balles, Lukas and Hennig, Philipp},
  title     = {Dissecting {Adam}: The Sign, Magnitude and Variance of Stochastic Gradients},
  booktitle = {Proceedings of the 35th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {80},
  pages     = {404--413},
  year      = {2018}
}"""


SPEC = OptimizerSpec(
    name="signgd",
    title="SignGD",
    summary="SignGD, coupled weight decay (Adam with betas=0, eps=0)",
    chain=(tf.add_decayed_weights, tf.scale_by_sign, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.WEIGHT_DECAY),
    reference="Bernstein et al. (2018); Balles & Hennig (2018)",
    citations=(BERNSTEIN2018, BALLES2018),
    examples={"lr": 1e-2, "weight_decay": 5e-2},
    reference_implementation=TorchClass("torch.optim.Adam", {"betas": (0.0, 0.0), "eps": 1e-300, "amsgrad": False,
                                                          "decoupled_weight_decay": False}),
)
