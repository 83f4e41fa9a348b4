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


SPEC = OptimizerSpec(
    name="sgd_nesterov",
    summary="Nesterov momentum, coupled decay (torch.optim.SGD, nesterov=True)",
    chain=(tf.add_decayed_weights, tf.torch_nesterov, tf.scale_by_learning_rate),
    hyperparameters=(hp.LR, hp.MOMENTUM, hp.DAMPENING, hp.WEIGHT_DECAY),
    reference="Sutskever et al. (2013); torch/optim/sgd.py",
    constraints=(_torch_nesterov_rule,),
    torch=(TorchClass("torch.optim.SGD", {"momentum": NONZERO, "nesterov": True}),),
)
