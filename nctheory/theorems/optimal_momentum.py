"""Optimal momentum for the NC0 row sums: heavy ball, Nesterov and QHM (THEORY.md section 3).

**Theorem.** Let ``0 < a = eta lambda < 1`` and dampening ``tau = 0``. Among momenta
``mu in [0, 1)``, the spectral radius of the row-sum recurrence is minimised exactly at

* heavy ball (Polyak 1964):  ``mu* = (1 - sqrt a)^2``, rate ``rho* = 1 - sqrt a``;
* Nesterov (Lessard, Recht & Packard 2016):  ``mu* = (1 - sqrt a) / (1 + sqrt a)``, rate
  ``rho* = 1 - sqrt a``;
* QHM with ``0 < nu <= 1`` (derived here; Ma & Yarats 2019 define the method): with
  ``r = 1 - a (1 - nu)``, ``mu* = (sqrt r - a sqrt nu)^2 / (1 + a nu)^2`` and rate
  ``rho* = (r - a sqrt(nu r)) / (1 + a nu)``; at ``nu = 1``, ``((1 - a)/(1 + a))^2`` and
  ``(1 - a)/(1 + a)``;

every rate strictly below SGD's ``1 - a``.

**Proof** (for a monic quadratic ``p(x; mu) = x^2 + b(mu) x + c(mu)``, affine in mu):

1. the discriminant ``b^2 - 4c`` vanishes at mu*, where the double root is ``-b/2 = rho*``;
2. ``p(rho*; mu) = kappa (mu - mu*)`` with ``kappa > 0``: for ``mu < mu*``,
   ``p(rho*) < 0`` and the monic p has a real root above rho*;
3. ``c(mu*) = rho*^2`` and c increases with mu: for ``mu > mu*`` complex roots have
   modulus ``sqrt(c(mu)) > rho*``;
4. ``-b`` increases with mu: for ``mu > mu*`` real roots lie on the same side of rho*
   (``p(rho*) > 0`` by step 2) and their mean ``-b(mu)/2`` exceeds ``-b(mu*)/2 = rho*``,
   so both exceed it.

Hence ``rate(mu) > rho*`` for every ``mu >= 0`` other than mu*. Every quantity is made
rational by a substitution that covers the hypotheses exactly (a :class:`Case`), and
positivity is certified exactly (:func:`nctheory.theorems.algebra.certified_positive`):
``a = alpha^2`` with ``alpha = Z/(1 + Z)`` for heavy ball and Nesterov; for QHM with
``0 < nu < 1``, ``nu = n^2`` and ``r = R^2`` -- then ``1 - R^2 = a (1 - n^2)`` and
``R^2 - n^2 = (1 - a)(1 - n^2)``, so ``0 < a < 1`` is exactly ``0 < n < R < 1`` -- and
in those variables ``mu* = ((R - n)/(1 - R n))^2``, ``rho* = R (R - n)/(1 - R n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from nctheory.optimizers import get_spec, qhm, sgd_momentum, sgd_nesterov
from nctheory.theory.symbolic.rowsum import X
from nctheory.theorems.algebra import A_, MU, NU, OPEN_UNIT_A, certified_positive, in_terms_of_a
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, fact, holds_from, identity, refuted_from
from nctheory.theorems.linear_recurrences import engine_optimal_momentum, undamped_spec

ALPHA = sp.Symbol("alpha", positive=True)  # alpha = sqrt(a)
_Z = sp.Symbol("Z", positive=True)
ALPHA_IN_UNIT_INTERVAL = {ALPHA: _Z / (1 + _Z)}
#: QHM's rational variables: n = sqrt(nu), R = sqrt(1 - a (1 - nu)), 0 < n < R < 1.
N_, R_ = sp.symbols("n R", positive=True)
_Z1, _Z2 = sp.symbols("Z1 Z2", positive=True)


@dataclass(frozen=True)
class Case:
    """A range of the hyperparameters on which every quantity of the proof is rational.

    ``fixed`` is substituted first (e.g. ``nu = 1``), then ``rational`` (the change of
    variables that removes the square roots); ``positive`` are the parametrisations,
    applied in order, under which positivity is certified over exactly this range;
    ``bounds`` the hypotheses (expressions in a, nu that must be positive), certified on
    the parametrised range so that it lies inside them. (That it covers all of them is
    argued in the module docstring.)
    """

    text: str
    rational: dict
    positive: tuple
    fixed: dict = field(default_factory=dict)
    bounds: tuple = (A_, 1 - A_)

    def rationalise(self, expr):
        """``expr`` (in a, nu, sqrt(...)) in this case's rational variables."""
        expr = sp.sympify(expr).subs(self.fixed).subs(self.rational)
        expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2,
                            lambda e: sp.sqrt(sp.factor(e.base)) ** (2 * e.exp))
        return sp.cancel(expr)

    def positive_here(self, expr) -> bool:
        """``expr > 0`` certified on the whole range of this case."""
        expr = sp.sympify(expr)
        for parametrisation in self.positive:
            expr = expr.subs(parametrisation)
        return certified_positive(expr)


UNIT_A = Case("0 < a < 1", {A_: ALPHA ** 2}, (ALPHA_IN_UNIT_INTERVAL,))
QHM_OPEN_NU = Case("0 < a < 1, 0 < nu < 1",
                   {NU: N_ ** 2, A_: (1 - R_ ** 2) / (1 - N_ ** 2)},
                   ({R_: N_ + (1 - N_) * _Z2 / (1 + _Z2)}, {N_: _Z1 / (1 + _Z1)}),
                   bounds=(A_, 1 - A_, NU, 1 - NU))
QHM_NU_ONE = Case("0 < a < 1, nu = 1", {}, (OPEN_UNIT_A,), fixed={NU: 1})


class OptimalMomentumTheorem(Theorem):
    """``argmin_mu rate(mu) = mu*`` with ``rate(mu*) = rho*``, for one momentum spec (tau = 0)."""

    status = "proved symbolically (exact identities and positivity certificates)"

    def __init__(self, spec_name: str, claimed_momentum, claimed_rate, reference: str,
                 cases: tuple = (UNIT_A,), extra_hypotheses: tuple = ()):
        self.spec_name = spec_name
        self.claimed_momentum = sp.sympify(claimed_momentum)
        self.claimed_rate = sp.sympify(claimed_rate)
        self.reference = reference
        self.cases = cases
        self.hypotheses = ("0 < a = eta lambda < 1", "dampening tau = 0", *extra_hypotheses,
                           "momentum mu in [0, 1)",
                           "a shift-invariant loss (Lemma 1), so the row sums follow the linear recurrence")
        self.name = f"optimal_momentum_{spec_name}"
        self.title = f"Optimal momentum for the NC0 row sums ({spec_name})"
        self.statement = (f"For 0 < a < 1 and tau = 0{''.join(', ' + h for h in extra_hypotheses)}, the "
                          f"momentum mu* = {self.claimed_momentum} uniquely minimises the row-sum rate of "
                          f"{spec_name} over mu in [0, 1), with rate {self.claimed_rate} < 1 - a.")
        self.statement_latex = (rf"For $0 < a = \eta\lambda < 1$ and $\tau = 0$: "
                                rf"$\arg\min_{{\mu\in[0,1)}} \rho(\mu) = {sp.latex(self.claimed_momentum)}$, "
                                rf"$\min \rho = {sp.latex(self.claimed_rate)} < 1 - a$.")

    def charpoly(self):
        """``p(x; mu)`` at tau = 0, in a."""
        return in_terms_of_a(undamped_spec(self.spec_name).charpoly(X))

    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_linear`)."""
        from nctheory.theorems.prose_linear import optimal_momentum_tex

        return optimal_momentum_tex(self)

    def steps(self):
        engine = engine_optimal_momentum(self.spec_name)
        for case in self.cases:
            yield from self._case_steps(case, engine)

    def check(self, seed: int = 0, lr: float = 0.2, weight_decay: float = 0.2, nu: float = 0.7,
              max_steps: int = 400) -> NumericalCheck:
        """Train the UFM at mu*/2, mu* and (1 + mu*)/2 (a = lr * weight_decay = 0.04).

        Each run's row sums must follow the recurrence (:func:`nctheory.verdict.check_record`,
        tolerance 1e-9 in float64), and the run at mu* must end with the smallest NC0. The
        runs last ``ln(1e-3) / ln(rho*)`` steps (30 for heavy ball and Nesterov, rho* = 0.8;
        93 for QHM; at least 3, at most ``max_steps``): long enough to separate the rates, short enough
        to stay above the float64 noise floor. (At a = 0.01 QHM needs 375 steps, and the
        oscillating run at (1 + mu*)/2 passes so close to NC0 = 0 that the comparison cannot
        discriminate there: inconclusive.) The spectral radius the engine computes at the two
        other momenta must exceed rho*. Control: the run at mu* judged against the recurrence
        at momentum (1 + mu*)/2 must be refuted.
        """
        from nctheory.optimizers import optimizer
        from nctheory.runs.training import run_training
        from nctheory.verdict import check_record

        from nctheory.errors import HyperparameterError

        if not (lr > 0 and weight_decay > 0 and lr * weight_decay < 1):
            raise HyperparameterError(f"{self.name}: lr * weight_decay must lie in (0, 1) (the hypothesis "
                                      f"0 < a < 1), got lr={lr!r}, weight_decay={weight_decay!r}")
        if not 0 < nu <= 1:
            raise HyperparameterError(f"{self.name}: nu must lie in (0, 1] (the hypothesis), got {nu!r}")
        point = {A_: sp.Rational(repr(lr)) * sp.Rational(repr(weight_decay)), NU: sp.Rational(repr(nu))}
        mu_star, rho_star = float(self.claimed_momentum.subs(point)), float(self.claimed_rate.subs(point))
        # >= 3 steps: the first step is the same for every momentum (torch's buffer b_1 = d_0)
        steps = min(max_steps, max(3, int(math.log(1e-3) / math.log(rho_star))))
        names = get_spec(self.spec_name).hyperparameter_names
        base = {"lr": lr, "weight_decay": weight_decay, **({"nu": nu} if "nu" in names else {}),
                **({"dampening": 0.0} if "dampening" in names else {})}
        rows, finals = [], {}
        for label, momentum in (("mu*/2", mu_star / 2), ("mu*", mu_star), ("(1 + mu*)/2", (1 + mu_star) / 2)):
            hparams = dict(base, momentum=momentum)
            record = run_training(self.spec_name, hparams, model="ufm", steps=steps, seed=seed)
            verdict = check_record(record)
            rows.append(Comparison(f"{label} = {momentum:.6f}: row sums follow the recurrence",
                                   f"<= {verdict.tolerance:g}", verdict.max_rel_error, holds_from(verdict.verdict),
                                   verdict.reasons[0] if verdict.verdict == "diverged" else ""))
            rate = optimizer(self.spec_name, **hparams).rate()
            if verdict.verdict != "diverged":
                series = verdict.series
                finals[label] = float(series["measured_nc0"][-1] / series["measured_nc0"][0])
                rows.append(Comparison(f"{label}: NC0_T / NC0_0", float(series["predicted_nc0"][-1]
                                                                      / series["measured_nc0"][0]),
                                       finals[label], None, role="info"))
            if label == "mu*":
                rows.append(Comparison("mu*: spectral radius (claimed rho* vs engine, float64)", rho_star, rate,
                                       abs(rate - rho_star) <= 1e-6,
                                       "a double root: float64 mu* splits it by ~sqrt(eps) ~ 1e-8"))
                optimum = record
            else:
                rows.append(Comparison(f"{label}: spectral radius exceeds rho*", f"> {rho_star:.6f}", rate,
                                       rate > rho_star))
        other = (1 + mu_star) / 2
        control = check_record(optimum, theory=f"{self.spec_name}:momentum={other!r}")
        rows.append(Comparison("the run at mu* judged against momentum (1 + mu*)/2", "refuted", control.verdict,
                               refuted_from(control.verdict), role="control"))
        ranked = sorted(finals, key=finals.get)
        if len(ranked) < 3:
            best, decided = "n/a (a run diverged)", None
        elif finals[ranked[1]] - finals[ranked[0]] <= 1e-9 * finals[ranked[1]]:
            best, decided = f"tie ({ranked[0]}, {ranked[1]})", None  # too few steps to separate the rates
        else:
            best, decided = ranked[0], ranked[0] == "mu*"
        rows.append(Comparison("momentum with the smallest NC0 at the end", "mu*", best, decided))
        setting = (f"{self.spec_name}, lr = {lr:g}, weight_decay = {weight_decay:g}"
                   + (f", nu = {nu:g}" if "nu" in names else "") + f" (a = {lr * weight_decay:g}): "
                   f"mu* = {mu_star:.6f}, rho* = {rho_star:.6f}; UFM, {steps} steps, float64, seed {seed}")
        return NumericalCheck(self.name, setting, tuple(rows))

    def _case_steps(self, case: Case, engine):
        def say(text):
            return f"[{case.text}] {text}" if len(self.cases) > 1 else text

        yield fact(say("the parametrisation stays inside the hypotheses: "
                       + ", ".join(f"{bound} > 0" for bound in case.bounds) + " (certified)"),
                   tuple(case.rationalise(bound) for bound in case.bounds),
                   all(case.positive_here(case.rationalise(bound)) for bound in case.bounds))
        mu_star, rho_star = case.rationalise(self.claimed_momentum), case.rationalise(self.claimed_rate)
        yield identity(say("the engine's optimal momentum (root of the discriminant) equals the claim"),
                       case.rationalise(in_terms_of_a(engine.momentum)), mu_star, "cancel")
        yield identity(say("the engine's optimal rate (the double root) equals the claim"),
                       case.rationalise(in_terms_of_a(engine.rate)), rho_star, "cancel")
        p = case.rationalise(self.charpoly())
        poly = sp.Poly(p, X)
        _, b, c = poly.all_coeffs()
        yield fact(say("p(x; mu) is a monic quadratic whose coefficients are affine in mu"),
                   (p,), poly.degree() == 2 and poly.LC() == 1
                   and all(sp.degree(coeff, MU) <= 1 for coeff in (b, c)))
        yield identity(say("1. the discriminant b^2 - 4c vanishes at mu*"),
                       sp.expand(b ** 2 - 4 * c).subs(MU, mu_star), 0, "cancel")
        yield identity(say("1. the double root -b/2 at mu* is rho*"), (-b / 2).subs(MU, mu_star), rho_star, "cancel")
        kappa = sp.diff(p, MU).subs(X, rho_star)
        yield identity(say("2. p(rho*; mu) = kappa (mu - mu*) with kappa = dp/dmu at rho*"),
                       p.subs(X, rho_star), kappa * (MU - mu_star), "cancel")
        yield fact(say(f"2. kappa = {sp.factor(kappa)} > 0 (certified), so for mu < mu* p(rho*) < 0 and the "
                       f"larger real root exceeds rho*"), (kappa,), case.positive_here(kappa))
        yield identity(say("3. the product of the roots at mu* is rho*^2"), c.subs(MU, mu_star), rho_star ** 2,
                       "cancel")
        slope = sp.diff(c, MU)
        yield fact(say(f"3. rho* > 0 and c(mu) increases with mu: dc/dmu = {sp.factor(slope)} > 0 (certified), "
                       f"so complex roots for mu > mu* have modulus sqrt(c(mu)) > rho*"), (rho_star, slope),
                   case.positive_here(rho_star) and case.positive_here(slope))
        mean_slope = -sp.diff(b, MU)
        yield fact(say(f"4. -b(mu) increases with mu: -db/dmu = {sp.factor(mean_slope)} > 0 (certified), so for "
                       f"mu > mu* real roots, on one side of rho* since p(rho*) > 0, have mean -b/2 > rho*: "
                       f"both exceed rho*"), (mean_slope,), case.positive_here(mean_slope))
        yield fact(say("mu* lies in [0, 1) (certified: mu* > 0 and 1 - mu* > 0)"), (mu_star,),
                   case.positive_here(mu_star) and case.positive_here(1 - mu_star))
        beats = case.rationalise(1 - A_) - rho_star
        yield fact(say("rho* is strictly below SGD's rate: (1 - a) - rho* > 0 (certified)"),
                   (sp.factor(beats),), case.positive_here(beats))


SQRT_A = sp.sqrt(A_)
HEAVY_BALL = OptimalMomentumTheorem(
    sgd_momentum.SPEC.name, (1 - SQRT_A) ** 2, 1 - SQRT_A,
    "Polyak, 'Some methods of speeding up the convergence of iteration methods' (1964)")
NESTEROV = OptimalMomentumTheorem(
    sgd_nesterov.SPEC.name, (1 - SQRT_A) / (1 + SQRT_A), 1 - SQRT_A,
    "Lessard, Recht & Packard, SIAM J. Optim. 26 (2016); Nesterov (1983)")
_R_QHM = 1 - A_ * (1 - NU)
QHM = OptimalMomentumTheorem(
    qhm.SPEC.name, (sp.sqrt(_R_QHM) - A_ * sp.sqrt(NU)) ** 2 / (1 + A_ * NU) ** 2,
    (_R_QHM - A_ * sp.sqrt(NU * _R_QHM)) / (1 + A_ * NU),
    "derived here (the method: Ma & Yarats, 'Quasi-hyperbolic momentum and Adam for deep learning', ICLR 2019)",
    cases=(QHM_OPEN_NU, QHM_NU_ONE), extra_hypotheses=("0 < nu <= 1",))

OPTIMAL_MOMENTUM = {theorem.spec_name: theorem for theorem in (HEAVY_BALL, NESTEROV, QHM)}

__all__ = ["ALPHA", "ALPHA_IN_UNIT_INTERVAL", "HEAVY_BALL", "NESTEROV", "OPTIMAL_MOMENTUM", "QHM",
           "Case", "OptimalMomentumTheorem"]
