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

Proof (a = alpha^2, 0 < alpha < 1; p(x; mu) = x^2 + b(mu) x + c(mu), affine in mu).
1. The discriminant vanishes at mu*, where the double root -b/2 equals rho*.
2. p(rho*; mu) = kappa (mu - mu*) with kappa > 0: for mu < mu* a real root exceeds rho*.
3. c(mu*) = rho*^2, c increasing; disc = L (mu - mu*)(mu - mu**), L > 0, mu** > 1: for
   mu* < mu < 1 the roots are complex with modulus sqrt(c(mu)) > rho*.
QHM (the theorem object, every step): the same steps 1-2, step 3's first half, and
4. -b increases with mu, so for mu > mu* real roots (on one side of rho*, since p(rho*) > 0)
   have mean -b/2 > rho*: both exceed it (mu** < 1 is possible for QHM).
Hypothesis then checks rate(mu*) <= rate(mu) exactly (Jury conditions in rationals, with
alpha rational so that everything is rational) and against mpmath at 50 digits.
"""

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from nctheory.optimizers import get_spec, optimizer
from nctheory.theory.symbolic.rowsum import X
from nctheory.theorems.algebra import A_, MU, NU, certified_positive, in_terms_of_a, jury_decides
from nctheory.theorems.linear_recurrences import engine_optimal_momentum
from nctheory.theorems.optimal_momentum import (ALPHA, ALPHA_IN_UNIT_INTERVAL, HEAVY_BALL, NESTEROV, QHM,
                                                QHM_NU_ONE, QHM_OPEN_NU, OptimalMomentumTheorem)

alpha, mu = ALPHA, sp.Symbol("mu", nonnegative=True)
eta, lam = sp.Symbol("eta", positive=True), sp.Symbol("lambda", nonnegative=True)
CLAIMED = {"sgd_momentum": ((1 - alpha) ** 2, 1 - alpha), "sgd_nesterov": ((1 - alpha) / (1 + alpha), 1 - alpha)}
NAMES = list(CLAIMED)


def charpoly_in_alpha(name):
    """p(x; mu) at tau = 0 with a = alpha^2."""
    p = in_terms_of_a(get_spec(name).with_hparams(dampening=0).charpoly(X))
    return sp.expand(p.subs(A_, alpha ** 2))


def coefficients(name):
    _, b, c = sp.Poly(charpoly_in_alpha(name), X).all_coeffs()
    return b, c


@pytest.mark.parametrize("name", NAMES)
def test_step0_the_engine_finds_the_claimed_momentum_and_rate(name):
    result = engine_optimal_momentum(name)
    mu_star, rho_star = CLAIMED[name]
    sqrt_a = sp.sqrt(eta * lam)
    assert sp.simplify(result.momentum - mu_star.subs(alpha, sqrt_a)) == 0
    assert sp.simplify(result.rate - rho_star.subs(alpha, sqrt_a)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_step1_the_discriminant_vanishes_at_mu_star_with_double_root_rho_star(name):
    (mu_star, rho_star), (b, c) = CLAIMED[name], coefficients(name)
    assert sp.cancel((b ** 2 - 4 * c).subs(mu, mu_star)) == 0
    assert sp.cancel((-b / 2).subs(mu, mu_star) - rho_star) == 0


@pytest.mark.parametrize("name", NAMES)
def test_step2_below_mu_star_a_real_root_exceeds_rho_star(name):
    (mu_star, rho_star), p = CLAIMED[name], charpoly_in_alpha(name)
    kappa = sp.diff(p, mu).subs(X, rho_star)
    assert sp.cancel(p.subs(X, rho_star) - kappa * (mu - mu_star)) == 0
    assert certified_positive(kappa, ALPHA_IN_UNIT_INTERVAL)


@pytest.mark.parametrize("name", NAMES)
def test_step3_above_mu_star_the_roots_are_complex_with_modulus_above_rho_star(name):
    (mu_star, rho_star), (b, c) = CLAIMED[name], coefficients(name)
    assert sp.cancel(c.subs(mu, mu_star) - rho_star ** 2) == 0
    assert certified_positive(sp.diff(c, mu), ALPHA_IN_UNIT_INTERVAL)
    disc = sp.Poly(sp.expand(b ** 2 - 4 * c), mu)
    other = sp.cancel(disc.TC() / (disc.LC() * mu_star))
    assert sp.cancel(disc.as_expr() - disc.LC() * (mu - mu_star) * (mu - other)) == 0
    assert certified_positive(disc.LC(), ALPHA_IN_UNIT_INTERVAL)
    assert certified_positive(other - 1, ALPHA_IN_UNIT_INTERVAL)


@pytest.mark.parametrize("name", NAMES)
def test_step4_the_optimum_lies_in_range_and_beats_sgd(name):
    mu_star, rho_star = CLAIMED[name]
    assert certified_positive(mu_star, ALPHA_IN_UNIT_INTERVAL)
    assert certified_positive(1 - mu_star, ALPHA_IN_UNIT_INTERVAL)
    assert certified_positive((1 - alpha ** 2) - rho_star, ALPHA_IN_UNIT_INTERVAL)


unit_rationals = st.fractions(min_value=0, max_value=1, max_denominator=60).filter(lambda f: 0 < f < 1)


@settings(max_examples=60)
@given(name=st.sampled_from(NAMES), root_a=unit_rationals,
       momentum=st.fractions(min_value=0, max_value=1, max_denominator=200).filter(lambda f: f < 1))
def test_property_no_momentum_in_0_1_beats_the_optimal_rate(name, root_a, momentum):
    """Exact: with alpha rational, rho* is rational and 'all roots inside |x| < rho*' is decidable."""
    mu_star, rho_star = (v.subs(alpha, sp.Rational(root_a)) for v in CLAIMED[name])
    p = charpoly_in_alpha(name).subs(alpha, sp.Rational(root_a))
    assert not jury_decides(p.subs(mu, sp.Rational(momentum)), X, rho_star)  # rate(mu) >= rho*
    assert jury_decides(p.subs(mu, mu_star), X, rho_star + sp.Rational(1, 10 ** 12))  # rate(mu*) = rho*
    with mp.workdps(50):
        coeffs = [mp.mpf(sp.Rational(c).p) / sp.Rational(c).q
                  for c in sp.Poly(p.subs(mu, sp.Rational(momentum)), X).all_coeffs()]
        rate = max(abs(r) for r in mp.polyroots(coeffs, maxsteps=200, extraprec=200))
        assert rate >= mp.mpf(rho_star.p) / rho_star.q - mp.mpf(10) ** -40


@settings(max_examples=20)
@given(name=st.sampled_from(NAMES), lr=st.sampled_from([0.25, 0.5, 1.0]), wd=st.sampled_from([0.01, 0.04, 0.09]),
       momentum=st.integers(1, 999))
def test_property_engine_numerical_rate_at_the_optimum_is_one_minus_sqrt_a_and_minimal(name, lr, wd, momentum):
    a = sp.Rational(repr(lr)) * sp.Rational(repr(wd))
    rho_star = 1 - sp.sqrt(a)
    mu_star = CLAIMED[name][0].subs(alpha, sp.sqrt(a))
    at_optimum = optimizer(name, lr=lr, weight_decay=wd, momentum=float(mu_star))
    elsewhere = optimizer(name, lr=lr, weight_decay=wd, momentum=momentum / 1000)
    assert abs(at_optimum.rate() - float(rho_star)) < 1e-7  # float(mu*) perturbs a double root by ~1e-8
    assert elsewhere.rate() >= float(rho_star) - 1e-12


def test_negative_control_the_other_method_s_momentum_is_not_optimal():
    """Nesterov's mu* exceeds heavy ball's, so for heavy ball it gives complex roots of modulus sqrt(mu) > rho*."""
    wrong = OptimalMomentumTheorem("sgd_momentum", (1 - sp.sqrt(A_)) / (1 + sp.sqrt(A_)), 1 - sp.sqrt(A_), "none")
    assert not wrong.prove().holds
    p = charpoly_in_alpha("sgd_momentum").subs(alpha, sp.Rational(1, 4))
    assert not jury_decides(p.subs(mu, sp.Rational(3, 5)), X, sp.Rational(3, 4) + sp.Rational(1, 100))


def test_the_theorem_objects_prove_every_step():
    for theorem in (HEAVY_BALL, NESTEROV, QHM):
        proof = theorem.prove()
        assert proof.holds, str(proof)


# ---------------------------------------------------------------------------- QHM
def qhm_point(n, R):
    """(a, nu, mu*, rho*) in exact rationals from 0 < n < R < 1 (nu = n^2, r = R^2)."""
    a = (1 - R ** 2) / (1 - n ** 2)
    return a, n ** 2, ((R - n) / (1 - R * n)) ** 2, R * (R - n) / (1 - R * n)


def test_qhm_the_rational_forms_are_the_claimed_ones():
    n, R = sp.symbols("n R", positive=True)
    a, nu, mu_star, rho_star = qhm_point(n, R)
    assert sp.cancel(QHM_OPEN_NU.rationalise(QHM.claimed_momentum) - mu_star) == 0
    assert sp.cancel(QHM_OPEN_NU.rationalise(QHM.claimed_rate) - rho_star) == 0
    # the change of variables: R^2 = 1 - a (1 - nu) and R^2 - n^2 = (1 - a)(1 - nu)
    assert sp.cancel(1 - a * (1 - nu) - R ** 2) == 0
    assert sp.cancel((1 - a) * (1 - nu) - (R ** 2 - n ** 2)) == 0


def qhm_charpoly(a, nu, momentum):
    return in_terms_of_a(get_spec("qhm").charpoly(X)).subs({A_: a, NU: nu, MU: momentum})


rationals_0_1 = st.fractions(min_value=0, max_value=1, max_denominator=40).filter(lambda f: 0 < f < 1)


@settings(max_examples=30)
@given(n=rationals_0_1, gap=rationals_0_1, momentum=st.fractions(min_value=0, max_value=1, max_denominator=200)
       .filter(lambda f: f < 1))
def test_property_qhm_no_momentum_beats_the_optimal_rate(n, gap, momentum):
    """Exact, 0 < nu < 1: R = n + (1 - n) gap covers 0 < n < R < 1; rho* is rational."""
    n, gap = sp.Rational(n), sp.Rational(gap)
    a, nu, mu_star, rho_star = qhm_point(n, n + (1 - n) * gap)
    assert 0 < a < 1 and 0 < nu < 1 and 0 <= mu_star < 1 and rho_star < 1 - a
    assert not jury_decides(qhm_charpoly(a, nu, sp.Rational(momentum)), X, rho_star)  # rate(mu) >= rho*
    assert jury_decides(qhm_charpoly(a, nu, mu_star), X, rho_star + sp.Rational(1, 10 ** 12))


@settings(max_examples=15)
@given(a=rationals_0_1, momentum=st.fractions(min_value=0, max_value=1, max_denominator=200).filter(lambda f: f < 1))
def test_property_qhm_nu_one_no_momentum_beats_the_optimal_rate(a, momentum):
    a = sp.Rational(a)
    mu_star, rho_star = (QHM_NU_ONE.rationalise(v).subs(A_, a) for v in (QHM.claimed_momentum, QHM.claimed_rate))
    assert mu_star == ((1 - a) / (1 + a)) ** 2 and rho_star == (1 - a) / (1 + a)
    assert not jury_decides(qhm_charpoly(a, 1, sp.Rational(momentum)), X, rho_star)
    assert jury_decides(qhm_charpoly(a, 1, mu_star), X, rho_star + sp.Rational(1, 10 ** 12))


@settings(max_examples=15)
@given(lr=st.sampled_from([0.25, 0.5, 1.0]), wd=st.sampled_from([0.01, 0.04, 0.09]),
       nu=st.sampled_from([0.1, 0.5, 0.7, 1.0]), momentum=st.integers(1, 999))
def test_property_qhm_engine_float_rate_at_the_optimum_and_elsewhere(lr, wd, nu, momentum):
    """The float64 engine agrees: mpmath's rho* at mu*, and no momentum on a grid does better."""
    a, nu_exact = sp.Rational(repr(lr)) * sp.Rational(repr(wd)), sp.Rational(repr(nu))
    mu_star, rho_star = (v.subs({A_: a, NU: nu_exact}) for v in (QHM.claimed_momentum, QHM.claimed_rate))
    at_optimum = optimizer("qhm", lr=lr, weight_decay=wd, nu=nu, momentum=float(mu_star))
    elsewhere = optimizer("qhm", lr=lr, weight_decay=wd, nu=nu, momentum=momentum / 1000)
    assert abs(at_optimum.rate() - float(rho_star)) < 1e-7  # float(mu*) splits a double root by ~sqrt(eps)
    assert elsewhere.rate() >= float(rho_star) - 1e-12


def test_negative_control_qhm_with_heavy_ball_s_momentum_is_refuted():
    wrong = OptimalMomentumTheorem("qhm", (1 - sp.sqrt(A_)) ** 2, 1 - sp.sqrt(A_), "none",
                                   cases=(QHM_OPEN_NU,), extra_hypotheses=("0 < nu < 1",))
    assert not wrong.prove().holds
    a, nu, mu_star, rho_star = qhm_point(sp.Rational(1, 2), sp.Rational(3, 4))
    other = (1 - sp.sqrt(a)) ** 2  # heavy ball's mu* at the same a
    rate_other = max(abs(complex(r)) for r in sp.Poly(qhm_charpoly(a, nu, other), X).nroots(n=30))
    assert rate_other > float(rho_star) + 1e-6
