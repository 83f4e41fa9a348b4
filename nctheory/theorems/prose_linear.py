r"""Paper text of the linear-optimizer theorems: exact row-sum dynamics and optimal momentum.

The displays are the objects of the theorems' proofs: the transition matrices and
characteristic polynomial the derivation produced and the claim matched, the Jury factors
of the Schur--Cohn test (stability at radius 1, acceleration at radius ``1 - a``), and the
quantities of the four-step optimal-momentum argument. Rational variables introduced for
the certificates (``alpha = sqrt(a)``) are substituted back for display (exact).
"""

from __future__ import annotations

import sympy as sp

from nctheory.theorems.algebra import A_
from nctheory.theorems.plain_math import HYPERPARAMETERS, plain_to_tex
from nctheory.theorems.prose import document_has, environment, explained_in, proof_or_failure, refer, step, steps
from nctheory.theorems.tex import equation, nicest, pairs, polynomial, tex
from nctheory.theory.symbolic.rowsum import X

Z = sp.Symbol("z")


def _a(expr):
    """``eta * lambda -> a`` where the expression depends on them only through the product."""
    from nctheory.theorems.algebra import ETA, LAMBDA, in_terms_of_a

    direct = sp.sympify(expr).subs({sp.sqrt(ETA) * sp.sqrt(LAMBDA): sp.sqrt(A_)}).subs(ETA * LAMBDA, A_)
    if not direct.free_symbols & {ETA, LAMBDA}:
        return direct
    try:
        return in_terms_of_a(expr)
    except ValueError:
        return expr


def _polynomial(expr) -> str:
    """A polynomial in x written in z, descending powers, coefficients in a where possible."""
    expr = sp.sympify(expr).subs(X, Z)
    poly = sp.Poly(sp.expand(expr), Z)
    return polynomial(sum((_a(c) * Z ** k for (k,), c in poly.terms()), sp.Integer(0)), Z)


def _labels(degree: int, radius: str) -> list[str]:
    if degree == 1:
        return [rf"{radius} - \rate", rf"{radius} + \rate"]
    square = "1" if radius == "1" else rf"({radius})^2"
    minus = "-1" if radius == "1" else "a - 1"
    return [rf"{square} - c", rf"{square} + c", rf"\chi({radius})", rf"\chi({minus})"]


def _conditions(region) -> str:
    return ", ".join(f"${tex(nicest(c))} > 0$" for c in region.conditions)


def _jury_paragraph(proof, what: str, degree: int, radius: str, region, brief: bool = False) -> str:
    """The Jury factors at one radius and what they say. ``brief``: a special case of a region
    shown in full just before -- only the factors not certified positive, inline."""
    factors = steps(proof, f"{what}: Jury factor")
    labels = _labels(degree, radius)
    if region.never:
        empty = step(proof, f"{what}: a Jury factor is identically 0")
        rows = [(label, "=", nicest(f)) for label, f in zip(labels, empty.objects)]
        return (_factors_shown(rows, degree) + "\nOne of these factors is identically $0$ or certified non-positive "
                "under the hypotheses, so the strict conditions never hold together.")
    rows = [(label, "=", nicest(s.objects[0])) for label, s in zip(labels, factors)]
    always = [label for label, s in zip(labels, factors) if len(s.objects) == 1]
    if brief:
        open_rows = [f"${label} = {tex(f)}$" for (label, _, f), s in zip(rows, factors) if len(s.objects) > 1]
        return ("the factors not certified positive are " + ", ".join(open_rows)
                + ", positive exactly when " + _conditions(region) + ".")
    text = _factors_shown(rows, degree)
    stated = {tex(nicest(c)) for c in region.conditions}
    if not always and stated == {tex(f) for _, _, f in rows}:
        return text + "\nThe condition of the statement is exactly that these are all positive."
    if always:
        text += ("\n" + ", ".join(f"${label}$" for label in always) + (" is" if len(always) == 1 else " are")
                 + r" positive under the hypotheses (certified); the others are positive exactly when "
                 + _conditions(region) + ".")
    else:
        text += "\nThey are positive exactly when " + _conditions(region) + "."
    return text


def _factors_shown(rows, degree: int) -> str:
    """The factors: inline for a linear polynomial (two short ones), else displayed in pairs."""
    if degree == 1:
        return ", ".join(f"${label} {relation} {tex(f)}$" for label, relation, f in rows) + "."
    return pairs(rows)


#: Why the Schur--Cohn factors decide the regions; written out by the first theorem of a document.
JURY_SENTENCE = (r"By the Schur--Cohn criterion in Jury's form, the roots of a monic polynomial of degree {degree} "
                 r"lie in the open disk of radius $r$ if and only if the factors below are all positive (they pair "
                 r"up with positive sums, so each Schur--Cohn product is positive exactly when both factors are).")


def linear_recurrence_tex(theorem) -> str:
    """Statement and proof of the exact row-sum dynamics of one linear optimizer.

    In a document that has the optimizer's section (``opt:<spec>``), the transition matrices and
    the characteristic polynomial are shown there once (they are the spec's derived objects, which
    the proof checks equal to the claimed ones) and referred to here; the Schur--Cohn argument is
    explained by the first such theorem and referred back to by the others."""
    claim = theorem.claim
    degree = sp.degree(claim.charpoly, X)
    has_buffer = len(claim.update) > 1
    first = claim.first_matrix() != claim.matrix()
    section = f"opt:{claim.spec_name}"
    shown = document_has(section)
    first_name = r"\tilde A" if shown else "A_1"
    where = rf"of Section~\ref{{{section}}}" if shown else "below"
    title = claim.title.replace("(torch's nesterov=True)", "as in torch.optim")
    setting = explained_in("linear setting", theorem.name)
    if setting:  # the setting was stated in full by an earlier theorem of the document
        opening = (rf"Consider {plain_to_tex(title)}, with $\lr > 0$, $\wdecay \ge 0${_ranges(claim)}, in the "
                   rf"setting of Theorem~\ref{{thm:{setting}}} (a shift-invariant loss, \texttt{{torch.optim}} "
                   r"semantics, $a = \lr\wdecay$). The row sums $s_t = W_t^\top \ones_K$")
    else:
        opening = (rf"Consider {plain_to_tex(title)}, with $\lr > 0$, $\wdecay \ge 0${_ranges(claim)}, the "
                   r"\texttt{torch.optim} semantics (first step included), and $a = \lr\wdecay$. If the loss is shift "
                   r"invariant, so that $\ones^\top G_t = 0$ at every step (" + refer("lemma1") + r"), then the row "
                   r"sums $s_t = W_t^\top \ones_K$")
    statement = (opening
                 + (r" and $u_t$ of the momentum buffer satisfy $x_{t+1} = A x_t$ for the state $x_t = (s_t, u_t)$"
                    + (rf" ($t \ge 1$; $x_1 = {first_name} x_0$)" if first else "") if has_buffer
                    else r" satisfy $s_{t+1} = A s_t$")
                 + rf" with $A$ and $\chi(z) = \det(zI - A)$ {where}. They tend to $0$ from every start if and only "
                 r"if " + plain_to_tex(claim.stability.text) + r"; for $0 < a < 1$ they "
                 + (r"never converge faster than under SGD: $\rho(A) \ge 1 - a$"
                    if all(r.never for r in claim.accelerations) else r"converge faster than under SGD, $\rho(A) < 1 - a$, if and only if "
                    + "; ".join((f"with {plain_to_tex(_case(r))}: " if r.values else
                                 ("for any $\\damp$: " if len(claim.accelerations) > 1 else "")) + _conditions(r)
                                for r in claim.accelerations)) + ".")

    def write(proof):
        regular = step(proof, "regular step")
        first_step = step(proof, "first step from a fresh optimizer")
        poly = step(proof, "characteristic polynomial: det(xI - A)")
        earlier = explained_in("linear recurrence", theorem.name)
        if earlier and shown:  # the argument and the objects' provenance were given before
            parts = [r"As in the proof of Theorem~\ref{thm:" + earlier + r"}, the row sums obey $A$"
                     + (r" (and $\tilde A$ at the first step)" if first else "") + rf" of Section~\ref{{{section}}}, "
                     r"with the characteristic polynomial $\chi$ shown there."]
        elif earlier:
            parts = [r"As in the proof of Theorem~\ref{thm:" + earlier + r"}, multiplying the update by $\ones^\top$ "
                     r"removes the gradient and leaves the row-sum recurrence"]
        else:
            parts = [r"The update is linear in the weights, the gradient and the buffers, so multiplying it by "
                     r"$\ones^\top$ commutes with it; with $\ones^\top G_t = 0$ the gradient drops out and the row "
                     r"sums obey the transition matrix"]
        if shown and earlier:
            pass
        elif shown:
            parts[-1] += (rf" $A$ of Section~\ref{{{section}}}" + (r" (and $\tilde A$ at the first step)" if first
                                                                   else "")
                          + r", with the characteristic polynomial $\chi$ shown there; these are derived from the "
                            r"update rule and equal the claimed ones exactly.")
        elif has_buffer and first:
            parts[-1] += r" $A$ (at the first step, where the buffer is created from the decayed gradient, $A_1$):"
            parts.append(pairs([("A", "=", nicest(regular.objects[1])), ("A_1", "=", nicest(first_step.objects[1]))]))
        else:
            parts.append(equation("A", nicest(regular.objects[1]), tail="."))
        if not shown:
            parts.append(r"Its characteristic polynomial is")
            parts.append(equation(r"\chi(z)", _polynomial(poly.objects[1]), tail="."))
        form = "one, $z - \\rate$," if degree == 1 else "two, $z^2 + bz + c$,"
        jury = explained_in(f"jury {degree}", theorem.name)
        if jury:
            parts.append(rf"The Schur--Cohn criterion in Jury's form (see the proof of Theorem~\ref{{thm:{jury}}}) "
                         r"at $r = 1$ reads:")
        else:
            parts.append(JURY_SENTENCE.format(degree=form) + " At $r = 1$:")
        parts.append(_jury_paragraph(proof, "stability (radius 1)", degree, "1", claim.stability))
        # a special case (tau = 0) of a general region is given after it, briefly
        general = [r for r in claim.accelerations if not r.values]
        ordered = general + [r for r in claim.accelerations if r.values]
        for region in ordered:
            what = f"acceleration [{region.text}] (radius 1 - a)"
            if region.values and general:
                parts.append(rf"With {plain_to_tex(_case(region))} " + _jury_paragraph(proof, what, degree, "1 - a",
                                                                                         region, brief=True))
                continue
            parts.append(r"Acceleration is the same test at $r = 1 - a$, the rate of SGD"
                         + (rf" (with {plain_to_tex(_case(region))})" if region.values else "") + ":")
            parts.append(_jury_paragraph(proof, what, degree, "1 - a", region))
        if claim.optimal is not None and claim.optimal[0] is not None:
            momentum = step(proof, "optimal momentum (tau = 0)")
            rate = step(proof, "optimal rate (tau = 0)")
            parts.append(r"At $\damp = 0$ the discriminant $b^2 - 4c$ vanishes at $\mom^\star = "
                         + tex(nicest(_a(momentum.objects[1]))) + r"$, where $\chi$ has the double root $\rate^\star = "
                         + tex(nicest(_a(rate.objects[1]))) + r"$; that this momentum is optimal is "
                         + refer(f"optimal_momentum_{claim.spec_name}", "Theorem") + ".")
        parts.append(_closed_form(proof, claim))
        return "\n".join(parts)

    return environment("theorem", rf"Exact $\NCzero$ dynamics of {plain_to_tex(claim.spec_name)}", theorem.name,
                       statement) + "\n" + proof_or_failure(theorem, write)


def _ranges(claim) -> str:
    names = {s.name for s in claim.matrix().free_symbols} - {"eta", "lambda"}
    macros = [HYPERPARAMETERS[n] for n in ("momentum", "dampening", "nu") if {"momentum": "mu", "dampening": "tau",
                                                                             "nu": "nu"}[n] in names]
    return (", $" + ", ".join(macros) + r" \ge 0$") if macros else ""


def _case(region) -> str:
    return ", ".join(f"{name} = {value}" for name, value in region.values.items()).replace("dampening", "tau")


def _closed_form(proof, claim) -> str:
    roots = steps(proof, "closed form: its root")
    if claim.closed_form is not None:
        text = (r"The solution is $s_t = " + tex(claim.closed_form) + r"$ from $t = 0$ on.")
    else:
        text = (rf"The solution is $s_t = c_1 r_1^t + c_2 r_2^t$ with the {len(roots)} distinct roots $r_i$ of "
                r"$\chi$, from $t = 0$ on (it agrees with the exact iterates at $t = 0, 1, 2$).")
    for values, rate in claim.references:
        point = r",\ ".join(f"{HYPERPARAMETERS.get(k, k)} = {v:g}" for k, v in values.items())
        text += rf" At ${point}$ the spectral radius is ${rate}$ to within $10^{{-8}}$."
    return text


# ---------------------------------------------------------------------- optimal momentum
def _display_variables(case):
    """Substitution back from the case's rational variables (exact), and a sentence naming them."""
    from nctheory.theorems.optimal_momentum import ALPHA, N_

    if ALPHA in case.rational.get(A_, sp.Integer(0)).free_symbols:
        return {ALPHA: sp.sqrt(A_)}, ""
    if N_ in getattr(case.rational.get(A_), "free_symbols", ()):
        return {}, (r"In this case every quantity is rational in $n = \sqrt{\nu}$ and $R = \sqrt{1 - a(1 - \nu)}$; "
                    r"$0 < a < 1$ and $0 < \nu < 1$ mean exactly $0 < n < R < 1$. ")
    return {}, ""


def _quadratic(p, back: dict) -> str:
    return polynomial(sp.expand(sp.cancel(sp.sympify(p).subs(back))).subs(X, Z), Z)


def optimal_momentum_tex(theorem) -> str:
    extra = [plain_to_tex(h) for h in theorem.hypotheses[2:-2]]
    statement = (r"Let the loss be shift invariant (" + refer("lemma1") + r"), let $0 < a = \lr\wdecay < 1$, "
                 r"$\damp = 0$" + "".join(", " + h for h in extra) + r". Among momenta $\mom \in [0, 1)$, the "
                 r"spectral radius $\rho(\mom)$ of the row-sum recurrence of "
                 + plain_to_tex(theorem.spec_name) + r" is smallest exactly at $\mom = \mom^\star$, where it is "
                 r"$\rate^\star < 1 - a$:"
                 + pairs([(r"\mom^\star", "=", theorem.claimed_momentum), (r"\rate^\star", "=", theorem.claimed_rate)]))

    def write(proof):
        parts = []
        several = len(theorem.cases) > 1
        for case in theorem.cases:
            back, sentence = _display_variables(case)
            label = f"[{case.text}] " if several else ""

            def obj(words, index=0, label=label, back=back):
                return nicest(sp.sympify(step(proof, label, words).objects[index]).subs(back))

            p = step(proof, label, "p(x; mu) is a monic quadratic").objects[0]
            poly = sp.Poly(sp.expand(sp.cancel(p)), X)
            _, b, c = poly.all_coeffs()
            disc = sp.factor(sp.cancel(b ** 2 - 4 * c)).subs(back)
            case_tex = ", ".join(plain_to_tex(part) for part in case.text.split(", "))  # "1, 0" would read "1,0"
            head = (rf"\par\emph{{Case {case_tex}.}} " if several else "") + sentence
            parts.append(head + r"The characteristic polynomial $\chi(z; \mom) = z^2 + b(\mom) z + c(\mom)$ has "
                         r"coefficients affine in $\mom$:")
            parts.append(rf"\[ \chi(z; \mom) = {_quadratic(p, back)}. \]")
            parts.append(r"(1) Its discriminant")
            parts.append(equation(r"b(\mom)^2 - 4c(\mom)", disc))
            parts.append(r"vanishes at $\mom^\star = " + tex(obj("optimal momentum (root of the discriminant)", 1))
                         + r"$, where the double root is $-b(\mom^\star)/2 = \rate^\star = "
                         + tex(obj("optimal rate (the double root)", 1)) + r"$.")
            kappa, slope_c, slope_b = obj("2. kappa ="), obj("3. rho* > 0", 1), obj("4. -b(mu) increases")
            margin = obj("rho* is strictly below")
            earlier = explained_in("optimal momentum", theorem.name)
            if earlier:  # the four steps were argued in full by an earlier theorem: give the quantities
                parts.append(r"\par The four steps of the proof of Theorem~\ref{thm:" + earlier + r"} apply with "
                             r"(2) $\chi(\rate^\star; \mom) = \kappa\,(\mom - \mom^\star)$, $\kappa = " + tex(kappa)
                             + r" > 0$; (3) $dc/d\mom = " + tex(slope_c) + r" > 0$; (4) $-db/d\mom = " + tex(slope_b)
                             + r" > 0$. Hence $\rho(\mom) > \rate^\star$ for every $\mom \ne \mom^\star$; moreover "
                             r"$0 < \mom^\star < 1$ and $(1 - a) - \rate^\star = " + tex(margin) + r" > 0$.")
                continue
            parts.append(r"\par (2) $\chi(\rate^\star; \mom) = \kappa\,(\mom - \mom^\star)$ with $\kappa = "
                         + tex(kappa) + r" > 0$: for $\mom < \mom^\star$, $\chi(\rate^\star) < 0$ and the larger "
                         r"real root exceeds $\rate^\star$.")
            parts.append(r"\par (3) $c(\mom^\star) = \rate^{\star 2}$ and $dc/d\mom = " + tex(slope_c)
                         + r" > 0$: for $\mom > \mom^\star$ complex roots have modulus $\sqrt{c(\mom)} > \rate^\star$.")
            parts.append(r"\par (4) $-db/d\mom = " + tex(slope_b) + r" > 0$: for $\mom > \mom^\star$ "
                         r"real roots lie on one side of $\rate^\star$ (as $\chi(\rate^\star) > 0$) and their mean "
                         r"$-b/2$ exceeds $\rate^\star$, so both do.")
            parts.append(r"\par Hence $\rho(\mom) > \rate^\star$ for every $\mom \ne \mom^\star$; moreover "
                         r"$0 < \mom^\star < 1$ and $(1 - a) - \rate^\star = "
                         + tex(margin) + r" > 0$ (all positivity claims here and below are certificates: "
                         r"rational functions with coefficients of one sign in positive variables).")
        return "\n".join(parts)

    return environment("theorem", f"Optimal momentum: {plain_to_tex(theorem.spec_name)}", theorem.name,
                       statement) + "\n" + proof_or_failure(theorem, write)


__all__ = ["linear_recurrence_tex", "optimal_momentum_tex"]
