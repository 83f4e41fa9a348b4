"""Nesterov SGD as torch implements it (torch.optim.SGD, nesterov=True).

``d = G + lambda W``; ``b_1 = d_0``, then ``b <- mu b + (1 - tau) d``; ``W <- W - eta (d + mu b)``.
torch requires ``dampening = 0`` with Nesterov; the symbolic recurrence keeps tau general.
Sutskever et al., "On the importance of initialization and momentum", ICML 2013.
"""

from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.errors import HyperparameterError
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.torch_mapping import NONZERO, TorchClass


def _torch_nesterov_rule(name: str, values: dict) -> None:
    if values.get("dampening", 0) != 0:
        raise HyperparameterError(
            f"{name}: dampening must be 0 with Nesterov momentum (torch.optim.SGD: "
            f"'Nesterov momentum requires a momentum and zero dampening'), got {float(values['dampening'])!r}")


NESTEROV1983 = r"""@article{nesterov1983method,
  author  = {Nesterov, Yurii},
  title   = {A Method for Solving the Convex Programming Problem with Convergence Rate {$O(1/k^2)$}},
  journal = {Soviet Mathematics Doklady},
  volume  = {27},
  number  = {2},
  pages   = {372--376},
  year    = {1983}
}"""

SUTSKEVER2013 = r"""@inproceedings{sutskever2013importance,
  author    = {Sutskever, Ilya and Martens, James and Dahl, George and Hinton, Geoffrey},
  title     = {On the Importance of Initialization and Momentum in Deep Learning},
  booktitle = {Proceedings of the 30th International Conference on Machine Learning (ICML)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {28},
  pages     = {1139--1147},
  year      = {2013}
}"""


SPEC = OptimizerSpec(
    name="sgd_nesterov",
    title="Nesterov",
    summary="Nesterov momentum, coupled decay (torch.optim.SGD, nesterov=True)",
    chain=(tf.add_decayed_weights, tf.torch_nesterov, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.MOMENTUM, hp.DAMPENING, hp.WEIGHT_DECAY),
    reference="Sutskever et al. (2013); torch/optim/sgd.py",
    citations=(NESTEROV1983, SUTSKEVER2013),
    constraints=(_torch_nesterov_rule,),
    torch=(TorchClass("torch.optim.SGD", {"momentum": NONZERO, "nesterov": True}),),
)
