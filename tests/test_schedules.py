"""Time-varying dynamics (issue 6, item 5): any hyperparameter on a schedule, A_t per step.

torch.optim reads every ``param_group`` value afresh at each step, so a run whose momentum
and weight decay are changed by hand each step follows ``x_{t+1} = A(h_t) x_t`` exactly.

Tolerances. The float64 prediction multiplies 200 matrices of norm ~1 evaluated in float64:
its error is about ``steps * eps * kappa`` with eps = 1.1e-16 and kappa the conditioning of
the product (~ 1 / (1 - mu) = 20 here), i.e. ~ 200 * 1.1e-16 * 20 = 4.4e-13 at most; the
exact product is compared with it at 1e-12. Training in float64 adds rounding of order
eps * ||W|| per step to the row sums (||s|| ~ ||W|| here), so torch's trajectory agrees to
~ 200 * 1e-16 * 20 as well (measured: 4e-15); 1e-9 is THEORY.md section 5's criterion.
The negative controls differ at the 5e-2 level, seven orders of magnitude above it.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
import torch

import nctheory
from nctheory.errors import HyperparameterError, MissingHyperparameterError, NCTheoryError
from nctheory.theory import hyperparams as hp
from nctheory.theory import ops
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec
from nctheory.theory.symbolic.analysis import iterate_exact, transition_product
from nctheory.theory.symbolic.schedules import transitions

STEPS = 200
TORCH_TOLERANCE = 1e-9
EXACT_TOLERANCE = 1e-12


def momentum_cycle(t):
    """A cosine cycle between 0.85 and 0.95 (period 50 steps)."""
    return 0.9 + 0.05 * math.cos(2 * math.pi * t / 50)


def weight_decay_cycle(t):
    return 5e-3 * (1 + 0.8 * math.sin(2 * math.pi * t / 70))


@functools.lru_cache(maxsize=None)
def _train(nesterov: bool, dampening: float, one_cycle: bool = False):
    """A linear classifier on random features, cross-entropy, float64, minibatches of 32.

    Without ``one_cycle`` momentum and weight decay are changed by hand before every step;
    with it ``torch.optim.lr_scheduler.OneCycleLR`` cycles lr and momentum (0.85 .. 0.95).
    Returns the row sums ``W^T 1_K`` (steps + 1, d) and the values in force at each step.
    """
    torch.manual_seed(0)
    features = torch.randn(256, 24, dtype=torch.float64)
    labels = torch.randint(0, 6, (256,))
    model = torch.nn.Linear(24, 6, bias=False).double()
    weight = model.weight
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=dampening, weight_decay=5e-3,
                          nesterov=nesterov)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS) if one_cycle else None
    row_sums, used = [weight.detach().sum(0).numpy().copy()], {"lr": [], "momentum": [], "weight_decay": []}
    for t in range(STEPS):
        group = opt.param_groups[0]
        if not one_cycle:
            group["momentum"], group["weight_decay"] = momentum_cycle(t), weight_decay_cycle(t)
        for key in used:
            used[key].append(group[key])
        idx = torch.randint(0, 256, (32,))
        loss = torch.nn.functional.cross_entropy(model(features[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        row_sums.append(weight.detach().sum(0).numpy().copy())
    return np.array(row_sums), {k: tuple(v) for k, v in used.items()}


def _rel_error(predicted, measured):
    return float(np.max(np.linalg.norm(predicted - measured, axis=1) / np.linalg.norm(measured, axis=1)))


CASES = [("sgd_momentum", False, 0.3), ("sgd_nesterov", True, 0.0)]


@pytest.mark.parametrize("name, nesterov, dampening", CASES)
def test_momentum_and_weight_decay_schedules_reproduce_torch(name, nesterov, dampening):
    measured, used = _train(nesterov, dampening)
    spec = nctheory.optimizer(name, lr=0.1, momentum=0.9, dampening=dampening, weight_decay=5e-3)
    schedules = {"momentum": used["momentum"], "weight_decay": used["weight_decay"]}
    assert min(used["momentum"]) < 0.851 and max(used["momentum"]) > 0.949, "the cycle must span 0.85 .. 0.95"
    predicted = spec.predict(measured[0], STEPS, schedules=schedules)
    assert _rel_error(predicted, measured) < TORCH_TOLERANCE
    # exact: the product of the 200 exact matrices applied to the exact binary s_0
    product = transition_product(spec, schedules=schedules)
    exact_end = np.array([float((product * sp.Matrix([sp.Rational(float(v)), 0]))[0]) for v in measured[0]])
    assert np.linalg.norm(exact_end - predicted[-1]) / np.linalg.norm(exact_end) < EXACT_TOLERANCE
    # and step by step: the exact iterates from s_0 = 1 against the float64 prediction
    exact = np.array([float(v) for v in iterate_exact(spec, sp.Integer(1), STEPS, schedules=schedules)])
    assert np.max(np.abs(exact - spec.predict([1.0], STEPS, schedules=schedules)[:, 0])) < EXACT_TOLERANCE


@pytest.mark.parametrize("name, nesterov, dampening", CASES)
def test_negative_control_constant_momentum_or_decay_is_far_off(name, nesterov, dampening):
    measured, used = _train(nesterov, dampening)
    spec = nctheory.optimizer(name, lr=0.1, momentum=0.9, dampening=dampening, weight_decay=5e-3)
    # 0.9 and 5e-3 are the cycles' means: the schedule, not the level, is what is missing
    assert _rel_error(spec.predict(measured[0], STEPS, schedules={"weight_decay": used["weight_decay"]}),
                      measured) > 1e-2
    assert _rel_error(spec.predict(measured[0], STEPS, schedules={"momentum": used["momentum"]}), measured) > 1e-2


def test_one_cycle_lr_cycles_lr_and_momentum_and_both_are_predicted():
    measured, used = _train(False, 0.0, one_cycle=True)
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    assert len(set(used["momentum"])) > 50 and len(set(used["lr"])) > 50
    predicted = spec.predict(measured[0], STEPS, lr_schedule=used["lr"], schedules={"momentum": used["momentum"]})
    assert _rel_error(predicted, measured) < TORCH_TOLERANCE
    assert _rel_error(spec.predict(measured[0], STEPS, lr_schedule=used["lr"]), measured) > 1e-3


def test_constant_schedules_give_the_constant_recurrence_exactly():
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-3)
    dyn = spec.row_sum_dynamics()
    constant = {"momentum": [0.9] * 12, "lr": lambda t: 0.1}
    assert transition_product(spec, schedules=constant, steps=12) == (dyn.matrix ** 11 * dyn.first_matrix).applyfunc(
        sp.expand)
    assert np.array_equal(spec.predict([1.0, 3.0], 12, schedules=constant), spec.predict([1.0, 3.0], 12))
    matrices = list(transitions(spec, 3))
    assert matrices == [dyn.first_matrix, dyn.matrix, dyn.matrix]
    assert list(transitions(spec, 2, buffers_initialised=True)) == [dyn.matrix, dyn.matrix]


def test_lr_shorthand_equals_the_lr_schedule_and_callables_equal_sequences():
    spec = nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.9, weight_decay=5e-3)
    lrs = [0.1 * 0.95 ** t for t in range(30)]
    moms = [momentum_cycle(t) for t in range(30)]
    a = spec.predict([1.0, -2.0], 30, lr_schedule=lrs, schedules={"momentum": moms})
    b = spec.predict([1.0, -2.0], 30, schedules={"lr": lambda t: 0.1 * 0.95 ** t, "momentum": momentum_cycle})
    assert np.array_equal(a, b)
    assert transition_product(spec, lrs, schedules={"momentum": moms}) == transition_product(
        spec, schedules={"lr": lrs, "momentum": moms})


def test_unset_hyperparameters_may_come_from_schedules_and_stay_symbolic_when_exact():
    spec = nctheory.get_spec("sgd_momentum").with_hparams(dampening=0, weight_decay=0.01)
    with pytest.raises(MissingHyperparameterError, match="lr, momentum"):
        spec.predict([1.0], 3)
    out = spec.predict([1.0], 3, schedules={"lr": [0.1] * 3, "momentum": [0.8, 0.85, 0.9]})
    assert out.shape == (4, 1)
    product = transition_product(spec, schedules={"momentum": [0.8, 0.85, 0.9]})  # lr stays eta
    assert product.free_symbols == {hp.SYMBOLS["lr"]}
    mu = sp.symbols("mu_0:3", positive=True)  # a symbolic schedule passes through unchecked
    assert transition_product(spec.with_hparams(lr=0.1), schedules={"momentum": list(mu)}).free_symbols == {mu[1], mu[2]}


SPEC = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(schedules={"beta1": [0.9] * 5}), HyperparameterError,
     r"schedules has unknown hyperparameter\(s\) beta1; allowed: lr, momentum, dampening, weight_decay"),
    (dict(schedules={"momentum": [0.9, 0.9, 0.9, 1.0, 0.9]}), HyperparameterError,
     r"schedules\['momentum'\] at step 3: momentum=1.0 is outside the allowed range \(0, 1\)"),
    (dict(schedules={"weight_decay": lambda t: -1e-3 if t == 2 else 5e-3}), HyperparameterError,
     r"schedules\['weight_decay'\] at step 2: weight_decay=-0.001 is outside the allowed range \[0, inf\)"),
    (dict(schedules={"momentum": [0.9, float("nan"), 0.9, 0.9, 0.9]}), HyperparameterError,
     r"schedules\['momentum'\] at step 1: momentum must be finite"),
    (dict(schedules={"momentum": [0.9, 0.9, "0.9", 0.9, 0.9]}), HyperparameterError,
     r"schedules\['momentum'\] at step 2: momentum must be a real number"),
    (dict(schedules={"momentum": [0.9, 0.9]}), HyperparameterError,
     r"schedules\['momentum'\] has 2 values but steps=5 need one per step"),
    (dict(schedules={"momentum": 0.9}), HyperparameterError,
     r"schedules\['momentum'\] must be a sequence of values or a callable"),
    (dict(schedules=[0.9] * 5), HyperparameterError, r"schedules must be a dict"),
    (dict(lr_schedule=[0.1] * 5, schedules={"lr": [0.1] * 5}), HyperparameterError, r"not both"),
])
def test_bad_schedules_are_refused_naming_the_hyperparameter_and_step(kwargs, error, match):
    with pytest.raises(error, match=match):
        SPEC.predict([1.0], 5, **kwargs)
    if "lr_schedule" not in kwargs:  # the exact engine checks the same way
        with pytest.raises(error, match=match):
            transition_product(SPEC, schedules=kwargs["schedules"], steps=5)


def test_schedules_obey_the_specs_cross_hyperparameter_rules():
    spec = nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.9, weight_decay=5e-3)
    with pytest.raises(HyperparameterError, match=r"step 1.*dampening must be 0 with Nesterov"):
        spec.predict([1.0], 3, schedules={"dampening": [0.0, 0.1, 0.0]})


def test_transition_product_needs_steps_for_callables():
    with pytest.raises(NCTheoryError, match="needs steps="):
        transition_product(SPEC, schedules={"momentum": momentum_cycle})
    assert transition_product(SPEC, schedules={"momentum": momentum_cycle}, steps=4).shape == (2, 2)


# --------------------------------------------------------------- periodic transitions (Lookahead's hook)
PERIOD = 3


@dataclass(frozen=True)
class PeriodicDecay(tf.Transform):
    """A toy periodic chain: ``d <- d + lambda W`` on every third step only (counter t = 1, 2, ...).

    It stands for Lookahead's synchronisation every k steps: a linear transform whose
    coefficient depends on ``t mod k``, read from its own step counter.
    """

    hyperparameters = ("weight_decay",)

    def init(self, params, o):
        return {"step": 0}

    def update(self, updates, params, state, h, o):
        t = state["step"] + 1
        on = (sp.Piecewise((1, sp.Eq(sp.Mod(t, PERIOD), 0)), (0, True)) if o is ops.SYMBOLIC
              else float(t % PERIOD == 0))
        return updates + on * h["weight_decay"] * params, {"step": t}


PERIODIC = OptimizerSpec(name="periodic_decay_toy", summary="test only", reference="tests/test_schedules.py",
                         chain=(PeriodicDecay(), tf.torch_momentum, tf.scale_by_learning_rate),
                         hyperparameters=(hp.LR, hp.MOMENTUM, hp.DAMPENING, hp.WEIGHT_DECAY),
                         ).with_hparams(lr=0.1, momentum=0.9, dampening=0, weight_decay=0.05)


def test_a_periodic_chain_gets_its_transition_per_step_index():
    on = sp.Matrix([[sp.Rational(199, 200), -sp.Rational(9, 100)], [sp.Rational(1, 20), sp.Rational(9, 10)]])
    off = sp.Matrix([[1, -sp.Rational(9, 100)], [0, sp.Rational(9, 10)]])
    first = sp.Matrix([[1, 0], [0, 0]])  # step 1: no decay, b_1 = d_0 = 0
    assert list(transitions(PERIODIC, 7)) == [first, off, on, off, off, on, off]
    # an optimizer that already took 1 step: its next steps are the 2nd, 3rd, 4th
    assert list(transitions(PERIODIC, 3, buffers_initialised=True, start=1)) == [off, on, off]


def test_a_periodic_chain_is_predicted_exactly_as_its_own_numerical_step_runs():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(5, 4))
    state = PERIODIC.init_state(weights)
    rows = [weights.sum(0)]
    for _ in range(20):
        grad = rng.normal(size=(5, 4))
        grad -= grad.mean(0)  # row sums of a shift-invariant loss's gradient vanish (Lemma 1)
        weights, state = PERIODIC.step(weights, grad, state)
        rows.append(weights.sum(0))
    rows = np.array(rows)
    # 20 float64 steps of 2x2 matrices: rounding <= 20 * 4 * 2^-53 relative
    assert _rel_error(PERIODIC.predict(rows[0], 20), rows) < 20 * 4 * 2.0 ** -53
    exact = iterate_exact(PERIODIC, sp.Integer(1), 20)
    assert np.max(np.abs(np.array([float(v) for v in exact]) - PERIODIC.predict([1.0], 20)[:, 0])) < 20 * 4 * 2.0 ** -53
