"""The symbolic engine derives row-sum recurrences from specs, and refuses where it must."""

import pytest
import sympy as sp

import nctheory
from nctheory.errors import LossNotShiftInvariantError, NoLinearRecurrenceError
from nctheory.theory.hyperparams import SYMBOLS

eta, lam, mu, tau, nu = (SYMBOLS[n] for n in ("lr", "weight_decay", "momentum", "dampening", "nu"))
LINEAR = ["sgd", "sgd_momentum", "sgd_nesterov", "sgdw_momentum", "qhm"]
NONLINEAR = ["signgd", "signgd_decoupled", "adam", "adamw", "lion"]


@pytest.mark.parametrize("name", LINEAR)
def test_linear_specs_have_a_recurrence(name):
    assert nctheory.get_spec(name).is_linear


@pytest.mark.parametrize("name, culprit", [("signgd", "sign"), ("signgd_decoupled", "sign"),
                                           ("lion", "sign"), ("adam", "division"), ("adamw", "division")])
def test_nonlinear_specs_are_refused_with_the_reason(name, culprit):
    spec = nctheory.get_spec(name)
    assert not spec.is_linear
    with pytest.raises(NoLinearRecurrenceError) as err:
        spec.recurrence()
    assert culprit in str(err.value) and name in str(err.value)
    assert spec.nonlinear_theory(), "section 4 statements must be attached"


def test_heavy_ball_matrix_is_derived_not_typed():
    A = nctheory.get_spec("sgd_momentum").recurrence()
    expected = sp.Matrix([[1 - eta * (1 - tau) * lam, -eta * mu], [(1 - tau) * lam, mu]])
    assert (A - expected).applyfunc(sp.expand) == sp.zeros(2, 2)


def test_first_step_follows_torch_buffer_creation():
    dyn = nctheory.get_spec("sgd_momentum").row_sum_dynamics()
    # b_1 = d_0 = lambda s_0 (no dampening), s_1 = (1 - eta lambda) s_0; the old buffer is ignored.
    assert (dyn.first_matrix - sp.Matrix([[1 - eta * lam, 0], [lam, 0]])).applyfunc(sp.expand) == sp.zeros(2, 2)


def test_qhm_buffer_starts_at_zero_so_first_step_is_regular():
    dyn = nctheory.get_spec("qhm").row_sum_dynamics()
    assert dyn.first_matrix[:, 0] == dyn.matrix[:, 0]
    assert dyn.first_matrix[:, 1] == sp.zeros(2, 1)


def test_moving_the_decay_changes_the_recurrence():
    coupled = nctheory.get_spec("sgd_momentum").with_hparams(dampening=0).charpoly()
    decoupled = nctheory.get_spec("sgdw_momentum").with_hparams(dampening=0).charpoly()
    assert sp.expand(coupled - decoupled) != 0


@pytest.mark.parametrize("loss", ["mse", "sigmoid_ovr"])
def test_non_shift_invariant_losses_are_refused(loss):
    with pytest.raises(LossNotShiftInvariantError, match="not identically 0"):
        nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9).recurrence(loss=loss)


@pytest.mark.parametrize("loss", ["cross_entropy", "label_smoothing", "focal", "crammer_singer"])
def test_shift_invariant_losses_are_accepted(loss):
    assert nctheory.get_spec("sgd").recurrence(loss=loss).shape == (1, 1)


def test_a_new_spec_needs_only_its_chain():
    """Adding an optimizer is one spec: the engine derives its recurrence unaided."""
    from nctheory.theory import hyperparams as hp
    from nctheory.theory import transforms as tf
    from nctheory.theory.spec import OptimizerSpec

    # Decay applied twice, coupled and decoupled: s' = (1 - 2 eta lambda) s.
    spec = OptimizerSpec(name="double_decay", summary="test", reference="test",
                         chain=(tf.add_decayed_weights, tf.add_decayed_weights, tf.scale_by_learning_rate),
                         hyperparameters=(hp.LR, hp.WEIGHT_DECAY))
    assert sp.expand(spec.recurrence()[0, 0] - (1 - 2 * eta * lam)) == 0
    assert spec.with_hparams(lr=0.1, weight_decay=0.5).rate() == 0.9


def test_sgdw_never_excites_the_momentum_mode():
    """Spectral radius max(1 - a, mu), but a fresh run decays exactly as (1 - a)^t."""
    spec = nctheory.optimizer("sgdw_momentum", lr=0.1, momentum=0.9999, weight_decay=5e-3)
    assert spec.rate() == pytest.approx(0.9999, abs=1e-15)
    modes = spec.row_sum_dynamics().excited_modes()
    assert modes.rate == pytest.approx(0.9995, abs=1e-15)
    assert sp.expand(modes.unexcited - (sp.Symbol("x") - sp.Rational(9999, 10000))) == 0
    heavy_ball = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    assert heavy_ball.row_sum_dynamics().excited_modes().unexcited == 1
