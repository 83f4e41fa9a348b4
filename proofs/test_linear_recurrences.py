"""Exact, data-independent NC0 dynamics of the linear optimizers (THEORY.md section 3).

Statement (one per spec: sgd, sgd_momentum, sgd_nesterov, sgdw_momentum, qhm). Under
Lemma 1 the row-sum state x = (s, u) -- s = W^T 1_K, u the buffer's row sums -- follows
x_{t+1} = A x_t with THEORY.md's recurrence and characteristic polynomial (torch's
first-step rule b_1 = d_0 included); s_t -> 0 exactly on the Schur-Cohn region (heavy
ball: 0 <= mu < 1 and 0 < eta(1-tau)lambda < 2(1+mu)); momentum beats SGD's rate 1 - a
exactly on the acceleration region (heavy ball, tau = 0: 0 < mu < (1-a)^2; Nesterov:
0 < mu < 1-a; SGDW: never; QHM, derived here: 0 < nu and 0 < mu < (1-a)^2/(1-a(1-nu)));
s_t = c_1 r_1^t + c_2 r_2^t; the reference rates are as listed.

Hypotheses. A shift-invariant loss (Lemma 1); torch.optim semantics; a = eta*lambda;
declared ranges mu in (0, 1), tau, nu in [0, 1], lambda >= 0, eta > 0; for acceleration
0 < a < 1.

Proof. The claims are typed in nctheory.theorems.linear_recurrences.CLAIMS from
THEORY.md; each step below compares them with what the engine derives from the spec,
by exact simplification (expand / cancel / reduction modulo the square root's minimal
polynomial). Regions are compared through the Jury form of the Schur-Cohn conditions
(Jury 1964) and exact positivity certificates. Hypothesis properties then compare the
symbolic results with the spec's own step iterated in exact rationals, and with mpmath
eigenvalues at 50 digits. (Polyak 1964; Lessard, Recht & Packard 2016; Zhao et al.,
arXiv:2602.16642.)
"""

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import hyperparameter_strategies as hs
from nctheory.optimizers import get_spec, optimizer
from nctheory.theory.symbolic.analysis import iterate_exact
from nctheory.theory.symbolic.rowsum import STEP, X
from nctheory.theorems.algebra import A_, is_zero_with_square_root, jury_decides, region_steps, with_a
from nctheory.theorems.exact import centre_columns, iterate_recurrence, rational_array, run_spec_exactly
from nctheory.theorems.linear_recurrences import CLAIMS, basis_coefficients, engine_closed_form

LINEAR = list(CLAIMS)
eta, lam = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True)
mu, tau = sp.Symbol("mu", nonnegative=True), sp.Symbol("tau", nonnegative=True)
S0 = sp.Symbol("s_0")


def substitution(spec, hp):
    symbols = spec.symbols()
    out = {symbols[name]: sp.Rational(value) for name, value in hp.items()}
    out[A_] = out[symbols["lr"]] * out[symbols["weight_decay"]]
    return out


def mp_spectral_radius(matrix: sp.Matrix) -> sp.Float:
    """Largest |eigenvalue| of an exact rational matrix, by mpmath at 50 digits (as a 50-digit Float)."""
    with mp.workdps(50):
        entries = [[mp.mpf(sp.Rational(e).p) / sp.Rational(e).q for e in matrix.row(i)] for i in range(matrix.rows)]
        eigenvalues = mp.eig(mp.matrix(entries), left=False, right=False)
        if isinstance(eigenvalues, tuple):  # mpmath returns (E, ER, EL) for 1 x 1 matrices regardless
            eigenvalues = eigenvalues[0]
        return sp.Float(max(abs(v) for v in eigenvalues), 50)


TINY = sp.Rational(1, 10 ** 30)  # away-from-the-boundary margin for 50-digit comparisons


# ----------------------------------------------------------------- the recurrence itself
@pytest.mark.parametrize("name", LINEAR)
def test_step0_the_update_is_linear_so_the_row_sum_map_commutes_with_it(name):
    assert get_spec(name).is_linear


@pytest.mark.parametrize("name", LINEAR)
def test_step1_engine_transition_matrix_equals_the_claimed_recurrence(name):
    assert sp.expand(get_spec(name).recurrence() - CLAIMS[name].matrix()) == sp.zeros(*CLAIMS[name].matrix().shape)


@pytest.mark.parametrize("name", LINEAR)
def test_step2_first_step_from_a_fresh_optimizer_follows_torch_buffer_rule(name):
    first = get_spec(name).row_sum_dynamics().first_matrix
    assert sp.expand(first - CLAIMS[name].first_matrix()) == sp.zeros(*first.shape)


@pytest.mark.parametrize("name", LINEAR)
def test_step3_characteristic_polynomial_equals_theory_md(name):
    assert sp.expand(get_spec(name).charpoly(X) - CLAIMS[name].charpoly) == 0


@pytest.mark.parametrize("name", LINEAR)
def test_step4_theory_polynomial_is_the_characteristic_polynomial_of_its_own_recurrence(name):
    assert sp.expand(CLAIMS[name].matrix().charpoly(X).as_expr() - CLAIMS[name].charpoly) == 0


@pytest.mark.parametrize("name", [n for n in LINEAR if CLAIMS[n].contrast])
def test_negative_control_the_opposite_momentum_or_decay_placement_does_not_simplify_to_the_claim(name):
    contrast = get_spec(CLAIMS[name].contrast)
    assert sp.expand(contrast.charpoly(X) - CLAIMS[name].charpoly) != 0
    assert sp.expand(contrast.recurrence() - CLAIMS[name].matrix()) != sp.zeros(2, 2)


def test_negative_control_coupled_and_decoupled_heavy_ball_differ_exactly_by_the_decay_in_the_buffer():
    coupled, decoupled = get_spec("sgd_momentum").recurrence(), get_spec("sgdw_momentum").recurrence()
    assert sp.expand(coupled - decoupled) != sp.zeros(2, 2)
    assert sp.expand(coupled.subs(lam, 0) - decoupled.subs(lam, 0)) == sp.zeros(2, 2)


# ----------------------------------------------------------------- stability (Schur-Cohn)
def test_step5_heavy_ball_schur_cohn_conditions_are_theory_region_exactly():
    """(1-mu)(1+mu) > 0 and (1-mu)^2 c (2(1+mu) - c) > 0 with c = eta(1-tau)lambda.

    With mu >= 0 the first is mu < 1; then (1-mu)^2 > 0 and c (2(1+mu) - c) > 0 iff
    0 < c < 2(1+mu), because both factors cannot be negative (their sum 2(1+mu) > 0).
    """
    first, second = get_spec("sgd_momentum").stability_conditions().inequalities
    c = eta * (1 - tau) * lam
    assert sp.expand(first - (1 - mu) * (1 + mu)) == 0
    assert sp.expand(second - (1 - mu) ** 2 * c * (2 * (1 + mu) - c)) == 0


@pytest.mark.parametrize("name", LINEAR)
def test_step5_stability_region_equals_the_claimed_region(name):
    region = CLAIMS[name].stability
    spec = get_spec(name).with_hparams(**region.values)
    steps = list(region_steps("stability", spec.stability_conditions().inequalities, spec.charpoly(X), X, 1, region))
    assert [s.description for s in steps if not s.holds] == []


# ----------------------------------------------------------------- acceleration
def test_step6_heavy_ball_and_nesterov_acceleration_factors_in_theory_form():
    """Jury at radius r = 1 - a: p(r) = a mu (heavy ball), a (1-a) mu (Nesterov); r^2 - c as claimed."""
    r = 1 - A_
    heavy = with_a(CLAIMS["sgd_momentum"].charpoly.subs(tau, 0))
    nesterov = with_a(CLAIMS["sgd_nesterov"].charpoly.subs(tau, 0))
    heavy_a = sp.expand(heavy.subs(lam, A_ / eta))
    nesterov_a = sp.expand(nesterov.subs(lam, A_ / eta))
    assert sp.expand(heavy_a.subs(X, r) - A_ * mu) == 0
    assert sp.expand(nesterov_a.subs(X, r) - A_ * (1 - A_) * mu) == 0
    assert sp.expand(r ** 2 - heavy_a.subs(X, 0) - ((1 - A_) ** 2 - mu)) == 0
    assert sp.expand(r ** 2 - nesterov_a.subs(X, 0) - (1 - A_) * (1 - A_ - mu)) == 0


@pytest.mark.parametrize("name, index", [(n, i) for n in LINEAR for i in range(len(CLAIMS[n].accelerations))])
def test_step6_acceleration_region_equals_the_claimed_region(name, index):
    region = CLAIMS[name].accelerations[index]
    spec = get_spec(name).with_hparams(**region.values)
    steps = list(region_steps("acceleration", spec.acceleration_conditions().inequalities, spec.charpoly(X), X,
                              1 - eta * lam, region))
    assert [s.description for s in steps if not s.holds] == []


# ----------------------------------------------------------------- closed form
@pytest.mark.parametrize("name", LINEAR)
def test_step7_closed_form_has_the_claimed_shape_and_matches_three_iterates(name):
    closed, claim = engine_closed_form(name), CLAIMS[name]
    assert closed.valid_from == 0
    for root in closed.roots:
        assert sp.expand(claim.charpoly.subs(X, root)) == 0
    if claim.closed_form is not None:
        assert sp.expand(closed.expression - claim.closed_form) == 0
        return
    assert set(closed.roots.values()) == {1} and basis_coefficients(closed.expression, list(closed.roots))
    iterates = iterate_exact(get_spec(name), S0, 2)
    for k in range(3):
        assert is_zero_with_square_root(closed.expression.subs(STEP, k) - iterates[k])


def test_negative_control_the_square_root_zero_test_detects_a_wrong_iterate():
    closed = engine_closed_form("sgd_momentum")
    iterates = iterate_exact(get_spec("sgd_momentum"), S0, 2)
    assert not is_zero_with_square_root(closed.expression.subs(STEP, 2) - iterates[2] - eta * S0 / 7)


@pytest.mark.parametrize("name, lr, wd, m", [("sgd_momentum", 0.25, 0.25, 0.5625), ("sgd_nesterov", 0.25, 0.25, 0.6)])
def test_step7_double_root_closed_form_at_the_optimal_momentum_is_exact_up_to_t_30(name, lr, wd, m):
    """a = 1/16, sqrt(a) = 1/4: mu* = 9/16 (heavy ball), 3/5 (Nesterov); double root 3/4."""
    spec = optimizer(name, lr=lr, weight_decay=wd, momentum=m)
    closed = spec.closed_form()
    assert closed.roots == {sp.Rational(3, 4): 2}
    iterates = iterate_exact(spec, S0, 30)
    assert all(sp.expand(closed.expression.subs(STEP, k) - iterates[k]) == 0 for k in range(closed.valid_from, 31))


# ----------------------------------------------------------------- reference rates
REFERENCES = [(name, values, rate) for name in LINEAR for values, rate in CLAIMS[name].references]


@pytest.mark.parametrize("name, values, rate", REFERENCES)
def test_step8_reference_rates_to_1e_8(name, values, rate):
    """Decided exactly: all roots inside |x| < rate + 1e-8, not all inside |x| < rate - 1e-8."""
    spec = optimizer(name, **values)
    poly, delta = spec.charpoly(X), sp.Rational(1, 10 ** 8)
    assert jury_decides(poly, X, sp.Rational(rate) + delta)
    assert not jury_decides(poly, X, sp.Rational(rate) - delta)
    assert abs(spec.rate() - float(rate)) <= 1e-8


# ----------------------------------------------------------------- hypothesis properties
def _centred_gradients(raw, K, d):
    return [centre_columns(rational_array([row[:d] for row in g[:K]])) for g in raw]


@settings(max_examples=20)
@given(name=st.sampled_from(LINEAR), data=st.data(), K=st.integers(2, 4), d=st.integers(1, 2),
       W=hs.rational_matrices(4, 2), raw=st.lists(hs.rational_matrices(4, 2), min_size=5, max_size=5))
def test_property_the_spec_step_moves_row_sums_exactly_as_the_recurrence_says(name, data, K, d, W, raw):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec, torch_rules=False))
    weights = rational_array([row[:d] for row in W[:K]])
    measured = run_spec_exactly(spec, weights, _centred_gradients(raw, K, d), hp)
    claim = CLAIMS[name]
    assert measured == iterate_recurrence(spec, measured[0], 5, hp, matrices=(claim.first_matrix(), claim.matrix()))
    assert measured == iterate_recurrence(spec, measured[0], 5, hp)


def test_negative_control_gradients_with_nonzero_row_sums_break_the_recurrence():
    spec = get_spec("sgd_momentum")
    hp = {"lr": sp.Rational(1, 10), "weight_decay": sp.Rational(1, 20), "momentum": sp.Rational(9, 10),
          "dampening": 0}
    weights = rational_array([[1, 2], [3, 4], [5, 7]])
    grads = [rational_array([[1, 0], [0, 1], [1, 1]])] * 3
    measured = run_spec_exactly(spec, weights, grads, hp)
    assert measured != iterate_recurrence(spec, measured[0], 3, hp)


@settings(max_examples=25)
@given(name=st.sampled_from(LINEAR), data=st.data())
def test_property_rate_from_the_charpoly_equals_mpmath_spectral_radius_of_the_matrix(name, data):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec, wd_strategy=hs.positive_weight_decay))
    bound = optimizer(name, **hs.as_floats(hp))
    matrix = CLAIMS[name].matrix().subs(substitution(spec, hp))
    assert abs(bound.rate() - mp_spectral_radius(matrix)) <= sp.Rational(1, 10 ** 12)


@settings(max_examples=60)
@given(name=st.sampled_from(LINEAR), data=st.data())
def test_property_schur_cohn_verdict_equals_spectral_radius_below_one(name, data):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec, lr_strategy=hs.large_lr, wd_strategy=hs.large_weight_decay))
    rho = mp_spectral_radius(CLAIMS[name].matrix().subs(substitution(spec, hp)))
    assume(abs(rho - 1) > TINY)
    verdict = optimizer(name, **hs.as_floats(hp)).stability_conditions().evaluate()
    claimed = all(c.subs(substitution(spec, hp)) > 0 for c in CLAIMS[name].stability.conditions)
    event(f"stable: {verdict}")
    assert verdict == claimed == bool(rho < 1)


@settings(max_examples=60)
@given(name=st.sampled_from(LINEAR), data=st.data())
def test_property_acceleration_region_equals_rate_below_one_minus_a(name, data):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec, wd_strategy=hs.positive_weight_decay, torch_rules=False))
    assume(hp["lr"] * hp["weight_decay"] < 1)
    for region in CLAIMS[name].accelerations:
        values = {**hp, **{k: sp.Rational(v) for k, v in region.values.items()}}
        if name == "sgd_nesterov":
            values["dampening"] = sp.Integer(0)
        sub = substitution(spec, values)
        rho = mp_spectral_radius(CLAIMS[name].matrix().subs(sub))
        baseline = 1 - sub[A_]
        verdict = optimizer(name, **hs.as_floats(values)).acceleration_conditions().evaluate()
        if region.never:
            event("accelerates: never (claimed)")
            assert verdict is False and rho >= baseline - TINY
            continue
        if abs(rho - baseline) < TINY:
            continue  # on the boundary the strict comparison is decided by the exact tests above
        claimed = all(c.subs(sub) > 0 for c in region.conditions)
        event(f"accelerates: {verdict}")
        assert verdict == claimed == bool(rho < baseline)


@settings(max_examples=6)
@given(name=st.sampled_from(LINEAR), data=st.data())
def test_property_closed_form_equals_the_iterated_recurrence_up_to_t_30(name, data):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec, wd_strategy=hs.positive_weight_decay))
    bound = optimizer(name, **hs.as_floats(hp))
    closed = bound.closed_form(s0=1)
    iterates = iterate_exact(bound, 1, 30)
    for k in range(closed.valid_from, 31):
        value = sp.N(closed.expression.subs(STEP, k), 60)
        assert abs(complex(sp.N(value - iterates[k], 60))) <= 1e-40 * max(1, abs(float(iterates[k])))


@settings(max_examples=15)
@given(name=st.sampled_from(LINEAR), data=st.data(), W=hs.rational_matrices(3, 2),
       raw=st.lists(hs.rational_matrices(3, 2), min_size=1, max_size=8))
def test_property_schedule_product_equals_the_spec_stepped_with_that_schedule(name, data, W, raw):
    spec = get_spec(name)
    hp = data.draw(hs.hyperparameters(spec))
    lrs = data.draw(st.lists(hs.lr, min_size=len(raw), max_size=len(raw)))
    others = {k: v for k, v in hs.as_floats(hp).items() if k != "lr"}
    product = optimizer(name, **others).transition_product(lrs)
    measured = run_spec_exactly(spec, rational_array(W), _centred_gradients(raw, 3, 2), hp, lrs=lrs)
    assert [product * x for x in measured[0]] == measured[-1]
