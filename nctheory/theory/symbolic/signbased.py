"""What THEORY.md section 4 says about sign-based and adaptive optimizers.

No linear row-sum recurrence exists for them (:mod:`nctheory.theory.symbolic.rowsum` says why),
but three statements hold, each with its hypotheses:

* **Box bound** (decoupled decay with a step of sup-norm at most 1: SignGD decoupled,
  Lion). Unrolling ``W_{t+1} = (1 - a) W_t - eta sigma_t`` with ``|sigma_t| <= 1``
  entrywise and ``0 < a = eta lambda <= 1`` gives
  ``|W_t| <= (1 - a)^t |W_0| + (1 - (1 - a)^t) / lambda <= max(|W_0|, 1/lambda)``:
  a convex combination (the l_inf-constrained view of AdamW / Lion; Xie & Li, ICML 2024).
* **Parity lower bound** (SignGD decoupled, odd K, gradient without zero entries, sign
  pattern S eventually constant). ``sigma = sign(G)^T 1`` sums K terms in {-1, +1}, so
  each entry is odd, ``|sigma_j| >= 1``, and ``s_t -> -sigma / lambda`` gives
  ``NC0 -> ||sigma|| / lambda >= sqrt(d) / lambda``, whatever eta.
* **O(eta) neighbourhood** (SignGD coupled). Stationary points of the coupled objective
  have NC0 = 0 (Theorem 2), but each coordinate moves by exactly eta per step, so with a
  constant step only an O(eta) neighbourhood is reachable: the NC0 plateau scales
  linearly in eta (log-log slope 1). Checked numerically, not proved.

Adam (coupled) and AdamW (decoupled) with general betas: checked empirically only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from nctheory.theory.hyperparams import SYMBOLS

ETA, LAMBDA = SYMBOLS["lr"], SYMBOLS["weight_decay"]


@dataclass(frozen=True)
class Statement:
    """A claim about NC0 under a nonlinear optimizer, with how it is established."""

    name: str
    claim: str
    hypotheses: tuple
    status: str  # "proved symbolically" or "checked numerically"
    latex: str


def box_bound(w0_sup: float, lr: float, weight_decay: float, steps: int | None = None) -> float:
    """Bound on ``||W_t||_inf`` under decoupled decay and a step in [-1, 1] entrywise.

    ``(1 - a)^t ||W_0||_inf + (1 - (1 - a)^t) / lambda`` at ``t = steps``; its limit
    ``max(||W_0||_inf, 1/lambda)`` when ``steps`` is None. Needs ``0 < lr * wd <= 1``.
    """
    a = lr * weight_decay
    if not 0 < a <= 1:
        raise ValueError(f"box_bound needs 0 < lr * weight_decay <= 1, got {a!r}")
    if steps is None:
        return max(w0_sup, 1.0 / weight_decay)
    factor = (1 - a) ** steps
    return factor * w0_sup + (1 - factor) / weight_decay


def parity_lower_bound(dim: int, num_classes: int, weight_decay: float) -> float:
    """Limit lower bound on NC0 for decoupled SignGD: ``sqrt(d) / lambda`` for odd K, else 0."""
    if weight_decay <= 0:
        raise ValueError(f"parity_lower_bound needs weight_decay > 0, got {weight_decay!r}")
    return math.sqrt(dim) / weight_decay if num_classes % 2 == 1 else 0.0


def unrolled_decoupled_sign(t: sp.Symbol, w0: sp.Symbol, signs: sp.IndexedBase, j: sp.Symbol):
    """``W_t = (1 - a)^t W_0 - eta sum_{j<t} (1 - a)^(t-1-j) sigma_j`` (one entry)."""
    a = ETA * LAMBDA
    return (1 - a) ** t * w0 - ETA * sp.Sum((1 - a) ** (t - 1 - j) * signs[j], (j, 0, t - 1))


BOX = Statement(
    "box_bound",
    "||W_t||_inf <= (1 - eta lambda)^t ||W_0||_inf + (1 - (1 - eta lambda)^t) / lambda "
    "<= max(||W_0||_inf, 1/lambda)",
    ("decoupled weight decay lambda > 0", "0 < eta lambda <= 1", "every step direction in [-1, 1] entrywise"),
    "proved symbolically",
    r"\|W_t\|_\infty \le (1-\eta\lambda)^t \|W_0\|_\infty + \frac{1-(1-\eta\lambda)^t}{\lambda}"
    r" \le \max\bigl(\|W_0\|_\infty, \tfrac{1}{\lambda}\bigr)",
)
PARITY = Statement(
    "parity_lower_bound",
    "if K is odd, G_t has no zero entry and sign(G_t) = S eventually, then s_t -> -S^T 1 / lambda "
    "and lim NC0 >= sqrt(d) / lambda, whatever eta",
    ("decoupled SignGD", "K odd", "no zero gradient entry", "sign pattern eventually constant", "0 < eta lambda < 1"),
    "proved symbolically",
    r"\lim_{t\to\infty} \|W_t^\top \mathbf 1_K\| = \frac{\|S^\top \mathbf 1_K\|}{\lambda} \ge \frac{\sqrt d}{\lambda}"
    r"\quad (K \text{ odd})",
)
NEIGHBOURHOOD = Statement(
    "coupled_sign_neighbourhood",
    "stationary points of L + lambda/2 ||W||^2 have NC0 = 0 (Theorem 2); with constant eta every "
    "coordinate moves by eta per step, so the NC0 plateau is O(eta): log-log slope 1 in eta",
    ("coupled weight decay lambda > 0", "shift-invariant loss (Lemma 1)", "constant step size eta"),
    "checked numerically",
    r"\limsup_{t\to\infty} \|W_t^\top \mathbf 1_K\| = O(\eta)",
)
ADAM_EMPIRICAL = Statement(
    "adam_nc0_decreases",
    "Adam and other elementwise-adaptive optimizers with coupled L2 decay: NC0 decreases towards 0 "
    "(slowly); stationary points have NC0 = 0 (Theorem 2)",
    ("coupled weight decay lambda > 0", "general betas, eps"),
    "checked numerically",
    r"\|W_t^\top \mathbf 1_K\| \to 0 \text{ (empirical)}",
)
ADAMW_EMPIRICAL = Statement(
    "adamw_nc0_persists",
    "AdamW, Lion and other elementwise-adaptive optimizers with decoupled decay: NC0 does not vanish; "
    "NC0_rel stays of order one",
    ("decoupled weight decay lambda > 0", "general betas, eps"),
    "checked numerically",
    r"\liminf_{t\to\infty} \mathrm{NC0}_{\mathrm{rel}}(W_t) > 0 \text{ (empirical)}",
)

def nonlinear_theory(spec) -> tuple:
    """The statements that hold for ``spec``, chosen by its derived family (empty for linear specs).

    Sign descent: coupled -> the O(eta) neighbourhood; decoupled -> the parity bound.
    Other elementwise-adaptive chains: coupled -> NC0 decreases (empirical); decoupled ->
    NC0 persists (empirical). The box bound wherever the derived weight update is
    ``(1 - eta lambda) W - eta sigma`` with a sign-valued ``sigma``.
    """
    from nctheory.theory.family import ADAPTIVE_KIND, COUPLED, SIGN_KIND, family

    fam = family(spec)
    box = (BOX,) if fam.box_bounded else ()
    if fam.kind == SIGN_KIND:
        return (NEIGHBOURHOOD,) if fam.coupling == COUPLED else box + (PARITY,)
    if fam.kind == ADAPTIVE_KIND:
        return (ADAM_EMPIRICAL,) if fam.coupling == COUPLED else box + (ADAMW_EMPIRICAL,)
    from nctheory.theory.symbolic.centring import matrix_statements  # matrix chains (section 4b)

    return matrix_statements(fam)
