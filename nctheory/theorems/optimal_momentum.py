"""Optimal momentum for the NC0 row sums: heavy ball and Nesterov (THEORY.md section 3).

**Theorem.** Let ``0 < a = eta lambda < 1`` and dampening ``tau = 0``. Among momenta
``mu in [0, 1)``, the spectral radius of the row-sum recurrence is minimised exactly at

* heavy ball (Polyak 1964):  ``mu* = (1 - sqrt a)^2``;
* Nesterov (Lessard, Recht & Packard 2016):  ``mu* = (1 - sqrt a) / (1 + sqrt a)``;

both with rate ``rho* = 1 - sqrt a`` -- strictly below SGD's ``1 - a``.

**Proof** (for a monic quadratic ``p(x; mu) = x^2 + b(mu) x + c(mu)``, affine in mu;
write ``a = alpha^2`` with ``0 < alpha < 1``):

1. the discriminant ``b^2 - 4c`` vanishes at mu*, where the double root is ``-b/2 = rho*``;
2. ``p(rho*; mu) = kappa (mu - mu*)`` with ``kappa > 0``: for ``mu < mu*``,
   ``p(rho*) < 0`` and the monic p has a real root above rho*;
3. ``c(mu*) = rho*^2`` and c increases with mu; the discriminant is
   ``L (mu - mu*)(mu - mu**)`` with ``L > 0`` and ``mu** >= 1``, so for
   ``mu* < mu < 1`` the roots are complex with modulus ``sqrt(c(mu)) > rho*``.

Hence ``rate(mu) > rho*`` for every ``mu in [0, 1)`` other than mu*. Positivity claims
are certified exactly (:func:`nctheory.theorems.algebra.certified_positive`) with the
parametrisation ``alpha = Z / (1 + Z)``, ``Z > 0``.
"""

from __future__ import annotations

import sympy as sp

from ..optimizers import get_spec
from ..symbolic.rowsum import X
from .algebra import A_, MU, certified_positive, in_terms_of_a, with_a
from .base import Theorem, fact, identity
from .linear_recurrences import engine_optimal_momentum

ALPHA = sp.Symbol("alpha", positive=True)  # alpha = sqrt(a)
_Z = sp.Symbol("Z", positive=True)
ALPHA_IN_UNIT_INTERVAL = {ALPHA: _Z / (1 + _Z)}


def _to_alpha(expr):
    """An expression in a (or in sqrt(a)) rewritten with a = alpha^2."""
    return sp.cancel(sp.sympify(expr).subs(A_, ALPHA ** 2))


class OptimalMomentumTheorem(Theorem):
    """``argmin_mu rate(mu) = mu*`` with ``rate(mu*) = rho*``, for one momentum spec (tau = 0)."""

    hypotheses = ("0 < a = eta lambda < 1", "dampening tau = 0", "momentum mu in [0, 1)",
                  "a shift-invariant loss (Lemma 1), so the row sums follow the linear recurrence")
    status = "proved symbolically (exact identities and positivity certificates)"

    def __init__(self, spec_name: str, claimed_momentum, claimed_rate, reference: str):
        self.spec_name = spec_name
        self.claimed_momentum = sp.sympify(claimed_momentum)
        self.claimed_rate = sp.sympify(claimed_rate)
        self.reference = reference
        self.name = f"optimal_momentum_{spec_name}"
        self.title = f"Optimal momentum for the NC0 row sums ({spec_name})"
        self.statement = (f"For 0 < a < 1 and tau = 0, the momentum mu* = {self.claimed_momentum} uniquely "
                          f"minimises the row-sum rate of {spec_name} over mu in [0, 1), with rate "
                          f"{self.claimed_rate} < 1 - a.")
        self.statement_latex = (rf"For $0 < a = \eta\lambda < 1$ and $\tau = 0$: "
                                rf"$\arg\min_{{\mu\in[0,1)}} \rho(\mu) = {sp.latex(self.claimed_momentum)}$, "
                                rf"$\min \rho = {sp.latex(self.claimed_rate)} < 1 - a$.")

    def charpoly(self):
        """``p(x; mu)`` at tau = 0, in a."""
        spec = get_spec(self.spec_name).with_hparams(dampening=0)
        return in_terms_of_a(spec.charpoly(X))

    def steps(self):
        mu_star, rho_star = _to_alpha(self.claimed_momentum), _to_alpha(self.claimed_rate)
        engine = engine_optimal_momentum(self.spec_name)
        yield identity("the engine's optimal momentum (root of the discriminant) equals the claim",
                       engine.momentum, with_a(self.claimed_momentum), "simplify")
        yield identity("the engine's optimal rate (the double root) equals the claim",
                       engine.rate, with_a(self.claimed_rate), "simplify")
        p = _to_alpha(self.charpoly())
        poly = sp.Poly(p, X)
        _, b, c = poly.all_coeffs()
        yield fact("p(x; mu) is a monic quadratic whose coefficients are affine in mu",
                   (p,), poly.degree() == 2 and poly.LC() == 1
                   and all(sp.degree(coeff, MU) <= 1 for coeff in (b, c)))
        disc = sp.expand(b ** 2 - 4 * c)
        yield identity("1. the discriminant b^2 - 4c vanishes at mu*", disc.subs(MU, mu_star), 0, "cancel")
        yield identity("1. the double root -b/2 at mu* is rho*", (-b / 2).subs(MU, mu_star), rho_star, "cancel")
        kappa = sp.diff(p, MU).subs(X, rho_star)
        yield identity("2. p(rho*; mu) = kappa (mu - mu*) with kappa = dp/dmu at rho*",
                       p.subs(X, rho_star), kappa * (MU - mu_star), "cancel")
        yield fact(f"2. kappa = {sp.factor(kappa)} > 0 for 0 < alpha < 1 (certified), so for mu < mu* "
                   f"p(rho*) < 0 and the larger real root exceeds rho*", (kappa,),
                   certified_positive(kappa, ALPHA_IN_UNIT_INTERVAL))
        yield identity("3. the product of the roots at mu* is rho*^2", c.subs(MU, mu_star), rho_star ** 2, "cancel")
        slope = sp.diff(c, MU)
        yield fact(f"3. c(mu) increases with mu: dc/dmu = {sp.factor(slope)} > 0 (certified), so complex roots "
                   f"for mu > mu* have modulus sqrt(c(mu)) > rho*", (slope,),
                   certified_positive(slope, ALPHA_IN_UNIT_INTERVAL))
        disc_poly = sp.Poly(disc, MU)
        leading = disc_poly.LC()
        other = sp.cancel(disc_poly.TC() / (leading * mu_star))  # Vieta: mu* mu** = TC / LC
        yield identity("3. the discriminant factors as L (mu - mu*)(mu - mu**)", disc,
                       leading * (MU - mu_star) * (MU - other), "cancel")
        yield fact(f"3. L = {sp.factor(leading)} > 0 and mu** - 1 = {sp.factor(other - 1)} > 0 (certified): "
                   f"the discriminant is negative on (mu*, 1), the roots are complex there",
                   (leading, other), certified_positive(leading, ALPHA_IN_UNIT_INTERVAL)
                   and certified_positive(other - 1, ALPHA_IN_UNIT_INTERVAL))
        yield fact("mu* lies in [0, 1) (certified: mu* > 0 and 1 - mu* > 0)", (mu_star,),
                   certified_positive(mu_star, ALPHA_IN_UNIT_INTERVAL)
                   and certified_positive(1 - mu_star, ALPHA_IN_UNIT_INTERVAL))
        yield fact("rho* is strictly below SGD's rate: (1 - a) - rho* > 0 (certified)",
                   (sp.factor(1 - ALPHA ** 2 - rho_star),),
                   certified_positive(1 - ALPHA ** 2 - rho_star, ALPHA_IN_UNIT_INTERVAL))


SQRT_A = sp.sqrt(A_)
HEAVY_BALL = OptimalMomentumTheorem(
    "sgd_momentum", (1 - SQRT_A) ** 2, 1 - SQRT_A,
    "Polyak, 'Some methods of speeding up the convergence of iteration methods' (1964)")
NESTEROV = OptimalMomentumTheorem(
    "sgd_nesterov", (1 - SQRT_A) / (1 + SQRT_A), 1 - SQRT_A,
    "Lessard, Recht & Packard, SIAM J. Optim. 26 (2016); Nesterov (1983)")

OPTIMAL_MOMENTUM = {theorem.spec_name: theorem for theorem in (HEAVY_BALL, NESTEROV)}

__all__ = ["ALPHA", "ALPHA_IN_UNIT_INTERVAL", "HEAVY_BALL", "NESTEROV", "OPTIMAL_MOMENTUM",
           "OptimalMomentumTheorem"]
