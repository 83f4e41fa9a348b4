"""Optimal momentum for the NC0 row sums: heavy ball, Nesterov and QHM.

Statement. For 0 < a = eta*lambda < 1 and dampening 0, over mu in [0, 1) the spectral
radius of the row-sum recurrence is minimised exactly at
    heavy ball:  mu* = (1 - sqrt a)^2           (Polyak 1964)
    Nesterov:    mu* = (1 - sqrt a)/(1 + sqrt a) (Lessard, Recht & Packard 2016)
with rate rho* = 1 - sqrt a < 1 - a (SGD); and, for QHM with 0 < nu <= 1 (derived here),
with r = 1 - a (1 - nu):
    QHM:         mu* = (sqrt r - a sqrt nu)^2 / (1 + a nu)^2,
                 rho* = (r - a sqrt(nu r)) / (1 + a nu) < 1 - a.
In n = sqrt(nu), R = sqrt(r) (0 < n < R < 1 exactly when 0 < a < 1, 0 < nu < 1):
mu* = ((R - n)/(1 - R n))^2 and rho* = R (R - n)/(1 - R n), both rational.

Hypotheses. 0 < a < 1, tau = 0, a shift-invariant loss (Lemma 1).

Proof (p(x; mu) = x^2 + b(mu) x + c(mu), affine in mu, THEORY.md's polynomial typed here;
every quantity rational after a change of variables that covers the hypotheses exactly:
a = alpha^2 with alpha = Z/(1 + Z); for QHM nu = n^2, a = (1 - R^2)/(1 - n^2) with
n = Z1/(1 + Z1), R = n + (1 - n) Z2/(1 + Z2); at nu = 1, a = A/(1 + A)).
0. The parametrisation stays inside the hypotheses (certified).
1. The discriminant vanishes at mu*, where the double root -b/2 equals rho*.
2. p(rho*; mu) = kappa (mu - mu*) with kappa > 0: for mu < mu* a real root exceeds rho*.
3. c(mu*) = rho*^2 and c increases with mu: for mu > mu* complex roots have modulus
   sqrt(c(mu)) > rho*.
4. -b increases with mu: for mu > mu*, real roots (on one side of rho*, since p(rho*) > 0)
   have mean -b/2 > rho*, so both exceed it.
5. mu* lies in [0, 1) and rho* < 1 - a.
Hypothesis then checks rate(mu*) <= rate(mu) exactly (Jury conditions in rationals, with
alpha rational so that everything is rational) and against mpmath at 50 digits.

Independence. Polynomials, claims, changes of variables and positivity certificates are
written here (exact_tools.py); the engine is the object of the (b) checks only: its
characteristic polynomial, its optimal_momentum() and its float rate() are compared with
them. The theorem objects are run for their own proofs and their refutation of wrong claims.
"""

from functools import cache

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from exact_tools import certified_positive, roots_inside
from nctheory.optimizers import get_spec, optimizer
from nctheory.theorems.optimal_momentum import HEAVY_BALL, NESTEROV, QHM, OptimalMomentumTheorem

x = sp.Symbol("x")
eta, lam = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True)
mu, nu = sp.Symbol("mu", nonnegative=True), sp.Symbol("nu", nonnegative=True)
a = sp.Symbol("a", nonnegative=True)  # a = eta * lambda
alpha = sp.Symbol("alpha", positive=True)  # alpha = sqrt(a)
n, R = sp.symbols("n R", positive=True)  # QHM: n = sqrt(nu), R = sqrt(1 - a (1 - nu))
Z, Z1, Z2, A = sp.symbols("Z Z1 Z2 A", positive=True)

#: THEORY.md section 3 at tau = 0, in a = eta lambda.
THEORY_CHARPOLY = {
    "sgd_momentum": x ** 2 - (1 + mu - a) * x + mu,
    "sgd_nesterov": x ** 2 - (1 + mu - a * (1 + mu)) * x + mu * (1 - a),
    "qhm": x ** 2 - (1 + mu - a * (1 - mu * nu)) * x + mu * (1 - a * (1 - nu)),
}
#: The claims, in a and nu (THEORY.md section 3; QHM derived here).
_r = 1 - a * (1 - nu)
CLAIMED = {
    "sgd_momentum": ((1 - sp.sqrt(a)) ** 2, 1 - sp.sqrt(a)),
    "sgd_nesterov": ((1 - sp.sqrt(a)) / (1 + sp.sqrt(a)), 1 - sp.sqrt(a)),
    "qhm": ((sp.sqrt(_r) - a * sp.sqrt(nu)) ** 2 / (1 + a * nu) ** 2, (_r - a * sp.sqrt(nu * _r)) / (1 + a * nu)),
}
NAMES = ["sgd_momentum", "sgd_nesterov"]


def rationalise(expr, variables: dict):
    """``expr`` in a, nu (or eta, lambda) with ``variables`` substituted and every square root's radicand
    factored, so that sqrt(R^2) = R."""
    expr = sp.sympify(expr).subs(lam, a / eta).subs(variables)
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2,
                        lambda e: sp.sqrt(sp.factor(sp.cancel(e.base))) ** (2 * e.exp))
    return sp.cancel(expr)


#: case -> (spec, change of variables, parametrisations by positive variables (applied in order), hypotheses)
CASES = {
    "heavy_ball": ("sgd_momentum", {a: alpha ** 2}, ({alpha: Z / (1 + Z)},), (a, 1 - a)),
    "nesterov": ("sgd_nesterov", {a: alpha ** 2}, ({alpha: Z / (1 + Z)},), (a, 1 - a)),
    "qhm_0<nu<1": ("qhm", {nu: n ** 2, a: (1 - R ** 2) / (1 - n ** 2)},
                   ({R: n + (1 - n) * Z2 / (1 + Z2)}, {n: Z1 / (1 + Z1)}), (a, 1 - a, nu, 1 - nu)),
    "qhm_nu=1": ("qhm", {nu: 1}, ({a: A / (1 + A)},), (a, 1 - a)),
}


def case_objects(case):
    """(p, b, c, mu*, rho*, certify) in the case's rational variables."""
    name, variables, parametrisations, _ = CASES[case]
    p = rationalise(THEORY_CHARPOLY[name], variables)
    _, b, c = sp.Poly(p, x).all_coeffs()
    mu_star, rho_star = (rationalise(v, variables) for v in CLAIMED[name])
    return p, b, c, mu_star, rho_star, lambda expr: certified_positive(expr, *parametrisations)


def engine_charpoly_in_a(name):
    spec = get_spec(name)
    spec = spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec
    p = sp.cancel(spec.charpoly(x).subs(lam, a / eta))
    assert eta not in p.free_symbols
    return p


# ----------------------------------------------------------------- (b) the engine against the claims
@pytest.mark.parametrize("name", list(THEORY_CHARPOLY))
def test_step0_the_engine_polynomial_at_tau_0_is_theory_md_s(name):
    assert sp.expand(engine_charpoly_in_a(name) - THEORY_CHARPOLY[name]) == 0


@cache
def engine_optimal_momentum_at_tau_0(name):
    """The object under test: the spec's own optimal_momentum() at dampening 0 (one call per spec)."""
    spec = get_spec(name)
    return (spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec).optimal_momentum()


@pytest.mark.parametrize("case", list(CASES))
def test_step0_the_engine_finds_the_claimed_momentum_and_rate(case):
    name, variables, _, _ = CASES[case]
    result = engine_optimal_momentum_at_tau_0(name)
    for engine, claim in zip((result.momentum, result.rate), CLAIMED[name]):
        assert sp.cancel(rationalise(engine, variables) - rationalise(claim, variables)) == 0
    assert result.beats_sgd


# ----------------------------------------------------------------- (a) the proof, steps 0-5
@pytest.mark.parametrize("case", list(CASES))
def test_step0_the_change_of_variables_stays_inside_the_hypotheses(case):
    _, variables, parametrisations, bounds = CASES[case]
    assert all(certified_positive(rationalise(bound, variables), *parametrisations) for bound in bounds)


@pytest.mark.parametrize("case", list(CASES))
def test_step1_the_discriminant_vanishes_at_mu_star_with_double_root_rho_star(case):
    p, b, c, mu_star, rho_star, _ = case_objects(case)
    assert sp.Poly(p, x).degree() == 2 and sp.Poly(p, x).LC() == 1
    assert all(sp.degree(coeff, mu) <= 1 for coeff in (b, c))
    assert sp.cancel((b ** 2 - 4 * c).subs(mu, mu_star)) == 0
    assert sp.cancel((-b / 2).subs(mu, mu_star) - rho_star) == 0


@pytest.mark.parametrize("case", list(CASES))
def test_step2_below_mu_star_a_real_root_exceeds_rho_star(case):
    p, _, _, mu_star, rho_star, certify = case_objects(case)
    kappa = sp.diff(p, mu).subs(x, rho_star)
    assert sp.cancel(p.subs(x, rho_star) - kappa * (mu - mu_star)) == 0
    assert certify(kappa)


@pytest.mark.parametrize("case", list(CASES))
def test_step3_above_mu_star_complex_roots_have_modulus_above_rho_star(case):
    _, _, c, mu_star, rho_star, certify = case_objects(case)
    assert sp.cancel(c.subs(mu, mu_star) - rho_star ** 2) == 0
    assert certify(rho_star) and certify(sp.diff(c, mu))


@pytest.mark.parametrize("case", ["heavy_ball", "nesterov"])
def test_step3_for_heavy_ball_and_nesterov_the_roots_are_complex_on_all_of_mu_star_to_1(case):
    """disc = L (mu - mu*)(mu - mu**) with L > 0 and mu** > 1."""
    _, b, c, mu_star, _, certify = case_objects(case)
    disc = sp.Poly(sp.expand(b ** 2 - 4 * c), mu)
    other = sp.cancel(disc.TC() / (disc.LC() * mu_star))
    assert sp.cancel(disc.as_expr() - disc.LC() * (mu - mu_star) * (mu - other)) == 0
    assert certify(disc.LC()) and certify(other - 1)


@pytest.mark.parametrize("case", list(CASES))
def test_step4_above_mu_star_real_roots_have_mean_above_rho_star(case):
    _, b, _, _, _, certify = case_objects(case)
    assert certify(-sp.diff(b, mu))


@pytest.mark.parametrize("case", list(CASES))
def test_step5_the_optimum_lies_in_range_and_beats_sgd(case):
    _, variables, _, _ = CASES[case]
    _, _, _, mu_star, rho_star, certify = case_objects(case)
    assert certify(mu_star) and certify(1 - mu_star)
    assert certify(rationalise(1 - a, variables) - rho_star)


def test_qhm_the_rational_forms_are_the_claimed_ones():
    """R^2 = 1 - a (1 - nu) and R^2 - n^2 = (1 - a)(1 - nu); the theorem object states the same claim."""
    variables = CASES["qhm_0<nu<1"][1]
    assert sp.cancel(rationalise(CLAIMED["qhm"][0], variables) - ((R - n) / (1 - R * n)) ** 2) == 0
    assert sp.cancel(rationalise(CLAIMED["qhm"][1], variables) - R * (R - n) / (1 - R * n)) == 0
    assert sp.cancel(rationalise(1 - a * (1 - nu), variables) - R ** 2) == 0
    assert sp.cancel(rationalise((1 - a) * (1 - nu), variables) - (R ** 2 - n ** 2)) == 0
    for mine, theirs in zip(CLAIMED["qhm"], (QHM.claimed_momentum, QHM.claimed_rate)):
        assert sp.cancel(rationalise(mine - theirs, variables)) == 0
    for theorem, name in ((HEAVY_BALL, "sgd_momentum"), (NESTEROV, "sgd_nesterov")):
        for mine, theirs in zip(CLAIMED[name], (theorem.claimed_momentum, theorem.claimed_rate)):
            assert sp.cancel(rationalise(mine - theirs, {a: alpha ** 2})) == 0


def test_negative_control_a_wrong_claim_fails_the_steps():
    """Nesterov's mu* for heavy ball: the discriminant does not vanish there, and the claim is refuted."""
    p, b, c, _, _, _ = case_objects("heavy_ball")
    wrong = (1 - alpha) / (1 + alpha)
    assert sp.cancel((b ** 2 - 4 * c).subs(mu, wrong)) != 0
    assert not roots_inside(p.subs({alpha: sp.Rational(1, 4), mu: sp.Rational(3, 5)}), x,
                            sp.Rational(3, 4) + sp.Rational(1, 100))
    assert not certified_positive(alpha - 1, {alpha: Z / (1 + Z)})  # the certificate can say no


# ----------------------------------------------------------------- (a) exact at rational points
unit_rationals = st.fractions(min_value=0, max_value=1, max_denominator=60).filter(lambda f: 0 < f < 1)
momenta = st.fractions(min_value=0, max_value=1, max_denominator=200).filter(lambda f: f < 1)


@settings(max_examples=60)
@given(name=st.sampled_from(NAMES), root_a=unit_rationals, momentum=momenta)
def test_property_no_momentum_in_0_1_beats_the_optimal_rate(name, root_a, momentum):
    """Exact: with alpha rational, rho* is rational and 'all roots inside |x| < rho*' is decidable."""
    point = {a: sp.Rational(root_a) ** 2}
    mu_star, rho_star = (sp.sympify(v).subs(point) for v in CLAIMED[name])
    p = THEORY_CHARPOLY[name].subs(point)
    assert not roots_inside(p.subs(mu, sp.Rational(momentum)), x, rho_star)  # rate(mu) >= rho*
    assert roots_inside(p.subs(mu, mu_star), x, rho_star + sp.Rational(1, 10 ** 12))  # rate(mu*) = rho*
    with mp.workdps(50):
        coeffs = [mp.mpf(sp.Rational(c).p) / sp.Rational(c).q
                  for c in sp.Poly(p.subs(mu, sp.Rational(momentum)), x).all_coeffs()]
        rate = max(abs(r) for r in mp.polyroots(coeffs, maxsteps=200, extraprec=200))
        assert rate >= mp.mpf(rho_star.p) / rho_star.q - mp.mpf(10) ** -40


rationals_0_1 = st.fractions(min_value=0, max_value=1, max_denominator=40).filter(lambda f: 0 < f < 1)


def qhm_point(n_value, R_value):
    """(a, nu, mu*, rho*) in exact rationals from 0 < n < R < 1."""
    a_value = (1 - R_value ** 2) / (1 - n_value ** 2)
    return (a_value, n_value ** 2, ((R_value - n_value) / (1 - R_value * n_value)) ** 2,
            R_value * (R_value - n_value) / (1 - R_value * n_value))


@settings(max_examples=30)
@given(n_value=rationals_0_1, gap=rationals_0_1, momentum=momenta)
def test_property_qhm_no_momentum_beats_the_optimal_rate(n_value, gap, momentum):
    """Exact, 0 < nu < 1: R = n + (1 - n) gap covers 0 < n < R < 1; rho* is rational."""
    n_value, gap = sp.Rational(n_value), sp.Rational(gap)
    a_value, nu_value, mu_star, rho_star = qhm_point(n_value, n_value + (1 - n_value) * gap)
    assert 0 < a_value < 1 and 0 < nu_value < 1 and 0 <= mu_star < 1 and rho_star < 1 - a_value
    p = THEORY_CHARPOLY["qhm"].subs({a: a_value, nu: nu_value})
    assert not roots_inside(p.subs(mu, sp.Rational(momentum)), x, rho_star)  # rate(mu) >= rho*
    assert roots_inside(p.subs(mu, mu_star), x, rho_star + sp.Rational(1, 10 ** 12))


@settings(max_examples=15)
@given(a_value=rationals_0_1, momentum=momenta)
def test_property_qhm_nu_one_no_momentum_beats_the_optimal_rate(a_value, momentum):
    a_value = sp.Rational(a_value)
    mu_star, rho_star = (sp.sympify(v).subs({nu: 1}).subs(a, a_value) for v in CLAIMED["qhm"])
    assert mu_star == ((1 - a_value) / (1 + a_value)) ** 2 and rho_star == (1 - a_value) / (1 + a_value)
    p = THEORY_CHARPOLY["qhm"].subs({a: a_value, nu: 1})
    assert not roots_inside(p.subs(mu, sp.Rational(momentum)), x, rho_star)
    assert roots_inside(p.subs(mu, mu_star), x, rho_star + sp.Rational(1, 10 ** 12))


# ----------------------------------------------------------------- (b) the engine's float rate
@settings(max_examples=20)
@given(name=st.sampled_from(NAMES), lr=st.sampled_from([0.25, 0.5, 1.0]), wd=st.sampled_from([0.01, 0.04, 0.09]),
       momentum=st.integers(1, 999))
def test_property_engine_numerical_rate_at_the_optimum_is_one_minus_sqrt_a_and_minimal(name, lr, wd, momentum):
    a_value = sp.Rational(repr(lr)) * sp.Rational(repr(wd))
    rho_star = 1 - sp.sqrt(a_value)
    mu_star = CLAIMED[name][0].subs(a, a_value)
    at_optimum = optimizer(name, lr=lr, weight_decay=wd, momentum=float(mu_star))
    elsewhere = optimizer(name, lr=lr, weight_decay=wd, momentum=momentum / 1000)
    assert abs(at_optimum.rate() - float(rho_star)) < 1e-7  # float(mu*) perturbs a double root by ~1e-8
    assert elsewhere.rate() >= float(rho_star) - 1e-12


@settings(max_examples=15)
@given(lr=st.sampled_from([0.25, 0.5, 1.0]), wd=st.sampled_from([0.01, 0.04, 0.09]),
       nu_value=st.sampled_from([0.1, 0.5, 0.7, 1.0]), momentum=st.integers(1, 999))
def test_property_qhm_engine_float_rate_at_the_optimum_and_elsewhere(lr, wd, nu_value, momentum):
    """The float64 engine agrees: rho* at mu*, and no momentum on a grid does better."""
    point = {a: sp.Rational(repr(lr)) * sp.Rational(repr(wd)), nu: sp.Rational(repr(nu_value))}
    mu_star, rho_star = (v.subs(point) for v in CLAIMED["qhm"])
    at_optimum = optimizer("qhm", lr=lr, weight_decay=wd, nu=nu_value, momentum=float(mu_star))
    elsewhere = optimizer("qhm", lr=lr, weight_decay=wd, nu=nu_value, momentum=momentum / 1000)
    assert abs(at_optimum.rate() - float(rho_star)) < 1e-7  # float(mu*) splits a double root by ~sqrt(eps)
    assert elsewhere.rate() >= float(rho_star) - 1e-12


# ----------------------------------------------------------------- the package's own proofs
def test_negative_control_the_theorem_objects_refute_wrong_claims():
    wrong = OptimalMomentumTheorem("sgd_momentum", (1 - sp.sqrt(a)) / (1 + sp.sqrt(a)), 1 - sp.sqrt(a), "none")
    assert not wrong.prove().holds
    wrong_qhm = OptimalMomentumTheorem("qhm", (1 - sp.sqrt(a)) ** 2, 1 - sp.sqrt(a), "none",
                                       cases=(QHM.cases[0],), extra_hypotheses=("0 < nu < 1",))
    assert not wrong_qhm.prove().holds


def test_negative_control_qhm_with_heavy_ball_s_momentum_is_slower():
    a_value, nu_value, _, rho_star = qhm_point(sp.Rational(1, 2), sp.Rational(3, 4))
    other = (1 - sp.sqrt(a_value)) ** 2  # heavy ball's mu* at the same a (irrational)
    p = THEORY_CHARPOLY["qhm"].subs({a: a_value, nu: nu_value, mu: other})
    rate_other = max(abs(complex(r)) for r in sp.Poly(p, x).nroots(n=30))
    assert rate_other > float(rho_star) + 1e-6


def test_the_theorem_objects_prove_every_step():
    for theorem in (HEAVY_BALL, NESTEROV, QHM):
        proof = theorem.prove()
        assert proof.holds, str(proof)
