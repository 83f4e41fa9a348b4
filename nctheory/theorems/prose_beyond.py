r"""Paper text of the nonlinear results: decoupled sign descent, matrix optimizers, bfloat16.

As everywhere, the displays are the objects of the theorems' own proof steps
(:func:`nctheory.theorems.prose.step`); ``eta lambda`` is written ``a`` where the statement
does (an exact substitution), and the Newton--Schulz coefficients, called ``a, b, c`` in
the code, are written ``c_1, c_2, c_3`` so that ``a`` keeps one meaning.
"""

from __future__ import annotations

import sympy as sp

from nctheory.theorems.algebra import A_
from nctheory.theorems.prose import environment, hypotheses_list, proof_or_failure, refer, step, the_log
from nctheory.theorems.tex import equation, inline, nicest, tex

NEWTON_SCHULZ = {"a": "c_1", "b": "c_2", "c": "c_3"}


def _a(expr):
    """``eta lambda -> a`` (the sign-descent module's positive eta and lambda)."""
    from nctheory.theorems.sign_bounds import ETA, LAMBDA

    return sp.sympify(expr).subs(ETA * LAMBDA, A_) if isinstance(expr, sp.Basic) else expr


def sign_bounds_tex(theorem) -> str:
    statement = (r"Let $W_{t+1} = (1 - a)\,W_t - \lr\,\sigma_t$ entrywise, with $a = \lr\wdecay$, $\lr, \wdecay > 0$ "
                 r"and steps $\sigma_t \in [-1, 1]^{K \times d}$ (decoupled sign descent: $\sigma_t = "
                 r"\operatorname{sign}(G_t)$; Lion)." "\n"
                 + hypotheses_list([
                     r"If $0 < a \le 1$, then for every $t$, entrywise,"
                     r"\[ \lvert W_t \rvert \le (1 - a)^t \lvert W_0 \rvert + \frac{1 - (1 - a)^t}{\wdecay} \le "
                     r"\max\Bigl(\lvert W_0 \rvert, \frac{1}{\wdecay}\Bigr). \]",
                     r"If $0 < a < 2$, $K$ is odd, no entry of $G_t$ vanishes and $\operatorname{sign}(G_t) = S$ for "
                     r"all large $t$, then $s_t \to -S^\top \ones_K / \wdecay$ and, whatever $\lr$,"
                     r"\[ \lim_{t \to \infty} \NCzero(W_t) = \frac{\norm{S^\top \ones_K}}{\wdecay} \ge "
                     r"\frac{\sqrt{d}}{\wdecay}. \]"]).replace("(H", "(C"))

    def write(proof):
        unrolled = step(proof, "unrolled formula (nctheory")
        geometric = step(proof, "geometric sum")
        certificate = step(proof, "induction step, every t:", "- ((1 - a) w")
        convex = step(proof, "a convex combination")
        parity = step(proof, "case p >= 0")
        fixed = step(proof, "the fixed point is the claimed limit")
        contraction = step(proof, "s_{t+1} - s* = (1 - a)(s_t - s*)")
        floor = step(proof, "every d: ||s*||^2 - d/lambda^2")
        witness = step(proof, "negative control (a > 1)")
        return "\n".join([
            r"(C1) Unrolling the recursion (induction on $t$),",
            equation("W_t", _a(unrolled.objects[1]), tail=","),
            r"and with $q = 1 - a \in [0, 1)$ the geometric sum of the step sizes is",
            equation(r"\lr \sum_{j=0}^{t-1} q^{t-1-j}", nicest(geometric.objects[1]), tail="."),
            r"Let $B_t = " + tex(_a(convex.objects[0]).subs(sp.Symbol("X", nonnegative=True), sp.Symbol(r"|W_0|")))
            + r"$; then $B_0 = \lvert W_0 \rvert$ and $B_{t+1} = (1 - a) B_t + \lr$. If $\lvert w \rvert \le B$ "
            r"and $\lvert \sigma \rvert \le 1$, then, with the nonnegative slacks $G_q = 1 - a$, $G_\lr = \lr$, "
            r"$G_1 = B - w$, $G_2 = 1 + \sigma$,",
            equation(_a(certificate.objects[0]), certificate.objects[1], tail=r" \ge 0,"),
            r"and symmetrically with $B + w$ and $1 - \sigma$; so $\lvert W_t \rvert \le B_t$ for every $t$. "
            r"Finally $B_t = \theta \lvert W_0 \rvert + (1 - \theta)/\wdecay$ with $\theta = (1 - a)^t \in [0, 1]$ is "
            r"a convex combination, hence at most $\max(\lvert W_0 \rvert, 1/\wdecay)$. The hypothesis $a \le 1$ is "
            r"needed: at $a = 3/2$, $\wdecay = 1$, $W_0 = \sigma_0 = 1$ one step gives $\lvert W_1 \rvert = "
            + tex(abs(witness.objects[0])) + r" > 1$.",
            r"\par (C2) A sum of $K$ signs with $n$ of them negative is $K - 2n$; for odd $K = 2m + 1$ it is "
            r"$2p + 1$ with $p = m - n$ an integer, and $\lvert 2p + 1 \rvert \ge 1$ because",
            equation(parity.objects[0], parity.objects[1], tail=r" \ge 0"),
            r"with $G_p = p$ if $p \ge 0$ and $G_p = -1 - p$ if $p \le -1$. Once the signs are fixed, every row sum "
            r"follows $s_{t+1} = (1 - a) s_t - \lr \sigma$, whose fixed point is $s^\star = "
            + tex(fixed.objects[1]) + r"$, independent of $\lr$, and",
            equation(r"s_{t+1} - s^\star", nicest(_a(contraction.objects[1])), tail=","),
            r"so $s_t \to s^\star$ for $0 < a < 2$. With $\sigma_i$ the sum of column $i$ of $S$ (odd, so "
            r"$\sigma_i^2 \ge 1$),",
            equation(floor.objects[0], floor.objects[1], tail=r" \ge 0."),
        ])

    return environment("theorem", r"Decoupled sign descent: box bound and an $\NCzero$ floor", theorem.name,
                       statement) + "\n" + proof_or_failure(theorem, write)


def matrix_row_sums_tex(theorem) -> str:
    statement = (r"Let $R = I - \frac{2}{K} \ones \ones^\top$, and let $U = c\, g(X_0, \dots, X_t)$ with a scalar $c$ "
                 r"and a map $g$ that is left-equivariant under $R$: $g(R X_0, \dots, R X_t) = R\, g(X_0, \dots, "
                 r"X_t)$. If $\ones^\top X_j = 0$ for every $j$, then $\ones^\top U = 0$. Newton--Schulz "
                 r"orthogonalisation (Muon), Shampoo's $L^{-1/4} X P^{-1/4}$ (with left and right statistics $L$ "
                 r"and $P$) and SOAP (when the eigenvalue of its left "
                 r"statistic on $\ones$ is simple) are such maps. Hence, fed with gradients of a shift-invariant loss "
                 r"(" + refer("lemma1") + r") and with decoupled weight decay, in exact arithmetic, the row sums of "
                 r"these optimizers follow $s_{t+1} = (1 - \lr\wdecay)\, s_t$.")

    def write(proof):
        newton = step(proof, "Newton-Schulz iteration, every size")
        shampoo = step(proof, "Shampoo: (Q L Q^T)^4")
        soap = step(proof, "SOAP: Adam's ratio is odd")
        sign = step(proof, "fails for elementwise preconditioning")
        coupled = step(proof, "fails under coupled decay")
        rows = step(proof, "fails for a left map not built")
        derived = step(proof, "muon: the engine derives")
        return "\n".join([
            r"With $J = \ones\ones^\top$ and $J^2 = K J$, $R^2 = I - \frac4K J + \frac{4}{K^2} K J = I$ and "
            r"$\ones^\top R = -\ones^\top$. If $\ones^\top X = 0$ then $R X = X - \frac2K \ones (\ones^\top X) = X$, so "
            r"$g = g(R X_0, \dots) = R g$ and $\ones^\top g = \ones^\top R g = -\ones^\top g$, that is, "
            r"$\ones^\top g = 0$ and $\ones^\top U = 0$.",
            r"\par Every orthogonal $Q$ ($Q^\top Q = I$, in particular $R$) commutes with one Newton--Schulz "
            r"iteration $N(X) = c_1 X + c_2 X X^\top X + c_3 X X^\top X X^\top X$:",
            equation("N(QX)", newton.objects[1], names=NEWTON_SCHULZ, tail=","),
            r"with the normalisation $\norm{QX}_F = \norm{X}_F$; the transposed branch computes the same "
            r"polynomial, $(X X^\top)^2 X = X (X^\top X)^2$. For Shampoo, $(Q L Q^\top)^4 = "
            + tex(shampoo.objects[1]) + r"$, so every polynomial, hence every primary matrix function of the left "
            r"statistic (such as $L^{-1/4}$), commutes with $Q$. For SOAP, Adam's ratio $r(m) = m/(\sqrt{v} + "
            r"\varepsilon)$ is odd in its first moment, $r(-m) = " + tex(soap.objects[1]) + r"$, so the sign of an "
            r"eigenvector does not matter, and if $\ones/\sqrt{K}$ is an eigenvector the rotated first moment, "
            r"hence Adam's output, vanishes on it.",
            r"\par The hypotheses are needed. Elementwise preconditioning breaks it: for the centred column "
            r"$x = (1, 1, -2)$, $\ones^\top \operatorname{sign}(x) = " + tex(sign.objects[0]) + r"$. "
            r"So does coupled decay: in the example of " + the_log() + r" one Newton--Schulz iteration of "
            r"$G + \wdecay W$ has row sum",
            equation(r"\ones^\top N(G + \wdecay W)", coupled.objects[0], tail=r" \ne 0,"),
            r"and so does a left map not built from $X X^\top$: row normalisation leaves "
            + inline(nicest(rows.objects[0])) + r"~$\ne 0$.",
            r"\par For Muon, Shampoo and SOAP with decoupled decay the row-sum state then obeys $x' = A x$ with "
            r"first row of $A$ equal to " + inline(_a(derived.objects[1])) + r", as derived from the specifications "
            r"of the optimizers; with coupled decay the weights enter the argument of the matrix map and no "
            r"recurrence is claimed.",
        ])

    return environment("theorem", "Matrix optimizers keep zero row sums", theorem.name, statement) + "\n" \
        + proof_or_failure(theorem, write)


def bfloat16_floor_tex(theorem) -> str:
    statement = (r"Run the Newton--Schulz iteration of \texttt{torch.optim.Muon} in bfloat16 (unit roundoff "
                 r"$u = 2^{-8}$) with decoupled decay, and let $q = 1 - \lr\wdecay$ and $\lr' = \lr \sqrt{\max(1, K/d)}$. "
                 r"Assume" "\n" + hypotheses_list([
                     r"the argument $M$ of Newton--Schulz has $\ones^\top M = 0$ exactly (gradients of a "
                     r"shift-invariant loss);",
                     r"every write of an iterate rounds to nearest in bfloat16, products accumulate in higher "
                     r"precision;",
                     r"the roundings of different steps are independent with mean $0$;",
                     r"first order in $u$, except along the direction of $\ones$, where the scalar map of "
                     r"Newton--Schulz is followed exactly."])
                 + r"Then the output $O_t$ has row sums $\rho_t = \ones^\top O_t \ne 0$, the row sums follow "
                 r"$s_{t+1} = q s_t - \lr' \rho_t$, and"
                 r"\[ \mathbb{E} \norm{s_t - q^t s_0}^2 = \lr'^2\, \mathbb{E}\norm{\rho}^2\, \frac{1 - q^{2t}}{1 - q^2}: \]"
                 r"$\NCzero$ settles at $\lr' \sqrt{\mathbb{E}\norm{\rho}^2 / (\lr\wdecay(2 - \lr\wdecay))}$, of order "
                 r"$\sqrt{\lr / \wdecay}$, instead of vanishing.")

    def write(proof):
        write_error = step(proof, "one write")
        phantom = step(proof, "phantom direction")
        gain = step(proof, "five iterations amplify")
        variance = step(proof, "V(t + 1) = q^2 V(t) + D")
        ratio = step(proof, "with q = 1 - a")
        u = sp.Symbol("u", positive=True)
        return "\n".join([
            r"Rounding to nearest errs by $\mathrm{ulp}(y)^2/12$ in mean square; averaged over a binade with "
            r"log-uniform mantissa ($\mathrm{ulp} = 2u$ relative to $y$) this is "
            + inline(write_error.objects[1].subs(u, sp.Symbol("u"))) + r" times $y^2$. Split an iterate as "
            r"$X = X_0 + e w^\top$ with $e = \ones/\sqrt K$, $\ones^\top X_0 = 0$, $X_0 w = 0$ and "
            r"$\Omega = \lvert w \rvert^2$; then one iteration gives",
            equation(r"N(X_0 + e w^\top)", phantom.objects[1], names=NEWTON_SCHULZ, tail=","),
            r"so the component on $\ones$ evolves under the scalar map $f(s) = c_1 s + c_2 s^3 + c_3 s^5$ with "
            rf"$f'(0) = c_1 = 3.4445$: five iterations amplify a rounding by $c_1^5 = {float(gain.objects[0]):.1f}$ "
            r"until $f$ saturates, and the output carries a phantom singular value on $\ones$. With $d_t = s_t - "
            r"q^t s_0$, $d_{t+1} = q d_t - \lr' \rho_t$ and $V(t) = \mathbb{E} d_t^2$ satisfies $V(0) = 0$ and "
            r"$V(t+1) = q^2 V(t) + D$, $D = \lr'^2 \mathbb{E}\norm{\rho}^2$, which the claimed $V$ does:",
            equation(variance.objects[0], variance.objects[1]),
            r"with $q = 1 - a$, $a = \lr\wdecay$, the plateau factor is "
            + inline(ratio.objects[0]) + " $=$ " + inline(ratio.objects[1]) + r". The size of "
            r"$\mathbb{E}\norm{\rho}^2$ is evaluated from these three facts on the recorded arguments (the numerical "
            r"evidence compares the floor with \texttt{torch.optim.Muon}).",
        ])

    return environment("proposition", r"The bfloat16 floor of Muon's $\NCzero$", theorem.name, statement) + "\n" \
        + proof_or_failure(theorem, write)


__all__ = ["bfloat16_floor_tex", "matrix_row_sums_tex", "sign_bounds_tex"]
