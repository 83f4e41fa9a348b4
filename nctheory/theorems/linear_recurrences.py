"""Exact, data-independent NC0 dynamics of the linear optimizers (THEORY.md section 3).

**Theorem (one per linear spec).** Under Lemma 1 (shift-invariant loss, so every
gradient's columns sum to zero), the row-sum state ``x = (s, u)`` -- ``s = W^T 1_K``,
``u`` the row sums of the momentum buffer -- of SGD, heavy ball, Nesterov, SGDW and QHM
(torch.optim semantics, first-step rule included) follows ``x_{t+1} = A x_t``, with the
recurrence and characteristic polynomial of THEORY.md's table; the row sums converge to
0 exactly on the Schur-Cohn region; momentum accelerates NC0 (rate < 1 - eta lambda)
exactly on the stated region; the optimal momentum and its rate are as stated; the
trajectory has the closed form ``sum_i c_i r_i^t``; the reference rates are as listed.

The claim (:class:`RecurrenceClaim`) is typed from THEORY.md; :meth:`prove` checks the
engine's automatically derived objects (``spec.recurrence()``, ``spec.charpoly()``,
``spec.stability_conditions()``, ...) against it by exact simplification, and runs the
spec's own numerical step in exact arithmetic against the claimed recurrence.
Regions are compared exactly with the Jury form (:mod:`nctheory.theorems.algebra`).

References: Polyak, "Some methods of speeding up the convergence of iteration methods"
(1964) -- heavy ball and its optimal momentum; Lessard, Recht & Packard, "Analysis and
design of optimization algorithms via integral quadratic constraints", SIAM J. Optim.
(2016) -- Nesterov's optimal rate 1 - sqrt(a); Jury (1964) -- the stability test;
Ma & Yarats (ICLR 2019) -- QHM; Loshchilov & Hutter (ICLR 2019) -- SGDW; Zhao et al.,
arXiv:2602.16642 -- the NC0 programme.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from nctheory.optimizers import get_spec, optimizer
from nctheory.theory.symbolic.analysis import iterate_exact
from nctheory.theory.symbolic.rowsum import STEP, X
from nctheory.theorems.algebra import (is_zero_with_square_root, jury_decides,
                      region_steps, with_a)
from nctheory.theorems.base import Comparison, NumericalCheck, Theorem, distinct, fact, holds_from, identity, refuted_from
from nctheory.theorems.exact import centre_columns, iterate_recurrence, rational_array, run_spec_exactly
from nctheory.theorems.linear_claims import (CLAIMS, HEAVY_BALL, NESTEROV, QHM, S, S0, SGD, SGDW, SQRT_A, U,  # noqa: F401
                                            RecurrenceClaim, _iterate_claim, a)



# ---------------------------------------------------------------------- cached engine calls
@lru_cache(maxsize=None)
def engine_closed_form(spec_name: str):
    """``spec.closed_form()`` with every hyperparameter symbolic (slow: cached)."""
    return get_spec(spec_name).closed_form()


def undamped_spec(spec_name: str):
    """The symbolic spec at dampening 0 where it has a dampening (torch's Nesterov requires it)."""
    spec = get_spec(spec_name)
    return spec.with_hparams(dampening=0) if "dampening" in spec.hyperparameter_names else spec


@lru_cache(maxsize=None)
def engine_optimal_momentum(spec_name: str):
    """``spec.optimal_momentum()`` at dampening 0, cached."""
    return undamped_spec(spec_name).optimal_momentum()


def exact_instance(claim: RecurrenceClaim, steps: int = 6):
    """A fixed exact run: W (3 x 2), centred gradients; returns (measured, claimed) histories."""
    spec = get_spec(claim.spec_name)
    weights = rational_array([[1, -2], [sp.Rational(3, 2), 4], [sp.Rational(-1, 3), 5]])
    grads = [centre_columns(rational_array([[t + 1, 2 - t], [3, t * t], [-t, sp.Rational(1, t + 2)]]))
             for t in range(steps)]
    measured = run_spec_exactly(spec, weights, grads, claim.sample_values)
    claimed = iterate_recurrence(spec, measured[0], steps, claim.sample_values,
                                 matrices=(claim.first_matrix(), claim.matrix()))
    return measured, claimed


def basis_coefficients(expression, roots, t=STEP):
    """Write ``expression`` as ``sum_i c_i r_i^t`` (simple roots); None if it is not of that form."""
    basis = {r ** t: sp.Dummy(f"R{i}") for i, r in enumerate(roots)}
    replaced = sp.expand(expression).subs(basis)
    if t in replaced.free_symbols:
        return None
    try:
        poly = sp.Poly(replaced, *basis.values())
    except sp.PolynomialError:
        return None
    if poly.total_degree() > 1 or poly.coeff_monomial(1) != 0:
        return None
    return [poly.coeff_monomial(d) for d in basis.values()]


# ---------------------------------------------------------------------- the theorem
class LinearRecurrenceTheorem(Theorem):
    """The exact NC0 dynamics of one linear optimizer, checked against THEORY.md's claim."""

    reference = ("Zhao et al., arXiv:2602.16642; Polyak (1964); Lessard, Recht & Packard (2016); "
                 "Jury (1964); torch/optim/sgd.py")
    status = "derived by the engine from the spec; proved equal to the claim by exact simplification"

    def __init__(self, claim: RecurrenceClaim):
        self.claim = claim
        self.name = f"linear_recurrence_{claim.spec_name}"
        self.title = f"Exact NC0 dynamics of {claim.title}"
        self.statement = (
            f"For {claim.title} ({claim.spec_name}) and any loss invariant under z -> z + c 1 (Lemma 1), "
            f"the row sums follow {claim.recurrence_text}, characteristic polynomial {claim.charpoly}; "
            f"s_t -> 0 iff {claim.stability.text}; NC0 decays faster than under SGD iff "
            + "; ".join(r.text for r in claim.accelerations)
            + (f"; optimal momentum {claim.optimal[0]} with rate {claim.optimal[1]}" if claim.optimal
               and claim.optimal[0] is not None else ""))
        self.statement_latex = (
            rf"Under Lemma~1, the row-sum state $x_t$ of \texttt{{{claim.spec_name.replace('_', chr(92) + '_')}}} "
            rf"satisfies $x_{{t+1}} = A x_t$ with $A = {sp.latex(claim.matrix())}$ and "
            rf"$\det(xI - A) = {sp.latex(claim.charpoly)}$.")
        self.hypotheses = ("the loss is invariant under z -> z + c 1_K (Lemma 1), so 1^T G_t = 0 at every step",
                           "torch.optim semantics: at the first step the momentum buffer is the (decayed) gradient",
                           *claim.stability.hypotheses)

    # Each group of steps is one paragraph of the proof.
    def paper_tex(self) -> str:
        """Statement and proof as a paper writes them (:mod:`nctheory.theorems.prose_linear`)."""
        from nctheory.theorems.prose_linear import linear_recurrence_tex

        return linear_recurrence_tex(self)

    def steps(self):
        claim, spec = self.claim, get_spec(self.claim.spec_name)
        dynamics = spec.row_sum_dynamics()
        yield fact("the spec's update is linear in (W, G, buffers), so the row-sum map commutes with it",
                   (), spec.is_linear)
        yield identity("regular step: the engine's transition matrix (Lemma 1 applied to the spec) "
                       "equals the claimed recurrence", dynamics.matrix, claim.matrix())
        yield identity("first step from a fresh optimizer (torch's buffer rule) equals the claimed one",
                       dynamics.first_matrix, claim.first_matrix())
        yield identity("characteristic polynomial: det(xI - A) of the engine equals THEORY.md's",
                       spec.charpoly(X), claim.charpoly)
        yield identity("THEORY.md's polynomial is the characteristic polynomial of its own recurrence",
                       claim.matrix().charpoly(X).as_expr(), claim.charpoly)
        if claim.contrast:
            yield distinct(f"negative control: the opposite placement of momentum / decay "
                           f"({claim.contrast}) has a different polynomial", get_spec(claim.contrast).charpoly(X),
                           claim.charpoly)
        yield from self._stability_steps(spec)
        yield from self._acceleration_steps(spec)
        yield from self._optimal_steps()
        yield from self._closed_form_steps(spec)
        yield from self._reference_steps()
        measured, claimed = exact_instance(claim)
        yield fact("the spec's own numerical step, run in exact arithmetic (K = 3, d = 2, 6 steps, "
                   "gradients with zero column sums), moves the row sums exactly as claimed",
                   (sp.Matrix.hstack(*measured[-1]), sp.Matrix.hstack(*claimed[-1])), measured == claimed)

    def check(self, seed: int = 0, steps: int = 300) -> NumericalCheck:
        """Train the UFM with the real optimizer (torch.optim where torch has it) at the claim's
        sample hyperparameters and compare the whole measured row-sum trajectory with (1)
        THEORY.md's recurrence as typed in the claim, iterated in float64, and (2) the
        engine's prediction (:func:`nctheory.verdict.check_record`). Tolerance 1e-9 relative
        in float64, over the steps above the rounding noise floor -- both justified in
        :mod:`nctheory.verdict.linear`. The run stops before the predicted NC0 falls below
        1e-3 of its start (``steps <= ln(1e-3) / ln(rate)``) so that it can be verified.
        Control: the same run judged against the contrasting optimizer's recurrence (or SGD
        with twice the decay) must be refuted.
        """
        from nctheory.runs.training import run_training
        from nctheory.verdict import check_record

        claim = self.claim
        spec = get_spec(claim.spec_name)
        hparams = {k: float(v) for k, v in claim.sample_values.items() if k in spec.hyperparameter_names}
        rate = optimizer(claim.spec_name, **hparams).rate()
        steps = min(steps, max(20, int(math.log(1e-3) / math.log(rate))))
        record = run_training(claim.spec_name, hparams, model="ufm", steps=steps, seed=seed)
        verdict = check_record(record)
        measured = np.asarray(record.row_sums, dtype=np.float64)
        typed = _iterate_claim(claim, measured[0], steps)
        resolvable = verdict.details.get("first_unresolvable_step") or steps + 1
        norms = np.linalg.norm(measured[:resolvable], axis=1)
        typed_error = float(np.max(np.linalg.norm(typed[:resolvable] - measured[:resolvable], axis=1) / norms))
        wrong = claim.contrast or f"{claim.spec_name}:weight_decay={2 * hparams['weight_decay']:g}"
        control = check_record(record, theory=wrong)
        decided = holds_from(verdict.verdict)
        rows = (
            Comparison("THEORY.md's recurrence (typed claim) vs measured: max rel. error", f"<= {verdict.tolerance:g}",
                       typed_error, None if decided is None else typed_error <= verdict.tolerance,
                       f"over steps 0..{resolvable - 1}, above the rounding noise floor"),
            Comparison("the engine's prediction vs measured: max rel. error", f"<= {verdict.tolerance:g}",
                       verdict.max_rel_error, decided, verdict.reasons[0] if verdict.reasons else ""),
            Comparison("rate (spectral radius vs fit of log NC0)", verdict.predicted_rate, verdict.measured_rate, None,
                       role="info"),
            Comparison(f"NC0 at step {steps}", float(np.linalg.norm(typed[-1])), float(np.linalg.norm(measured[-1])),
                       None, role="info"),
            Comparison(f"the same run judged against {wrong}", "refuted", control.verdict,
                       refuted_from(control.verdict), control.reasons[0] if control.reasons else "", role="control"),
        )
        setting = (f"{claim.spec_name} with {', '.join(f'{k}={v:g}' for k, v in hparams.items())}; UFM (K = 5, "
                   f"d = 16, n = 8), {steps} steps, {record.implementation}, float64, seed {seed}")
        return NumericalCheck(self.name, setting, rows)

    def _stability_steps(self, spec):
        region = self.claim.stability
        conditions = spec.with_hparams(**region.values).stability_conditions()
        charpoly = spec.with_hparams(**region.values).charpoly(X)
        yield from region_steps("stability (radius 1)", conditions.inequalities, charpoly, X, 1, region)

    def _acceleration_steps(self, spec):
        for region in self.claim.accelerations:
            bound = spec.with_hparams(**region.values)
            yield from region_steps(f"acceleration [{region.text}] (radius 1 - a)",
                                    bound.acceleration_conditions().inequalities, bound.charpoly(X), X,
                                    1 - a, region)

    def _optimal_steps(self):
        if self.claim.optimal is None:
            return
        result = engine_optimal_momentum(self.claim.spec_name)
        claimed_mu, claimed_rate = self.claim.optimal
        accelerates = not all(region.never for region in self.claim.accelerations)
        yield fact(f"the engine says the optimal momentum {'beats' if accelerates else 'does not beat'} SGD's "
                   f"rate 1 - a, as the acceleration claim implies", (result.momentum,),
                   getattr(result, "beats_sgd", accelerates) == accelerates)
        if claimed_mu is not None:
            yield identity("optimal momentum (tau = 0): the engine's root of the discriminant equals the claim",
                           result.momentum, with_a(claimed_mu), "simplify")
        yield identity("optimal rate (tau = 0): the engine's double root equals the claim",
                       result.rate, with_a(claimed_rate), "simplify")

    def _closed_form_steps(self, spec):
        closed = engine_closed_form(self.claim.spec_name)
        roots = list(closed.roots)
        yield fact("closed form: the engine's formula holds from t = 0", (closed.expression,),
                   closed.valid_from == 0)
        for number, root in enumerate(roots, 1):
            yield identity(f"closed form: its root r_{number} (the base of r_{number}^t) is a root of the claimed "
                           f"polynomial p(x)", self.claim.charpoly.subs(X, root), 0)
        if self.claim.closed_form is not None:
            yield identity("closed form equals the claimed trajectory", closed.expression,
                           self.claim.closed_form)
            return
        multiplicities = set(closed.roots.values())
        coefficients = basis_coefficients(closed.expression, roots)
        yield fact("closed form is c_1 r_1^t + c_2 r_2^t with distinct roots (THEORY.md's shape), so it "
                   "satisfies s_{t+2} = -b s_{t+1} - c s_t for every t", tuple(coefficients or ()),
                   coefficients is not None and multiplicities == {1} and len(roots) == 2)
        iterates = iterate_exact(spec, S0, 2)
        for k in range(3):
            difference = closed.expression.subs(STEP, k) - iterates[k]
            holds = is_zero_with_square_root(difference)
            yield fact(f"closed form at t = {k} equals the exact iterate (three values fix the solution of "
                       f"the second-order recurrence, which the iterates obey for t >= 1)",
                       (closed.expression.subs(STEP, k), iterates[k]), holds)

    def _reference_steps(self):
        for values, rate in self.claim.references:
            bound = optimizer(self.claim.spec_name, **values)
            low, high = sp.Rational(rate) - sp.Rational(1, 10 ** 8), sp.Rational(rate) + sp.Rational(1, 10 ** 8)
            poly = bound.charpoly(X)
            inside = jury_decides(poly, X, high) and not jury_decides(poly, X, low)
            yield fact(f"reference rate {rate} at {values}: every root has |x| < {rate} + 1e-8 and some root "
                       f"has |x| >= {rate} - 1e-8 (Jury conditions decided in exact rationals)",
                       (poly,), inside)
            yield fact(f"the engine's numerical spec.rate() = {bound.rate()!r} lies within 1e-8 of {rate}",
                       (sp.Float(bound.rate(), 17),), low <= sp.Rational(repr(bound.rate())) <= high)


LINEAR_RECURRENCES = {name: LinearRecurrenceTheorem(claim) for name, claim in CLAIMS.items()}
