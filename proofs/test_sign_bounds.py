"""Decoupled sign descent (AdamW with beta1 = beta2 = 0, eps -> 0): box bound, parity, NC0 floor.

Statement. For W_{t+1} = (1 - a) W_t - eta sign(G_t), a = eta*lambda:
1. W_t = (1-a)^t W_0 - eta sum_{j<t} (1-a)^{t-1-j} sign(G_j);
2. eta sum_{j<t} (1-a)^{t-1-j} = (1 - (1-a)^t)/lambda, so (0 < a <= 1)
   |W_t| <= B_t = (1-a)^t |W_0| + (1 - (1-a)^t)/lambda <= max(|W_0|, 1/lambda), every t;
3. a sum of K signs has the parity of K: for every odd K every entry of S^T 1 has |.| >= 1;
4. with a constant sign pattern S the row sums converge to s* = -S^T 1/lambda (the
   fixed point of s' = (1-a)s - eta S^T 1, independent of eta), and for odd K and every d
   ||s*|| >= sqrt(d)/lambda: NC0 stays bounded away from 0.

Hypotheses. lambda > 0, eta > 0; 0 < a <= 1 for the box bound, 0 < a < 2 for the limit;
step entries in [-1, 1] (sign; Lion's sign of an interpolated momentum); for the floor:
K odd, no zero gradient entry, sign pattern eventually constant.

Proof: the steps below, with the step W' = (1 - a) W - eta sigma and the unrolled formula
typed here from THEORY.md (sympy summation, induction on t). The box bound's inequalities
are machine-checked under their hypotheses (``test_step2_box_*``): each is a polynomial with
nonnegative coefficients in the hypotheses' slacks (1 - a >= 0, eta >= 0, B -+ w >= 0,
1 +- sigma >= 0, theta, 1 - theta >= 0), checked by index_sums_by_hand.certified_nonnegative;
wrong bounds (no decay factor on W_0, 1/(2 lambda)) and a > 1 fail, with exact witnesses.
Parity for every odd K by the integer cases p >= 0 / p <= -1; the floor for symbolic d.
Exhaustive parity for K <= 7 and the properties (the specs' own steps, signgd_decoupled and
lion, in exact rationals) are finite instances.
(Xie & Li, ICML 2024; Bernstein et al., ICML 2018; Zhao et al., arXiv:2602.16642.)

Independence. Nothing of nctheory.theory.symbolic.signbased is imported: its float helpers
(box_bound, parity_lower_bound) are tested against these formulas in
tests/test_sign_bound_helpers.py, its unrolled formula by the theorem object. From the
theorem module come only its typed statement (unrolled), checked here against THEORY.md's
formula, and the theorem object (its own proof, and refutation of wrong claims).
"""

from fractions import Fraction
from itertools import product

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from index_sums_by_hand import certified_nonnegative, vanishes
from nctheory.optimizers import get_spec
from nctheory.theorems.sign_bounds import SIGN_BOUNDS, SignDescentBounds, unrolled

eta, lam = sp.Symbol("eta", positive=True), sp.Symbol("lambda", positive=True)
a = eta * lam
q = sp.Symbol("q", positive=True)  # q = 1 - a in (0, 1)
T, J = sp.Symbol("t", integer=True, nonnegative=True), sp.Symbol("j", integer=True, nonnegative=True)
W0 = sp.Symbol("W_0", real=True)
SIGMA = sp.IndexedBase("sigma")


def sign_step(w, sigma):
    """THEORY.md section 4: W <- (1 - a) W - eta sign(G), on one entry with the sign sigma given."""
    return (1 - a) * w - eta * sigma


def unrolled_here(t):
    """THEORY.md section 4: W_t = (1-a)^t W_0 - eta sum_{j<t} (1-a)^{t-1-j} sigma_j."""
    return (1 - a) ** t * W0 - eta * sp.Sum((1 - a) ** (t - 1 - J) * SIGMA[J], (J, 0, t - 1))


def test_step0_the_theorem_states_theory_md_s_formula():
    assert sp.expand(unrolled(T) - unrolled_here(T)) == 0
    assert sp.expand(unrolled(T, decay=1 + a) - unrolled_here(T)) != 0  # the comparison can fail


def test_step1_unrolled_formula_base_case_and_induction():
    assert unrolled_here(0).doit() == W0

    def f(t):
        return (1 - a) ** (t - 1 - J) * SIGMA[J]

    peel = sp.Sum(f(T + 1), (J, 0, T - 1)) + sp.Sum(f(T + 1), (J, T, T)) - sp.Sum(f(T + 1), (J, 0, T))
    assert sp.simplify(peel) == 0
    assert sp.Sum(f(T + 1), (J, T, T)).doit() == SIGMA[T]
    shifted = (1 - a) * sp.Sum(f(T), (J, 0, T - 1)) - sp.Sum(f(T + 1), (J, 0, T - 1))
    assert sp.simplify(shifted.subs(lam, (1 - q) / eta)) == 0
    # the induction step: (one step applied to W_t) - W_{t+1} = -eta (shifted + peel), both 0 above
    induction = sign_step(unrolled_here(T), SIGMA[T]) - unrolled_here(T + 1)
    peel_with_last_term = sp.Sum(f(T + 1), (J, 0, T - 1)) + SIGMA[T] - sp.Sum(f(T + 1), (J, 0, T))
    assert sp.expand(induction + eta * (shifted + peel_with_last_term)) == 0
    wrong_step = (1 - a) * unrolled_here(T) + eta * SIGMA[T]  # negative control: the sign of sigma flipped
    assert sp.expand(wrong_step - unrolled_here(T + 1) + eta * (shifted + peel_with_last_term)) != 0


def test_step1_unrolled_formula_equals_the_iterated_step_for_small_t():
    w = W0
    for t in range(7):
        assert sp.expand(w - unrolled_here(t).doit()) == 0
        w = sign_step(w, SIGMA[t])


def test_step2_the_geometric_sum_is_one_minus_decay_over_lambda():
    summed = sp.summation(eta * (1 - a) ** (T - 1 - J), (J, 0, T - 1))
    claimed = (1 - (1 - a) ** T) / lam
    assert sp.simplify((summed - claimed).subs(lam, (1 - q) / eta)) == 0


X = sp.Symbol("X", nonnegative=True)  # |W_0|


def box(t, w0_abs=X, floor=1 / lam):
    """THEORY.md section 4: B_t = (1-a)^t |W_0| + (1 - (1-a)^t) floor, floor = 1/lambda."""
    return (1 - a) ** t * w0_abs + (1 - (1 - a) ** t) * floor


def test_step2_box_bound_base_case_and_recursion():
    assert box(0) == X
    assert sp.simplify(box(T + 1) - ((1 - a) * box(T) + eta)) == 0  # B_{t+1} = (1 - a) B_t + eta, every t


def test_step2_box_induction_step_is_certified_under_the_hypotheses():
    """|w| <= B, |sigma| <= 1, a <= 1 => |(1 - a) w - eta sigma| <= (1 - a) B + eta: both signs."""
    w, B, sigma = sp.symbols("w B sigma", real=True)
    Gq, Ge, G1, G2 = sp.symbols("G_q G_e G_1 G_2", nonnegative=True)
    bound = (1 - a) * B + eta
    assert certified_nonnegative(bound - sign_step(w, sigma), Gq * G1 + Ge * G2,
                                 {Gq: 1 - a, Ge: eta, G1: B - w, G2: 1 + sigma})
    assert certified_nonnegative(bound + sign_step(w, sigma), Gq * G1 + Ge * G2,
                                 {Gq: 1 - a, Ge: eta, G1: B + w, G2: 1 - sigma})
    # negative controls: the certificate fails for a wrong bound, for a flipped step, and without a <= 1
    assert not certified_nonnegative(bound - eta / 2 - sign_step(w, sigma), Gq * G1 + Ge * G2,
                                     {Gq: 1 - a, Ge: eta, G1: B - w, G2: 1 + sigma})
    assert not certified_nonnegative(bound - ((1 + a) * w - eta * sigma), Gq * G1 + Ge * G2,
                                     {Gq: 1 - a, Ge: eta, G1: B - w, G2: 1 + sigma})
    assert not certified_nonnegative(bound - sign_step(w, sigma), -Gq * G1 + Ge * G2,
                                     {Gq: a - 1, Ge: eta, G1: B - w, G2: 1 + sigma})


def test_step2_box_convex_combination_below_the_max_is_certified():
    theta, u = sp.Symbol("theta", real=True), sp.Symbol("u", nonnegative=True)
    Gq, Ga, Gt, G1t, Gu = sp.symbols("G_q G_a G_t G_1t G_u", nonnegative=True)
    # theta_t = (1 - a)^t in [0, 1]: theta_0 = 1, and theta -> (1 - a) theta keeps [0, 1]
    assert certified_nonnegative((1 - a) * theta, Gq * Gt, {Gq: 1 - a, Gt: theta})
    assert certified_nonnegative(1 - (1 - a) * theta, Ga + Gq * G1t, {Ga: a, Gq: 1 - a, G1t: 1 - theta})
    assert sp.simplify(box(T) - ((1 - a) ** T * X + (1 - (1 - a) ** T) / lam)) == 0
    for w0_abs, certificate, slack in ((1 / lam + u, G1t * Gu, {G1t: 1 - theta, Gu: u}),
                                       (1 / lam - u, Gt * Gu, {Gt: theta, Gu: u})):
        gap = sp.Max(w0_abs, 1 / lam) - (theta * w0_abs + (1 - theta) / lam)
        assert certified_nonnegative(gap, certificate, slack)
        wrong = sp.Max(w0_abs, 1 / (2 * lam)) - (theta * w0_abs + (1 - theta) / lam)
        if w0_abs == 1 / lam - u:
            assert not certified_nonnegative(wrong, certificate, slack)  # max(|W_0|, 1/(2 lambda)): fails


def exact_trajectory(w0, signs, eta_, lam_):
    w, out = sp.Rational(w0), [sp.Rational(w0)]
    for sigma in signs:
        w = (1 - eta_ * lam_) * w - eta_ * sigma
        out.append(w)
    return out


def test_negative_control_wrong_box_bounds_fail():
    eta_, lam_ = sp.Rational(1, 4), sp.Integer(2)  # a = 1/2
    path = exact_trajectory(0, [-1] * 6, eta_, lam_)  # W_0 = 0, every step pushes up
    assert all(abs(w) <= box(t).subs({eta: eta_, lam: lam_, X: 0}) for t, w in enumerate(path))
    halved = [box(t, floor=1 / (2 * lam)).subs({eta: eta_, lam: lam_, X: 0}) for t in range(len(path))]
    assert path[1] > halved[1]  # 1/(2 lambda): violated by an exact trajectory
    assert max(path) > sp.Max(0, 1 / (2 * lam_))  # and so is max(|W_0|, 1/(2 lambda))
    # no (1-a)^t on |W_0|: a weaker bound, not the one the induction proves -- its recursion is not an
    # identity, so the proof must not go through for it
    no_decay = X + (1 - (1 - a) ** T) / lam
    assert sp.simplify(no_decay.subs(T, T + 1) - ((1 - a) * no_decay + eta)) != 0
    assert sp.simplify(box(T + 1, floor=1 / (2 * lam)) - ((1 - a) * box(T, floor=1 / (2 * lam)) + eta)) != 0
    big = exact_trajectory(1, [1], sp.Rational(3, 2), sp.Integer(1))  # a = 3/2 > 1
    assert abs(big[1]) == 2 > max(abs(big[0]), 1)  # |W_1| = 2 > max(|W_0|, 1/lambda) = 1: a <= 1 is needed


def test_step3_parity_for_every_odd_K():
    m, n = sp.symbols("m n", integer=True, nonnegative=True)
    p = sp.Symbol("p", integer=True)
    assert sp.expand((2 * m + 1) - 2 * n - (2 * (m - n) + 1)) == 0  # K = 2m + 1: K - 2n = 2p + 1, p = m - n
    G = sp.Symbol("G", nonnegative=True)
    for slack in (p, -1 - p):  # every integer has p >= 0 or p <= -1
        assert certified_nonnegative((2 * p + 1) ** 2 - 1, 4 * G ** 2 + 4 * G, {G: slack})
    assert not certified_nonnegative((2 * p) ** 2 - 1, 4 * G ** 2, {G: p})  # even sums: no floor


def test_step4_floor_for_every_d():
    i, dim = sp.Symbol("i", integer=True), sp.Symbol("d", integer=True, positive=True)
    sig, P = sp.IndexedBase("sigma", real=True), sp.IndexedBase("P", nonnegative=True)
    excess = sp.Sum((-sig[i] / lam) ** 2, (i, 1, dim)) - dim / lam ** 2
    assert vanishes(excess - sp.Sum((sig[i] ** 2 - 1) / lam ** 2, (i, 1, dim)))
    assert not vanishes(excess - sp.Sum(sig[i] ** 2 / lam ** 2, (i, 1, dim)))
    assert sp.Sum(4 * P[i] / lam ** 2, (i, 1, dim)).is_nonnegative  # sigma_i^2 - 1 = 4 P_i, P_i >= 0


def test_step2_the_bound_is_a_convex_combination_below_the_max():
    theta, x, y = sp.symbols("theta x y", nonnegative=True)
    decay = (1 - a) ** T
    assert sp.expand((theta * x + (1 - theta) / lam).subs(theta, decay) - (decay * x + (1 - decay) / lam)) == 0
    m = sp.Max(x, y)
    assert sp.expand(m - (theta * x + (1 - theta) * y) - (theta * (m - x) + (1 - theta) * (m - y))) == 0


def test_instance_a_sum_of_K_signs_has_the_parity_of_K_for_K_up_to_7():
    K, n = sp.symbols("K n", integer=True, nonnegative=True)
    assert sp.expand((K - n) - n - (K - 2 * n)) == 0
    for size in (1, 3, 5, 7):
        assert min(abs(sum(signs)) for signs in product((-1, 1), repeat=size)) == 1


def test_step4_the_limit_is_minus_sigma_over_lambda_and_independent_of_eta():
    s, sigma = sp.symbols("s sigma", real=True)
    assert sp.solve(sp.Eq(s, sign_step(s, sigma)), s) == [-sigma / lam]
    assert sp.expand(sign_step(s, sigma) + sigma / lam - (1 - a) * (s + sigma / lam)) == 0
    m = sp.Symbol("m", integer=True)
    assert sp.expand((2 * m + 1) ** 2 - 1 - 4 * m * (m + 1)) == 0


def test_negative_control_even_K_has_no_floor_and_wrong_limits_are_refuted():
    assert min(abs(sum(signs)) for signs in product((-1, 1), repeat=4)) == 0
    sigma = sp.Symbol("sigma", real=True)
    wrong = -eta * sigma / lam
    assert sp.expand(sign_step(wrong, sigma) - wrong) != 0  # not a fixed point
    summed = sp.summation(eta * (1 - a) ** (T - 1 - J), (J, 0, T - 1))
    assert sp.simplify((summed - (1 - (1 - a) ** T) * eta / lam).subs(lam, (1 - q) / eta)) != 0
    assert not SignDescentBounds(limit=lambda sigma: -eta * sigma / lam).prove().holds
    assert not SignDescentBounds(geometric_sum=lambda t: (1 - (1 - a) ** t) * eta / lam).prove().holds
    assert not SignDescentBounds(box_bound=lambda t, x: box(t, x, 1 / (2 * lam))).prove().holds
    assert not SignDescentBounds(box_bound=lambda t, x: x + (1 - (1 - a) ** t) / lam).prove().holds
    assert not SignDescentBounds(box_max=lambda x: sp.Max(x, 1 / (2 * lam))).prove().holds


# ----------------------------------------------------------------- the specs' own steps, exactly
def fraction_array(rows):
    return np.array([[Fraction(v) for v in row] for row in rows], dtype=object)


step_sizes = st.sampled_from([Fraction(1, 10), Fraction(1, 4), Fraction(1, 2), Fraction(1)])
decays = st.sampled_from([Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4)])
nonzero = st.fractions(-4, 4, max_denominator=6).filter(lambda v: v != 0)
magnitude = st.fractions(-6, 6, max_denominator=5)


def matrices(rows, cols, elements):
    return st.lists(st.lists(elements, min_size=cols, max_size=cols), min_size=rows, max_size=rows)


@settings(max_examples=30)
@given(lr=step_sizes, wd=decays, K=st.integers(2, 5), d=st.integers(1, 3), data=st.data())
def test_property_signgd_decoupled_follows_the_unrolled_formula_and_stays_in_the_box(lr, wd, K, d, data):
    if lr * wd > 1:
        wd = 1 / lr  # 0 < a <= 1
    a_ = lr * wd
    spec = get_spec("signgd_decoupled")
    W_0 = fraction_array(data.draw(matrices(K, d, magnitude)))
    grads = [fraction_array(g) for g in data.draw(st.lists(matrices(K, d, nonzero), min_size=1, max_size=20))]
    weights, state = W_0, spec.init_state(W_0)
    for t, grad in enumerate(grads, start=1):
        weights, state = spec.step(weights, grad, state, hp={"lr": lr, "weight_decay": wd})
        formula = (1 - a_) ** t * W_0 - lr * sum(((1 - a_) ** (t - 1 - j) * np.sign(grads[j]) for j in range(t)),
                                                 np.zeros_like(W_0))
        assert (weights == formula).all()
        bound = (1 - a_) ** t * np.abs(W_0) + (1 - (1 - a_) ** t) / wd
        assert (np.abs(weights) <= bound).all()
        assert (bound <= np.maximum(np.abs(W_0), 1 / wd)).all()
    # the row sums move by sign(G_j)^T 1, whose entries have the parity of K (no zero gradient entry)
    assert all((sum(np.sign(g)[:, c]) - K) % 2 == 0 for g in grads for c in range(d))


@settings(max_examples=20)
@given(lr=step_sizes, wd=decays, beta1=st.sampled_from([Fraction(0), Fraction(9, 10)]),
       beta2=st.sampled_from([Fraction(0), Fraction(99, 100)]), data=st.data())
def test_property_lion_obeys_the_same_box_bound(lr, wd, beta1, beta2, data):
    if lr * wd > 1:
        wd = 1 / lr
    a_ = lr * wd
    spec = get_spec("lion")
    W_0 = fraction_array(data.draw(matrices(3, 2, magnitude)))
    grads = [fraction_array(g) for g in data.draw(st.lists(matrices(3, 2, magnitude), min_size=1, max_size=15))]
    weights, state = W_0, spec.init_state(W_0)
    hp = {"lr": lr, "weight_decay": wd, "beta1": beta1, "beta2": beta2}
    for t, grad in enumerate(grads, start=1):
        weights, state = spec.step(weights, grad, state, hp=hp)
        assert (np.abs(weights) <= (1 - a_) ** t * np.abs(W_0) + (1 - (1 - a_) ** t) / wd).all()


@settings(max_examples=20)
@given(K=st.sampled_from([3, 5, 7]), d=st.integers(1, 4), lr=step_sizes, wd=decays, data=st.data())
def test_property_constant_sign_pattern_odd_K_row_sums_converge_to_a_floor(K, d, lr, wd, data):
    if lr * wd >= 2:
        wd = 1 / lr
    a_ = lr * wd
    spec = get_spec("signgd_decoupled")
    signs = fraction_array(data.draw(matrices(K, d, st.sampled_from([-1, 1]))))
    W_0 = fraction_array(data.draw(matrices(K, d, magnitude)))
    sigma = signs.sum(axis=0)
    limit = -sigma / wd
    assert all(abs(v) >= 1 for v in sigma)  # parity
    assert sum(v * v for v in limit) >= Fraction(d) / wd ** 2  # ||s*|| >= sqrt(d)/lambda
    weights, state = W_0, spec.init_state(W_0)
    for t in range(1, 9):
        magnitudes = fraction_array(data.draw(matrices(K, d, st.fractions(1, 5, max_denominator=4))))
        weights, state = spec.step(weights, signs * magnitudes, state, hp={"lr": lr, "weight_decay": wd})
        assert (weights.sum(axis=0) - limit == (1 - a_) ** t * (W_0.sum(axis=0) - limit)).all()


def test_negative_control_coupled_signgd_does_not_follow_the_decoupled_formula():
    spec = get_spec("signgd")
    W_0 = fraction_array([[3, -1], [2, 5], [-4, 1]])
    G = fraction_array([[-1, 1], [1, -1], [1, 1]])
    weights, _ = spec.step(W_0, G, spec.init_state(W_0), hp={"lr": Fraction(1, 2), "weight_decay": Fraction(1)})
    decoupled = (1 - Fraction(1, 2)) * W_0 - Fraction(1, 2) * np.sign(G)
    assert not (weights == decoupled).all()


def test_the_theorem_object_proves_every_step():
    proof = SIGN_BOUNDS.prove()
    assert proof.holds, str(proof)
