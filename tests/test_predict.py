"""Numerical prediction agrees with exact iteration; its inputs are validated."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import nctheory
from nctheory.errors import NCTheoryError
from nctheory.theory.symbolic.analysis import iterate_exact


@pytest.mark.parametrize("name, extra", [("sgd", {}), ("sgd_momentum", {"momentum": 0.9, "dampening": 0.3}),
                                         ("sgd_nesterov", {"momentum": 0.9}), ("sgdw_momentum", {"momentum": 0.8}),
                                         ("qhm", {"momentum": 0.9, "nu": 0.7})])
def test_float64_prediction_matches_exact_iteration(name, extra):
    spec = nctheory.optimizer(name, lr=0.1, weight_decay=0.05, **extra)
    lrs = [0.1, 0.1, 0.05, 0.05, 0.02] * 8
    exact = iterate_exact(spec.without("lr"), sp.Integer(1), len(lrs), lrs=[sp.Rational(str(x)) for x in lrs])
    predicted = spec.predict([1.0], len(lrs), lr_schedule=lrs)[:, 0]
    # float64 error of a 40-step product of 2x2 matrices: <= 40 * 4 * 2^-53 relative.
    assert np.max(np.abs(predicted - np.array([float(v) for v in exact]))) < 40 * 4 * 2.0 ** -53


def test_shape_and_first_row():
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    s0 = np.arange(5.0)
    out = spec.predict(s0, 7)
    assert out.shape == (8, 5) and np.array_equal(out[0], s0)


def test_callable_schedule_equals_sequence():
    spec = nctheory.optimizer("sgd_nesterov", lr=0.1, momentum=0.9, weight_decay=5e-3)
    schedule = [0.1 * 0.9 ** t for t in range(20)]
    a = spec.predict([1.0, -2.0], 20, lr_schedule=schedule)
    b = spec.predict([1.0, -2.0], 20, lr_schedule=lambda t: 0.1 * 0.9 ** t)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps must be a positive integer"),
    (dict(steps=2.5), "steps must be a positive integer"),
    (dict(steps=5, lr_schedule=[0.1, 0.1]), "lr_schedule has 2 values"),
    (dict(steps=2, lr_schedule=[0.1, -0.1]), "lr_schedule must hold finite"),
])
def test_bad_arguments(kwargs, match):
    spec = nctheory.optimizer("sgd_momentum", lr=0.1, momentum=0.9, weight_decay=5e-3)
    with pytest.raises(NCTheoryError, match=match):
        spec.predict([1.0], **kwargs)


def test_nan_initial_row_sums_are_refused():
    spec = nctheory.optimizer("sgd", lr=0.1, weight_decay=5e-3)
    with pytest.raises(NCTheoryError, match="NaN"):
        spec.predict([np.nan], 3)


def test_sgd_without_decay_keeps_row_sums_forever():
    out = nctheory.optimizer("sgd", lr=0.3).predict([Fraction(3, 7)], 50)
    assert np.all(out == float(Fraction(3, 7)))
