r"""Paper text of Lemma 0, Lemma 1 and Theorem 2 (the statements the NC0 programme rests on).

Each function takes the theorem object and returns its statement (amsthm) and proof; the
displays are the sympy objects of the theorem's own proof steps
(:func:`nctheory.theorems.prose.step`), simplified exactly and, for index sums over fresh
naturals (``K = m + n + 1``, label ``y = m + 1``), written back in the statement's names.
"""

from __future__ import annotations

import sympy as sp

from nctheory.theorems.prose import environment, hypotheses_list, proof_or_failure, refer, step, the_log
from nctheory.theorems.tex import equation, inline, nicest

K = sp.Symbol("K", integer=True, positive=True)
Y = sp.Symbol("y", integer=True, positive=True)


def _named(expr):
    """Fresh naturals back to the statement's names: ``m + n + 1 -> K``, ``m + 1 -> y``."""
    symbols = {s.name: s for s in getattr(expr, "free_symbols", ())}
    m, n = symbols.get("m"), symbols.get("n")
    if m is None or n is None:
        return expr
    return expr.xreplace({m + n + 1: K}).xreplace({m + 1: Y})


def lemma0_tex(theorem) -> str:
    statement = (r"Let $K \ge 2$, $d \ge 1$, and let $W \in \R^{K \times d}$ have rows $w_1, \dots, w_K$." "\n"
                 + hypotheses_list([
                     r"(simplex ETF) $\norm{w_k} = a > 0$ for every $k$ and "
                     r"$\cos\angle(w_k, w_l) = -\frac{1}{K-1}$ for $k \ne l$; or",
                     r"(NC3, balanced classes) $W^\top = \alpha\,(M - \mu_G \ones_K^\top)$ for some $\alpha$, "
                     r"where $M = (\mu_1, \dots, \mu_K) \in \R^{d \times K}$ holds the class means and "
                     r"$\mu_G = \frac1K \sum_k \mu_k$ is the global mean."])
                 + r"Under either hypothesis $W^\top \ones_K = 0$, that is, $\NCzero(W) = \norm{W^\top \ones_K} = 0$: "
                 r"a vanishing $\NCzero$ is necessary for Neural Collapse.")

    def write(proof):
        gram = step(proof, "for G = a^2")
        at_cosine = step(proof, "at the claimed cosine")
        nc3 = step(proof, "NC3, every K, d: sum_")
        control = step(proof, "cosines -1/K (instead")
        return "\n".join([
            r"Under (H1), $\norm{W^\top \ones}^2 = \ones^\top W W^\top \ones = \ones^\top G \ones$ for the Gram "
            r"matrix $G = W W^\top = a^2\bigl((1 - c) I_K + c\, \ones \ones^\top\bigr)$ of rows with norms $a$ and "
            r"pairwise cosines $c$. Summing its entries,",
            equation(r"\ones^\top G \ones", nicest(gram.objects[1])),
            r"and at the simplex cosine $c = -1/(K-1)$, for every $K \ge 2$,",
            equation(r"\ones^\top G \ones\big|_{c = -1/(K-1)}", at_cosine.objects[0], tail=" = 0"),
            r"Under (H2), $W^\top \ones = \alpha (M \ones - K \mu_G) $ and coordinate $t$ of $M\ones - K\mu_G$ is",
            equation(nc3.objects[0], nc3.objects[1]),
            r"since the classes are balanced. The cosine is sharp: with $c = -1/K$ the same sum is "
            + inline(control.objects[0]) + r"~$\ne 0$. " + the_log(capital=True)
            + r" also checks exact, rotated simplex "
            r"frames for $K = 2, \dots, 6$.",
        ])

    return environment("lemma", r"$\NCzero$ is necessary for Neural Collapse", theorem.name, statement) + "\n" \
        + proof_or_failure(theorem, write)


def lemma1_tex(theorem) -> str:
    statement = (r"Let $z = W h + b$ be the logits of a last layer $W \in \R^{K \times d}$, $b \in \R^K$ on "
                 r"features $h \in \R^d$ (from any network, or free as in the unconstrained features model), "
                 r"$K \ge 2$, and let the loss $\ell(z; y)$, $y \in \{1, \dots, K\}$, be shift invariant: "
                 r"$\ell(z + c\ones_K) = \ell(z)$ for all $c \in \R$. Then"
                 r"\[ \ones_K^\top \nabla_W \ell = \Bigl(\sum_{k=1}^K \frac{\partial \ell}{\partial z_k}\Bigr) h^\top"
                 r" = 0, \qquad \ones_K^\top \nabla_b \ell = 0, \]"
                 r"for every sample, hence for every minibatch average, feature map and step. Cross-entropy, "
                 r"label smoothing, soft (mixup) labels, the focal loss, every function of the softmax "
                 r"probabilities and the Crammer--Singer hinge are shift invariant for every $K \ge 2$; squared "
                 r"error on the logits and the one-vs-rest sigmoid loss are not, for any $K \ge 2$.")

    def write(proof):
        columns = step(proof, "column sums, every K, d")
        invariance = step(proof, "cross_entropy, every K >= 2: l(z + c 1) - l(z) = 0")
        partials = step(proof, "cross_entropy, every K >= 2: sum_j dl/dz_j = 0")
        softmax = step(proof, "softmax, every K and j")
        mse = step(proof, "mse, every K >= 2: sum_j")
        sigmoid = step(proof, "sigmoid_ovr, every K: at z")
        return "\n".join([
            r"Write $g = \nabla_z \ell$. Since $\partial z_k / \partial W_{rt} = \delta_{kr} h_t$ and "
            r"$\partial z_k / \partial b_r = \delta_{kr}$, the chain rule gives $\partial \ell / \partial W_{rt} = "
            r"g_r h_t$ and $\partial \ell / \partial b_r = g_r$, so column $t$ of $\ones^\top \nabla_W \ell$ is",
            equation(columns.objects[0], columns.objects[1]),
            r"and $\ones^\top \nabla_b \ell = \sum_k g_k$. Differentiating $\ell(z + c \ones) = \ell(z)$ at $c = 0$ "
            r"gives $\sum_k g_k = 0$. A minibatch average of such gradients, each with its own features, has zero "
            r"column sums as well.",
            r"For each loss both facts are verified for a symbolic number $K$ of classes, as sums of symbolic "
            r"length. For cross-entropy $\ell = \log \sum_k e^{z_k} - z_y$:",
            equation((_named(invariance.objects[0])), _named(invariance.objects[1])),
            equation((_named(partials.objects[0])), _named(partials.objects[1])),
            r"Label smoothing, soft labels and the focal loss are treated in the same way in " + the_log()
            + r"; every function of the probabilities $p_j = e^{z_j} / \sum_k e^{z_k}$ is invariant because",
            equation(softmax.objects[0], softmax.objects[1]),
            r"For the Crammer--Singer hinge $\ell = \max(0, 1 + \max_{k \ne y} z_k - z_y)$, "
            r"$\max_k (x_k + c) = \max_k x_k + c$ by induction on the number of terms, so $\ell(z + c\ones) = "
            r"\ell(z)$; its subgradient $e_j - e_y$ sums to $0$.",
            r"Squared error $\ell = \sum_k (z_k - \delta_{ky})^2$ is not invariant:",
            equation((_named(mse.objects[0])), _named(mse.objects[1])),
            r"which is $-2$ at $z = 0$. For the one-vs-rest sigmoid loss, at $z = (\log 3)\, e_y$ the derivative "
            r"$\frac{d}{dc}\ell(z + c\ones)\big|_{c=0}$ equals "
            + inline(sp.factor(_k_from_mn(sigmoid.objects[0]))) + r" $\ge \frac14$ for every $K \ge 2$.",
        ])

    return environment("lemma", "Gradient row sums vanish for shift-invariant losses", theorem.name, statement) \
        + "\n" + proof_or_failure(theorem, write)


def _k_from_mn(expr):
    """``K = 1 + m + n``: an expression in ``m + n`` written in K (exact)."""
    symbols = {s.name: s for s in expr.free_symbols}
    m, n = symbols.get("m"), symbols.get("n")
    if m is None or n is None:
        return expr
    return sp.expand(expr.subs(n, K - 1 - m))


def theorem2_tex(theorem) -> str:
    statement = (r"Let $L(W) = \frac1N \sum_{s=1}^N \ell(W h_s + b; y_s)$ with a shift-invariant loss $\ell$ "
                 r"(the hypothesis of " + refer("lemma1") + r"), any $K \ge 2$, $d$ and $N$, and let $\wdecay > 0$. "
                 r"If $W^\star$ is a "
                 r"stationary point of the coupled objective $L(W) + \frac{\wdecay}{2} \norm{W}_F^2$, then "
                 r"$W^{\star\top} \ones_K = 0$, that is, $\NCzero(W^\star) = 0$. In particular every optimizer "
                 r"that converges to a stationary point of the coupled objective ends with $\NCzero = 0$.")

    def write(proof):
        columns = step(proof, "every N, K, d (index sums)")
        ridge = step(proof, "and its row sum W*^T 1 is not 0")
        sign = step(proof, "whose row sum -S^T 1/lambda")
        return "\n".join([
            r"Let $G = \nabla L(W^\star)$. Stationarity reads $G + \wdecay W^\star = 0$; multiplying by $\ones^\top$ "
            r"gives $\ones^\top G + \wdecay (W^{\star\top} \ones)^\top = 0$. Written out for column $t$ with "
            r"per-sample logit gradients $e_s$ (each summing to $0$ by " + refer("lemma1") + r", here after centring "
            r"$e_{s,r} - \frac1K \sum_k e_{s,k}$), for symbolic $K$ and $N$,",
            equation(columns.objects[0], columns.objects[1]),
            r"so $\wdecay (W^{\star\top}\ones)_t = 0$ for every $t$ and, as $\wdecay > 0$, $W^{\star\top} \ones = 0$.",
            r"Both hypotheses are needed. With squared error (not shift invariant) the stationary point of ridge "
            r"regression on a small data set has row sum " + inline(ridge.objects[0]) + r"~$\ne 0$. "
            r"With decoupled decay and a sign step, $W = -S/\wdecay$ is a fixed point of "
            r"$W \leftarrow (1 - \lr\wdecay) W - \lr S$, with row sum " + inline(sign.objects[0]) + r"~$\ne 0$ for the "
            r"sign pattern $S$ of " + the_log() + ".",
        ])

    return environment("theorem", r"Stationarity under coupled decay forces $\NCzero = 0$", theorem.name,
                       statement) + "\n" + proof_or_failure(theorem, write)


__all__ = ["lemma0_tex", "lemma1_tex", "theorem2_tex"]
