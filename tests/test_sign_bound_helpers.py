"""The engine's float helpers for decoupled sign descent evaluate the bounds proofs/test_sign_bounds.py proves.

Moved out of ``proofs/`` (issue 6, item 8): a proof module does not import the engine helpers
whose claims it proves. Here the helpers are the objects under test, and the expected values
are the proved formulas, written out:

* box bound ``(1 - a)^t |W_0| + (1 - (1 - a)^t)/lambda``, limit ``max(|W_0|, 1/lambda)``;
* parity floor ``sqrt(d)/lambda`` for odd K, none (0) for even K.
"""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nctheory.theory.symbolic.signbased import box_bound, parity_lower_bound

step_sizes = st.sampled_from([Fraction(1, 10), Fraction(1, 4), Fraction(1, 2), Fraction(1)])
decays = st.sampled_from([Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4)])


@settings(max_examples=40)
@given(w0=st.fractions(0, 50, max_denominator=8), lr=step_sizes, wd=decays, steps=st.integers(0, 60))
def test_the_engine_box_bound_function_evaluates_the_proved_bound(w0, lr, wd, steps):
    if lr * wd > 1:
        wd = 1 / lr
    decay = (1 - lr * wd) ** steps
    exact = decay * w0 + (1 - decay) / wd  # exact rationals
    assert box_bound(float(w0), float(lr), float(wd), steps) == pytest.approx(float(exact), rel=1e-12, abs=1e-12)
    assert box_bound(float(w0), float(lr), float(wd)) == max(float(w0), 1 / float(wd))


def test_the_engine_box_bound_refuses_a_outside_0_1():
    with pytest.raises(ValueError):
        box_bound(1.0, 1.0, 2.0)


def test_the_engine_parity_floor_is_sqrt_d_over_lambda_for_odd_K_only():
    assert parity_lower_bound(16, 5, 0.05) == pytest.approx(4 / 0.05, rel=1e-15)
    assert parity_lower_bound(16, 4, 0.05) == 0.0
    with pytest.raises(ValueError):
        parity_lower_bound(16, 5, 0.0)
