"""The public API of specs: names, construction, validation, defaults."""

import math

import pytest
import sympy as sp

import nctheory
from nctheory.errors import (HyperparameterError, MissingHyperparameterError, NCTheoryError,
                             UnknownOptimizerError)

EXPECTED_NAMES = ["adagrad", "adam", "adamw", "lion", "muon", "muon_coupled", "nadam", "qhm", "rmsprop",
                  "rmsprop_centered", "sgd", "sgd_momentum", "sgd_nesterov", "sgdw_momentum", "shampoo", "signgd",
                  "signgd_decoupled", "soap"]


def test_names_lists_every_registered_optimizer_in_order():  # discovered modules, alphabetical
    assert nctheory.names() == EXPECTED_NAMES


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownOptimizerError) as err:
        nctheory.optimizer("sgd_momentun")
    message = str(err.value)
    assert "sgd_momentun" in message and all(n in message for n in EXPECTED_NAMES)


@pytest.mark.parametrize("name, kwargs, argument, allowed", [
    ("sgd", {"lr": -0.1}, "lr", "[0, inf)"),  # lr = 0 is allowed (issue 8: schedules pass through it)
    ("sgd", {"lr": float("nan")}, "lr", "[0, inf)"),
    ("sgd_momentum", {"momentum": 1.0}, "momentum", "(0, 1)"),
    ("sgd_momentum", {"momentum": 0.0}, "momentum", "(0, 1)"),
    ("sgd_momentum", {"dampening": 1.5}, "dampening", "[0, 1]"),
    ("sgd_momentum", {"dampening": -0.1}, "dampening", "[0, 1]"),
    ("sgd", {"weight_decay": -1e-3}, "weight_decay", "[0, inf)"),
    ("adam", {"betas": (0.9, 1.0)}, "beta2", "[0, 1)"),
    ("adam", {"eps": -1.0}, "eps", "[0, inf)"),
    ("qhm", {"nu": 1.2}, "nu", "[0, 1]"),
])
def test_out_of_range_hyperparameters_name_argument_and_range(name, kwargs, argument, allowed):
    with pytest.raises(HyperparameterError) as err:
        nctheory.optimizer(name, **kwargs)
    assert argument in str(err.value) and allowed in str(err.value)


def test_lr_zero_is_a_valid_step():
    """A warm-up from 0, cosine annealing to 0, a finished schedule: lr = 0 leaves s unchanged and
    lets the buffers evolve -- A(eta = 0) is a valid transition (before: refused)."""
    import sympy as sp

    spec = nctheory.optimizer("sgd_momentum", lr=0.0, momentum=0.9, weight_decay=5e-3)
    assert spec.recurrence() == sp.Matrix([[1, 0], [sp.Rational(1, 200), sp.Rational(9, 10)]])
    assert spec.rate() == 1.0


def test_nesterov_with_dampening_is_refused_as_torch_does():
    with pytest.raises(HyperparameterError, match="dampening must be 0 with Nesterov"):
        nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.9, dampening=0.1)


def test_unknown_and_non_numeric_hyperparameters_are_refused():
    with pytest.raises(HyperparameterError, match="unknown hyperparameter.*nesterov"):
        nctheory.optimizer("sgd_momentum", nesterov=True)
    with pytest.raises(HyperparameterError, match="lr must be a real number"):
        nctheory.optimizer("sgd", lr="0.1")
    with pytest.raises(HyperparameterError, match="betas must be a pair"):
        nctheory.optimizer("adam", betas=0.9)


def test_values_are_exact_rationals_of_what_the_user_wrote():
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    assert spec.values["lr"] == sp.Rational(1, 10)
    assert spec.values["weight_decay"] == sp.Rational(1, 200)


def test_torch_defaults_are_filled_and_lr_momentum_stay_symbolic():
    spec = nctheory.optimizer("sgd_momentum")
    assert spec.values == {"dampening": 0, "weight_decay": 0}
    assert spec.recurrence().free_symbols == {sp.Symbol("eta", positive=True), sp.Symbol("mu", nonnegative=True)}
    assert nctheory.optimizer("lion").values["beta2"] == sp.Rational(99, 100)
    assert nctheory.optimizer("adam", betas=(0.8, 0.9)).values["beta1"] == sp.Rational(4, 5)


def test_numerical_answers_need_values_and_say_which():
    with pytest.raises(MissingHyperparameterError, match="lr"):
        nctheory.optimizer("sgd", weight_decay=1e-3).rate()


def test_every_error_is_a_value_error_for_the_command_line():
    for error in (UnknownOptimizerError, HyperparameterError, MissingHyperparameterError):
        assert issubclass(error, NCTheoryError) and issubclass(error, ValueError)


def test_repr_round_trips():
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    again = eval(repr(spec), {"nctheory": nctheory})
    assert again.values == spec.values and math.isclose(again.rate(), spec.rate())


def test_example_values_are_valid_for_every_spec():
    for name in nctheory.names():
        spec = nctheory.get_spec(name)
        bound = spec.with_hparams(**spec.example_values())
        assert set(bound.values) == set(spec.hyperparameter_names)


def test_exact_fractions_are_kept_exactly():
    from fractions import Fraction

    spec = nctheory.optimizer("sgd_momentum", lr=Fraction(1, 3), momentum=sp.Rational(9, 11), weight_decay=1)
    assert spec.values["lr"] == sp.Rational(1, 3) and spec.values["momentum"] == sp.Rational(9, 11)
    with pytest.raises(HyperparameterError, match="momentum"):
        nctheory.optimizer("sgd_momentum", momentum=Fraction(11, 9))


def test_optimal_momentum_without_decay_says_why_there_is_none():
    # torch's default weight_decay is 0: the row sums are then conserved for every momentum
    for name in ("sgd_momentum", "sgd_nesterov"):
        with pytest.raises(NCTheoryError, match="weight_decay = 0.*every momentum gives rate 1"):
            nctheory.optimizer(name, lr=0.1).optimal_momentum()
    assert nctheory.optimizer("sgd_momentum", lr=0.1, weight_decay=0.05).optimal_momentum().beats_sgd


def test_every_public_spec_member_states_what_it_computes():
    """Issue 8: optimal_momentum, closed_form, latex, stability_conditions, ... had no docstring."""
    import inspect

    from nctheory.theory.spec import OptimizerSpec

    missing = []
    for name, member in inspect.getmembers(OptimizerSpec):
        if name.startswith("_"):
            continue
        target = member.fget if isinstance(member, property) else member
        if callable(target) and not (inspect.getdoc(target) or "").strip():
            missing.append(name)
    assert not missing, missing
