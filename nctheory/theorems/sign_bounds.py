"""Sign descent with decoupled decay: box bound, parity and the NC0 floor (THEORY.md section 4).

**Setting.** SignGD with decoupled weight decay (AdamW with beta1 = beta2 = 0, eps -> 0):
``W_{t+1} = (1 - a) W_t - eta sigma_t`` with ``a = eta lambda``, ``sigma_t = sign(G_t)``.

**Theorem.**

1. *Unrolled:* ``W_t = (1 - a)^t W_0 - eta sum_{j<t} (1 - a)^{t-1-j} sigma_j``.
2. *Box bound* (``0 < a <= 1``, ``|sigma_j| <= 1``): ``eta sum_{j<t} (1 - a)^{t-1-j} =
   (1 - (1 - a)^t) / lambda``, and ``|W_t| <= B_t = (1 - a)^t |W_0| + (1 - (1 - a)^t)/lambda``
   by induction on t: ``B_0 = |W_0|``, ``B_{t+1} = (1 - a) B_t + eta`` (an identity), and the
   step ``|(1 - a) w - eta sigma| <= (1 - a) B + eta`` whenever ``|w| <= B``, ``|sigma| <= 1``,
   ``1 - a >= 0``: both ``(1 - a) B + eta -+ ((1 - a) w - eta sigma)`` are polynomials with
   nonnegative coefficients in the hypotheses' slacks (certificates, exact). ``B_t`` is the
   convex combination ``theta |W_0| + (1 - theta)/lambda`` with ``theta = (1 - a)^t in [0, 1]``
   (induction, certificates), hence ``<= max(|W_0|, 1/lambda)`` (two cases of the order,
   certificates). For ``a > 1`` the bound fails (an exact witness).
3. *Parity:* a sum of K terms in {-1, +1} with n minus signs is ``K - 2n``: it has the
   parity of K. For every odd ``K = 2m + 1`` it is ``2p + 1`` with ``p = m - n`` an integer,
   and ``(2p + 1)^2 - 1 = 4 p (p + 1) >= 0`` (cases ``p >= 0`` and ``p <= -1``, certificates):
   ``|.| >= 1``. Exhaustive enumeration for K <= 7 is kept as a finite instance.
4. *Limit:* the fixed point of ``s' = (1 - a) s - eta sigma`` is ``s* = -sigma / lambda``
   (independent of eta) and ``s_t - s* = (1 - a)^t (s_0 - s*) -> 0`` for ``0 < a < 2``; for
   odd K and every d, ``||s*||^2 - d/lambda^2 = sum_{i=1}^d (sigma_i^2 - 1)/lambda^2 >= 0``
   (an index sum of symbolic length d whose terms are ``4 p_i (p_i + 1)/lambda^2 >= 0``). So
   NC0 -> ||S^T 1|| / lambda ``>= sqrt(d) / lambda``, bounded away from 0 whatever eta.

References: Xie & Li, "Implicit bias of AdamW: l_inf norm constrained optimization",
ICML 2024; Bernstein et al., "signSGD", ICML 2018; Zhao et al., arXiv:2602.16642.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import sympy as sp

from nctheory.theory.hyperparams import SYMBOLS
from nctheory.theory.symbolic.signbased import unrolled_decoupled_sign
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, distinct, fact, holds_from, identity, refuted_from
from nctheory.theorems.index_sums import nonnegative_certificate, sums_identity

ETA = sp.Symbol("eta", positive=True)
LAMBDA = sp.Symbol("lambda", positive=True)
T = sp.Symbol("t", integer=True, nonnegative=True)
J = sp.Symbol("j", integer=True, nonnegative=True)
Q = sp.Symbol("q", positive=True)  # q = 1 - a in (0, 1)
W0 = sp.Symbol("W_0", real=True)
SIGMA = sp.IndexedBase("sigma")
A_ETA_LAMBDA = ETA * LAMBDA


def unrolled(t, decay=1 - A_ETA_LAMBDA):
    """``(1 - a)^t W_0 - eta sum_{j<t} (1 - a)^{t-1-j} sigma_j`` (one weight entry)."""
    return decay ** t * W0 - ETA * sp.Sum(decay ** (t - 1 - J) * SIGMA[J], (J, 0, t - 1))


def decoupled_sign_step(w, sigma, a=A_ETA_LAMBDA):
    """One step of decoupled SignGD on one entry, with the sign ``sigma`` given."""
    return (1 - a) * w - ETA * sigma


def default_limit(sigma):
    return -sigma / LAMBDA


def default_geometric_sum(t):
    return (1 - (1 - A_ETA_LAMBDA) ** t) / LAMBDA


def default_box_bound(t, w0_abs):
    """``B_t = (1 - a)^t |W_0| + (1 - (1 - a)^t)/lambda``."""
    return (1 - A_ETA_LAMBDA) ** t * w0_abs + (1 - (1 - A_ETA_LAMBDA) ** t) / LAMBDA


def default_box_max(w0_abs):
    return sp.Max(w0_abs, 1 / LAMBDA)


@lru_cache(maxsize=None)
def unrolled_steps() -> tuple:
    """The unrolled formula: base case, induction, iterates (no claim enters: computed once per process)."""
    return tuple(_unrolled_steps())


def _unrolled_steps():
    yield identity("unrolled formula, base case: W_0", unrolled(0).doit(), W0)
    f = lambda t: (1 - A_ETA_LAMBDA) ** (t - 1 - J) * SIGMA[J]  # noqa: E731
    q_sub = {LAMBDA: (1 - Q) / ETA}
    peel = sp.Sum(f(T + 1), (J, 0, T - 1)) + sp.Sum(f(T + 1), (J, T, T)) - sp.Sum(f(T + 1), (J, 0, T))
    yield identity("induction: sum_{j<=t} = sum_{j<t} + (term j = t) (adjacent ranges combine)",
                   sp.simplify(peel), 0)
    yield identity("induction: the term j = t of the sum for t + 1 is sigma_t", sp.Sum(f(T + 1), (J, T, T)).doit(),
                   SIGMA[T])
    shifted = (1 - A_ETA_LAMBDA) * sp.Sum(f(T), (J, 0, T - 1)) - sp.Sum(f(T + 1), (J, 0, T - 1))
    yield identity("induction: (1 - a) sum_{j<t} (1-a)^{t-1-j} sigma_j = sum_{j<t} (1-a)^{t-j} sigma_j "
                   "(with q = 1 - a > 0)", sp.simplify(shifted.subs(q_sub)), 0)
    engine = unrolled_decoupled_sign(T, W0, SIGMA, J).subs({SYMBOLS["lr"]: ETA, SYMBOLS["weight_decay"]: LAMBDA})
    yield identity("the engine's unrolled formula (nctheory.theory.symbolic.signbased) is this one",
                   engine, unrolled(T))
    w = W0
    explicit = []
    for t in range(6):
        explicit.append(sp.expand(w) - sp.expand(unrolled(t).doit()))
        w = decoupled_sign_step(w, SIGMA[t])
    yield identity("the unrolled formula equals the iterated step for t = 0..5 (symbolic signs)",
                   sp.Matrix(explicit), sp.zeros(6, 1))


class SignDescentBounds(Theorem):
    """The box bound, the parity lemma and the NC0 floor; claims can be replaced to test them."""

    name = "sign_bounds"
    title = "Decoupled sign descent: box bound, parity and an NC0 floor"
    statement = ("For W_{t+1} = (1 - a) W_t - eta sign(G_t) with 0 < a <= 1: |W_t| <= (1-a)^t |W_0| + "
                 "(1 - (1-a)^t)/lambda <= max(|W_0|, 1/lambda) for every t; for every odd K and every d, if G_t "
                 "has no zero entry and sign(G_t) = S eventually, then s_t -> -S^T 1/lambda and lim NC0 >= "
                 "sqrt(d)/lambda, whatever eta.")
    statement_latex = (r"For $0 < a \le 1$ and every $t$: "
                       r"$|W_t| \le (1-a)^t|W_0| + \frac{1-(1-a)^t}{\lambda} \le \max(|W_0|, \tfrac1\lambda)$; "
                       r"every odd $K$, every $d$ $\Rightarrow \lim_t \|W_t^\top\mathbf 1_K\|"
                       r" = \|S^\top \mathbf 1_K\|/\lambda"
                       r" \ge \sqrt d/\lambda$.")
    hypotheses = ("decoupled weight decay lambda > 0, step eta > 0", "0 < a = eta lambda <= 1 (box bound), "
                  "0 < a < 2 (limit)", "every step direction in [-1, 1] entrywise (sign, Lion)",
                  "parity bound: K odd, no zero gradient entry, sign pattern S eventually constant")
    reference = "Xie & Li, ICML 2024; Bernstein et al., ICML 2018; Zhao et al., arXiv:2602.16642"
    status = ("proved symbolically for every t, every odd K and every d (geometric sum by sympy summation; the "
              "box bound's inequalities by exact certificates under their hypotheses; parity for symbolic odd K); "
              "exhaustive parity for K <= 7 and d = 4 are finite instances")

    def __init__(self, limit=default_limit, geometric_sum=default_geometric_sum, odd_sizes=(1, 3, 5, 7),
                 box_bound=default_box_bound, box_max=default_box_max):
        self.limit = limit
        self.geometric_sum = geometric_sum
        self.odd_sizes = tuple(odd_sizes)
        self.box_bound = box_bound
        self.box_max = box_max

    def check(self, seed: int = 0, lr: float = 0.02, weight_decay: float = 1.0, steps: int = 400) -> NumericalCheck:
        """Train the UFM (K = 5, odd) with decoupled SignGD and check the statements on the run
        (the sub-checks of :mod:`nctheory.verdict.sign`, with their stated tolerances): the
        row sums move by an integer vector times eta each step, ``||W_t||_inf`` stays in the
        box, and -- if the sign pattern has settled -- NC0 tends to ``||sigma||/lambda >=
        sqrt(d')/lambda``. Control: the coupled form ``s' = s - eta sigma`` must fail.

        The defaults (a = 0.02, 400 steps: (1 - a)^400 ~ 3e-4) put the run where the parity
        hypothesis holds: on this UFM the sign pattern settles for lambda >= 1 (measured at
        lambda = 1, 2, 5, 10) but keeps changing at lambda = 0.5 and below, where the parity
        row is undecided (the theorem then claims nothing) and the check inconclusive.
        """
        from nctheory.optimizers import optimizer, signgd, signgd_decoupled
        from nctheory.runs.training import run_training
        from nctheory.verdict.sign import box_check, integer_check, parity_check

        hparams = {"lr": lr, "weight_decay": weight_decay}
        spec = optimizer(signgd_decoupled.SPEC.name, **hparams)
        record = run_training(spec, model="ufm", steps=steps, seed=seed, record_every=1)
        increments, ints = integer_check(record, spec)
        # negative control: the coupled chain's derived row sums, s' = s - eta sigma
        coupled, _ = integer_check(record, optimizer(signgd.SPEC.name, **hparams))
        rows = [Comparison(c.name, c.predicted, c.measured, holds_from(c.status), c.sentence)
                for c in (increments, box_check(record, spec), parity_check(record, spec, ints))]
        rows.append(Comparison("coupled form s' = s - eta sigma (wrong theory)", "fails", coupled.status,
                               refuted_from(coupled.status), coupled.sentence, role="control"))
        setting = (f"signgd_decoupled, lr = {lr:g}, weight_decay = {weight_decay:g} (a = {lr * weight_decay:g}); "
                   f"UFM K = 5, d = 16, {steps} steps, float64, seed {seed}")
        return NumericalCheck(self.name, setting, tuple(rows))

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_beyond`)."""
        from nctheory.theorems.prose_beyond import sign_bounds_tex

        return sign_bounds_tex(self)

    def steps(self):
        yield from self._unrolled_steps()
        yield from self._box_steps()
        yield from self._parity_steps()
        yield from self._limit_steps()

    def _unrolled_steps(self):
        return unrolled_steps()

    def _box_steps(self):
        summed = sp.summation(ETA * (1 - A_ETA_LAMBDA) ** (T - 1 - J), (J, 0, T - 1))
        q_sub = {LAMBDA: (1 - Q) / ETA}
        yield identity("geometric sum (sympy summation): eta sum_{j<t} (1-a)^{t-1-j} = claimed, with q = 1 - a "
                       "in (0, 1)", summed.subs(q_sub), self.geometric_sum(T).subs(q_sub), "simplify")
        x = sp.Symbol("X", nonnegative=True)  # |W_0|
        yield identity("box bound, base case: B_0 = |W_0|", self.box_bound(0, x), x, "simplify")
        yield identity("box bound, every t: B_{t+1} = (1 - a) B_t + eta (the geometric sum's recursion)",
                       self.box_bound(T + 1, x), (1 - A_ETA_LAMBDA) * self.box_bound(T, x) + ETA, "simplify")
        yield from self._triangle_steps()
        yield from self._convex_steps(x)

    def _triangle_steps(self):
        """|w| <= B, |sigma| <= 1, 1 - a >= 0  =>  |(1 - a) w - eta sigma| <= (1 - a) B + eta."""
        w, bound, sigma = sp.symbols("w B sigma", real=True)
        g_q, g_eta, g_1, g_2 = sp.symbols("G_q G_eta G_1 G_2", nonnegative=True)
        after = decoupled_sign_step(w, sigma)
        step_bound = (1 - A_ETA_LAMBDA) * bound + ETA
        certified = []
        for sign, (upper, lower) in ((1, (bound - w, 1 + sigma)), (-1, (bound + w, 1 - sigma))):
            certified.append(nonnegative_certificate(
                f"induction step, every t: (1 - a) B + eta {'-' if sign > 0 else '+'} ((1 - a) w - eta sigma) = "
                f"G_q G_1 + G_eta G_2 >= 0 with G_q = 1 - a (a <= 1), G_eta = eta, G_1 = {upper} (|w| <= B), "
                f"G_2 = {lower} (|sigma| <= 1)", step_bound - sign * after, g_q * g_1 + g_eta * g_2,
                {g_q: 1 - A_ETA_LAMBDA, g_eta: ETA, g_1: upper, g_2: lower}))
            yield certified[-1]
        yield fact("so (both signs certified) |W_t| <= B_t implies |W_{t+1}| <= (1 - a) B_t + eta = B_{t+1}: with "
                   "the base case, |W_t| <= B_t for every t by induction (entrywise, any steps in [-1, 1])", (),
                   all(step.holds for step in certified))

    def _convex_steps(self, x):
        theta = sp.Symbol("theta", real=True)
        g_t, g_1t, g_q, g_a, g_u = sp.symbols("G_theta G_1-theta G_q G_a G_u", nonnegative=True)
        q = 1 - A_ETA_LAMBDA
        yield nonnegative_certificate("theta_t = (1 - a)^t in [0, 1] by induction (theta_0 = 1): theta_{t+1} = "
                                      "(1 - a) theta_t >= 0, certificate G_q G_theta", q * theta, g_q * g_t,
                                      {g_q: q, g_t: theta})
        yield nonnegative_certificate("... and 1 - (1 - a) theta_t = a + (1 - a)(1 - theta_t) >= 0, certificate "
                                      "G_a + G_q G_1-theta", 1 - q * theta, g_a + g_q * g_1t,
                                      {g_a: A_ETA_LAMBDA, g_q: q, g_1t: 1 - theta})
        theta_t = q ** T
        yield identity("B_t = theta |W_0| + (1 - theta)/lambda with theta = (1 - a)^t: a convex combination",
                       self.box_bound(T, x), theta_t * x + (1 - theta_t) / LAMBDA, "simplify")
        u = sp.Symbol("u", nonnegative=True)
        cases = (("|W_0| = 1/lambda + u >= 1/lambda", 1 / LAMBDA + u, g_1t * g_u, {g_1t: 1 - theta, g_u: u}),
                 ("|W_0| = 1/lambda - u <= 1/lambda", 1 / LAMBDA - u, g_t * g_u, {g_t: theta, g_u: u}))
        for case, point, certificate, slacks in cases:
            gap = self.box_max(point) - (theta * point + (1 - theta) / LAMBDA)
            yield nonnegative_certificate(f"case {case}: claimed max(|W_0|, 1/lambda) - (theta |W_0| + (1 - theta)"
                                          f"/lambda) >= 0 for theta in [0, 1], certificate {certificate}",
                                          gap, certificate, slacks)
        eta, lam, w0 = sp.Rational(3, 2), sp.Integer(1), sp.Integer(1)
        w1 = decoupled_sign_step(w0, 1).subs({ETA: eta, LAMBDA: lam})
        yield fact("negative control (a > 1): a = 3/2, lambda = 1, W_0 = 1, sigma_0 = 1 give |W_1| = 2 > "
                   "max(|W_0|, 1/lambda) = 1: the hypothesis a <= 1 is needed", (w1,),
                   abs(w1) > sp.Max(abs(w0), 1 / lam))

    def _parity_steps(self):
        k, n = sp.symbols("K n", integer=True, nonnegative=True)
        yield identity("a sum of K signs with n of them -1 is (K - n) - n = K - 2n: the parity of K",
                       (k - n) * 1 + n * (-1), k - 2 * n)
        m, p = sp.Symbol("m", integer=True, nonnegative=True), sp.Symbol("p", integer=True)
        yield identity("every odd K = 2m + 1: K - 2n = 2p + 1 with p = m - n an integer",
                       (2 * m + 1) - 2 * n, 2 * (m - n) + 1)
        g, certified = sp.Symbol("G_p", nonnegative=True), []
        for case, slack in (("p >= 0 (G_p = p)", p), ("p <= -1 (G_p = -1 - p)", -1 - p)):
            certified.append(nonnegative_certificate(f"every integer p, case {case}: (2p + 1)^2 - 1 = 4 p (p + 1) "
                                                     f"= 4 G_p^2 + 4 G_p >= 0 (no integer lies strictly between -1 "
                                                     f"and 0)", (2 * p + 1) ** 2 - 1, 4 * g ** 2 + 4 * g, {g: slack}))
            yield certified[-1]
        yield fact("so (both cases certified) for every odd K, |sum of K signs| = |2p + 1| >= 1", (),
                   all(step.holds for step in certified))
        for size in self.odd_sizes:
            smallest = min(abs(sum(signs)) for signs in product((-1, 1), repeat=size))
            yield fact(f"instance K = {size}: over all 2^{size} sign vectors, min |sum| = {smallest} >= 1",
                       (sp.Integer(smallest),), smallest >= 1)
        smallest_even = min(abs(sum(signs)) for signs in product((-1, 1), repeat=4))
        yield fact("negative control: for even K = 4 the sum can vanish (min |sum| = 0), no floor",
                   (sp.Integer(smallest_even),), smallest_even == 0)

    def _limit_steps(self):
        s, sigma = sp.symbols("s sigma", real=True)
        fixed = sp.solve(sp.Eq(s, decoupled_sign_step(s, sigma)), s)
        yield fact("the fixed point of s' = (1 - a) s - eta sigma is unique", tuple(fixed), len(fixed) == 1)
        yield identity("the fixed point is the claimed limit", fixed[0] if fixed else sp.nan, self.limit(sigma))
        yield fact("the limit does not depend on eta", (self.limit(sigma),), ETA not in self.limit(sigma).free_symbols)
        limit = self.limit(sigma)
        yield identity("s_{t+1} - s* = (1 - a)(s_t - s*), so s_t - s* = (1 - a)^t (s_0 - s*) -> 0 for 0 < a < 2",
                       decoupled_sign_step(s, sigma) - limit, (1 - A_ETA_LAMBDA) * (s - limit))
        dim, i = sp.Symbol("d", integer=True, positive=True), sp.Symbol("i", integer=True)
        sig, pos = sp.IndexedBase("sigma", real=True), sp.IndexedBase("P", nonnegative=True)
        yield sums_identity("every d: ||s*||^2 - d/lambda^2 = sum_{i=1}^d (sigma_i^2 - 1)/lambda^2",
                            sp.Sum(self.limit(sig[i]) ** 2, (i, 1, dim)) - dim / LAMBDA ** 2,
                            sp.Sum((sig[i] ** 2 - 1) / LAMBDA ** 2, (i, 1, dim)))
        terms = sp.Sum(4 * pos[i] / LAMBDA ** 2, (i, 1, dim))
        yield fact("every d, odd K: each sigma_i^2 - 1 = 4 P_i with P_i = p_i (p_i + 1) >= 0 (above), and a sum of "
                   "d nonnegative terms is >= 0: ||s*|| >= sqrt(d)/lambda", (terms,), terms.is_nonnegative is True)
        d = 4
        sigmas = sp.symbols(f"sigma_1:{d + 1}", integer=True)
        limits = sp.Matrix([self.limit(v) for v in sigmas])
        yield identity(f"instance d = {d}: ||s*||^2 - d/lambda^2 = sum_i (sigma_i^2 - 1)/lambda^2",
                       limits.dot(limits) - d / LAMBDA ** 2, sum((v ** 2 - 1 for v in sigmas)) / LAMBDA ** 2, "cancel")
        yield distinct("negative control: the floor is not an artefact of eta -- s* differs from the "
                       "coupled stationary row sum 0", self.limit(sigma), 0)


SIGN_BOUNDS = SignDescentBounds()
__all__ = ["SIGN_BOUNDS", "SignDescentBounds", "decoupled_sign_step", "default_box_bound", "default_box_max",
           "unrolled", "ETA", "LAMBDA"]
