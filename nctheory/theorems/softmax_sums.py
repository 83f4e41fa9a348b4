"""Lemma 1 for every K: THEORY.md's losses as index sums over k = 1..K, K a symbol.

The logits are ``z = IndexedBase("z")``, the label a positive integer symbol ``y`` (true
class), the partition function ``S = sum_{k=1}^K exp(z_k)`` and ``p_j = exp(z_j)/S``.
Each loss of the table is written for symbolic K:

* cross-entropy ``log S - z_y``; label smoothing ``sum_k w_k (log S - z_k)`` with
  ``w_k = (1 - eps) delta_{ky} + eps/K`` (eps symbolic); soft / mixup labels
  ``sum_k q_k (log S - z_k)`` (q symbolic); focal ``-(1 - p_y)^gamma log p_y`` (gamma
  symbolic); any function of the softmax probabilities (through ``p_j`` itself);
* the Crammer-Singer hinge ``max(0, 1 + max_{k != y} z_k - z_y)``: a maximum over a set of
  symbolic size, handled by the translation property of max proved by induction on the
  number of elements (:func:`max_translation_steps`);
* not invariant: squared error ``sum_k (z_k - delta_{ky})^2`` and one-vs-rest sigmoid
  ``sum_{k<y} log(1 + e^{z_k}) + log(1 + e^{-z_y}) + sum_{k>y} log(1 + e^{z_k})``.

For an invariant loss two facts are proved for symbolic K (with ``1 <= y <= K`` encoded by
:func:`nctheory.theorems.index_sums.in_range`): ``l(z + c 1) - l(z) = 0`` for every c
(the hypothesis), and ``sum_j dl/dz_j = 0`` (the conclusion), the latter from sympy's
derivative at a generic index ``j = 1 + r`` of ``1..K = 1..1 + r + s``, summed over j.
For a loss that is not invariant, an exact point where ``d/dc l(z + c 1)`` is a nonzero
number for every K >= 2.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from nctheory.theorems.base import Step, fact, identity
from nctheory.theorems.index_sums import fresh_naturals, in_range, nonnegative_certificate, shifted, sums_identity

K = sp.Symbol("K", integer=True, positive=True)
D = sp.Symbol("d", integer=True, positive=True)
N = sp.Symbol("N", integer=True, positive=True)
LABEL = sp.Symbol("y", integer=True, positive=True)
Z = sp.IndexedBase("z", real=True)
TARGETS = sp.IndexedBase("q", real=True)
C = sp.Symbol("c", real=True)
EPSILON = sp.Symbol("epsilon", nonnegative=True)
GAMMA = sp.Symbol("gamma", positive=True)
k, j, r, t, i, s = sp.symbols("k j r t i s", integer=True)


def partition(z=Z):
    return sp.Sum(sp.exp(z[k]), (k, 1, K))


def softmax(index, z=Z):
    return sp.exp(z[index]) / partition(z)


def _against(weights):
    """Cross-entropy against the weights ``w_k``: ``sum_k w_k (log S - z_k)``."""
    return lambda z: sp.Sum(weights(k) * (sp.log(partition(z)) - z[k]), (k, 1, K))


def _sigmoid_ovr(z):
    softplus = sp.log(1 + sp.exp(z[k]))
    return sp.Sum(softplus, (k, 1, LABEL - 1)) + sp.log(1 + sp.exp(-z[LABEL])) + sp.Sum(softplus, (k, LABEL + 1, K))


#: The losses of THEORY.md's table for symbolic K (Crammer-Singer: see max_translation_steps).
INDEX_FORMS = {
    "cross_entropy": lambda z: sp.log(partition(z)) - z[LABEL],
    "label_smoothing": _against(lambda kk: (1 - EPSILON) * sp.KroneckerDelta(kk, LABEL) + EPSILON / K),
    "soft_labels": _against(lambda kk: TARGETS[kk]),
    "focal": lambda z: -(1 - softmax(LABEL, z)) ** GAMMA * sp.log(softmax(LABEL, z)),
    "mse": lambda z: sp.Sum((z[k] - sp.KroneckerDelta(k, LABEL)) ** 2, (k, 1, K)),
    "sigmoid_ovr": _sigmoid_ovr,
}


def sum_of_partials(loss):
    """``sum_{j=1}^K dl/dz_j``: sympy's derivative at ``j = 1 + r'``, ``K = 1 + r' + s'`` (every
    j in range), written back in j and summed; the label in range too."""
    r1, s1 = fresh_naturals("r' s'")
    at_generic = sp.diff(loss(Z), Z[j]).subs({j: 1 + r1, K: 1 + r1 + s1}).doit()
    in_j = at_generic.subs({r1: j - 1, s1: K - j})
    return sp.Sum(in_j, (j, 1, K)).subs(in_range(LABEL, K))


def invariance_steps(name: str):
    """Steps proving that the loss ``name`` is shift invariant for every K (see the module
    docstring), and that its gradient sums to 0."""
    loss = INDEX_FORMS[name]
    yield sums_identity(f"{name}, every K >= 2: l(z + c 1) - l(z) = 0 for every c (index sums over k = 1..K)",
                        (shifted(loss(Z), Z, C) - loss(Z)).subs(in_range(LABEL, K)), 0)
    yield sums_identity(f"{name}, every K >= 2: sum_j dl/dz_j = 0 (derivative at a generic index j in 1..K, "
                        f"summed over j)", sum_of_partials(loss), 0)


def max_translation_steps():
    """max(x_1 + c, .., x_n + c) = max(x_1, .., x_n) + c for every n >= 1, by induction on n:
    the maximum of n + 1 elements is Max(M_n, x_{n+1}); each case of the total order is
    decided by sympy's Max on a parametrised difference."""
    x, m_n = sp.symbols("x M_n", real=True)
    u = sp.Symbol("u", nonnegative=True)
    yield identity("max translation, n = 1: max(x_1 + c) = x_1 + c", sp.Max(x + C), x + C)
    for case, point in (("x_{n+1} = M_n - u <= M_n", m_n - u), ("x_{n+1} = M_n + u >= M_n", m_n + u)):
        yield identity(f"max translation, step n -> n + 1, case {case} (u >= 0): "
                       f"Max(M_n + c, x_{{n+1}} + c) = Max(M_n, x_{{n+1}}) + c",
                       sp.Max(m_n + C, point + C), sp.Max(m_n, point) + C)


def crammer_singer_steps():
    """The hinge is invariant for every K >= 2 (its inner max runs over K - 1 >= 1 logits)."""
    yield from max_translation_steps()
    runner_up, z_label = sp.symbols("M z_y", real=True)  # M = max_{k != y} z_k
    hinge = lambda m, zy: sp.Max(0, 1 + m - zy)  # noqa: E731
    yield identity("crammer_singer, every K >= 2: with M = max_{k != y} z_k (K - 1 >= 1 terms), "
                   "l(z + c 1) = max(0, 1 + (M + c) - (z_y + c)) = l(z)",
                   hinge(runner_up + C, z_label + C), hinge(runner_up, z_label))
    yield sums_identity("crammer_singer, every K >= 2: its subgradient e_j - e_y (j the runner-up, both in 1..K) "
                        "sums to 0", sp.Sum(sp.KroneckerDelta(k, j), (k, 1, K)).subs(in_range(j, K, "a b"))
                        - sp.Sum(sp.KroneckerDelta(k, LABEL), (k, 1, K)).subs(in_range(LABEL, K)), 0)


def _along_ones_at(loss, point):
    """``d/dc l(z + c 1)`` at c = 0 and the point (a function of the class index), label in range."""
    derivative = sp.diff(shifted(loss(Z), Z, C), C).subs(C, 0)
    derivative = derivative.replace(lambda node: isinstance(node, sp.Indexed) and node.base == Z,
                                    lambda node: point(node.indices[0]))
    return derivative.subs(in_range(LABEL, K)).doit()


def failure_steps(name: str):
    """Exact witnesses, for every K >= 2, that ``name`` (mse or sigmoid_ovr) is not invariant."""
    m, n = fresh_naturals("m n")  # the names in_range uses: K = 1 + m + n, y = 1 + m
    if name == "mse":
        yield sums_identity("mse, every K >= 2: sum_j dl/dz_j = 2 sum_k z_k - 2 (label in 1..K)",
                            sum_of_partials(INDEX_FORMS[name]), (2 * sp.Sum(Z[k], (k, 1, K)) - 2).subs(K, 1 + m + n))
        value = _along_ones_at(INDEX_FORMS[name], lambda index: 0)
        yield fact("mse, every K >= 2: at z = 0, d/dc l(z + c 1) = -2 != 0 (exact witness)", (value,), value == -2)
        return
    point = lambda index: sp.log(3) if index == LABEL else 0  # noqa: E731  z = log(3) e_y (the sums skip y)
    value = sp.simplify(_along_ones_at(INDEX_FORMS[name], point))
    yield identity("sigmoid_ovr, every K: at z = log(3) e_y, d/dc l(z + c 1) = (K - 1)/2 - 1/4 = (2K - 3)/4",
                   value, (2 * (1 + m + n) - 3) / sp.Integer(4))
    g = sp.Symbol("G", nonnegative=True)
    yield nonnegative_certificate("sigmoid_ovr: that value minus 1/4 is (K - 2)/2 >= 0 for K = 1 + m + n >= 2 "
                                  "(certificate G/2, G = m + n - 1 >= 0), so it is >= 1/4, never 0",
                                  value - sp.Rational(1, 4), g / 2, {g: m + n - 1})


@lru_cache(maxsize=None)
def general_k_verdict(name: str) -> tuple:
    """``(verdict, steps)``: True (invariant, proved for every K >= 2), False (an exact witness
    for every K >= 2) or None (no form for symbolic K: nothing proved). It does not depend on
    any claim, so it is computed once per process and shared by the theorem objects."""
    if name == "crammer_singer":
        steps = tuple(crammer_singer_steps())
        return all(step.holds for step in steps), steps
    if name in ("mse", "sigmoid_ovr"):
        steps = tuple(failure_steps(name))
        return (False if all(step.holds for step in steps) else None), steps
    if name not in INDEX_FORMS:
        return None, (Step(f"{name}: no index-sum form for symbolic K", (), False),)
    steps = tuple(invariance_steps(name))
    return (True if all(step.holds for step in steps) else None), steps


def softmax_probability_steps():
    """p_j(z + c 1) = p_j(z) for every j and K: any function of the probabilities is invariant."""
    yield sums_identity("softmax, every K and j: p_j(z + c 1) = p_j(z), so every function F(p_1, .., p_K) "
                        "of the probabilities is shift invariant", shifted(softmax(j), Z, C) - softmax(j), 0)
    yield sums_identity("softmax, every K: sum_j p_j = 1", sp.Sum(softmax(j), (j, 1, K)), 1)
    yield sums_identity("one-hot label, every K and 1 <= y <= K: sum_j delta_{jy} = 1",
                        sp.Sum(sp.KroneckerDelta(j, LABEL), (j, 1, K)).subs(in_range(LABEL, K)), 1)


WEIGHTS, FEATURES, BIAS = (sp.IndexedBase(name, real=True) for name in ("W", "h", "b"))
LOGIT_GRADIENT = sp.IndexedBase("g", real=True)  # g_k = dl/dz_k (any loss)
FREE_VECTOR = sp.IndexedBase("e", real=True)


def logit(row, features=FEATURES):
    """``z_row = sum_{i=1}^d W_{row,i} h_i + b_row``."""
    return sp.Sum(WEIGHTS[row, i] * features[i], (i, 1, D)) + BIAS[row]


def weight_index_range() -> dict:
    """Every entry ``(r, t)`` of the K x d matrix W: ``r = 1 + r'``, ``K = 1 + r' + r''``, likewise t."""
    return {**in_range(r, K, "r' r''"), **in_range(t, D, "t' t''")}


def chain_rule_steps():
    """For every K, d and any loss with logit gradient g: grad_W l = g h^T, and its column sums are
    (sum_k g_k) h_t."""
    jacobian = sp.diff(logit(k), WEIGHTS[r, t]).subs(weight_index_range()).doit()
    yield identity("linear layer, every K, d: dz_k/dW_rt = delta_{kr} h_t for every entry (r, t) of W",
                   jacobian, (sp.KroneckerDelta(k, r) * FEATURES[t]).subs(weight_index_range()))
    yield identity("linear layer, every K, d: dz_k/db_r = delta_{kr}", sp.diff(logit(k), BIAS[r]).doit(),
                   sp.KroneckerDelta(k, r))
    chained = sp.Sum(LOGIT_GRADIENT[k] * sp.KroneckerDelta(k, r) * FEATURES[t], (k, 1, K))
    yield identity("chain rule, every K, d: dl/dW_rt = sum_k g_k delta_{kr} h_t = g_r h_t (and dl/db_r = g_r)",
                   chained.subs(weight_index_range()).doit(),
                   (LOGIT_GRADIENT[r] * FEATURES[t]).subs(weight_index_range()))
    yield sums_identity("column sums, every K, d: (1^T grad_W l)_t = sum_r g_r h_t = (sum_k g_k) h_t, "
                        "(1^T grad_b l) = sum_k g_k: both vanish when sum_k dl/dz_k = 0",
                        sp.Sum(LOGIT_GRADIENT[r] * FEATURES[t], (r, 1, K)),
                        FEATURES[t] * sp.Sum(LOGIT_GRADIENT[k], (k, 1, K)))


def cross_entropy_weight_gradient_steps():
    """Cross-entropy differentiated in W directly (symbolic K, d): (p_r - delta_{ry}) h_t."""
    loss = sp.log(sp.Sum(sp.exp(logit(k)), (k, 1, K))) - logit(LABEL)
    claimed = (sp.exp(logit(r)) / sp.Sum(sp.exp(logit(k)), (k, 1, K)) - sp.KroneckerDelta(r, LABEL)) * FEATURES[t]
    yield sums_identity("cross-entropy in W, every K, d: dl/dW_rt = (p_r - delta_{ry}) h_t for every entry (r, t)",
                        sp.diff(loss, WEIGHTS[r, t]).subs(weight_index_range()), claimed.subs(weight_index_range()),
                        split=False)
    yield sums_identity("cross-entropy, every K and 1 <= y <= K: sum_r (p_r - delta_{ry}) = 1 - 1 = 0",
                        sp.Sum(softmax(r) - sp.KroneckerDelta(r, LABEL), (r, 1, K)).subs(in_range(LABEL, K)), 0)


def centred(sample, row):
    """``e_{s,row} - (1/K) sum_l e_{s,l}``: every vector summing to 0 has this form (take e = g)."""
    return FREE_VECTOR[sample, row] - sp.Sum(FREE_VECTOR[sample, k], (k, 1, K)) / K


def minibatch_column_sum(extra=0):
    """``sum_r [(1/N) sum_s g_{s,r} h_{s,t} + extra(r)]`` with every per-sample logit gradient summing
    to 0 (Lemma 1 per sample), the sum over r taken inside (finite sums commute)."""
    term = centred(s, r) * FEATURES[s, t] / N + extra
    return sp.Sum(term, (r, 1, K), (s, 1, N))


def minibatch_steps():
    total = sp.Sum(FEATURES[s, t] * centred(s, r), (s, 1, N), (r, 1, K))
    yield fact("finite sums commute: sum_r sum_s = sum_s sum_r (Sum.reorder, constant bounds)",
               (total,), total.reorder((0, 1)) == sp.Sum(FEATURES[s, t] * centred(s, r), (r, 1, K), (s, 1, N)))
    yield sums_identity("minibatch, every N, K, d: grad_W L = (1/N) sum_s g_s h_s^T with sum_k g_{s,k} = 0 for "
                        "each sample has 1^T grad_W L = 0", minibatch_column_sum(), 0)


@lru_cache(maxsize=None)
def gradient_structure_steps() -> tuple:
    """The loss-independent part of Lemma 1 for every K, d, N (no claim enters: computed once)."""
    return (*chain_rule_steps(), *cross_entropy_weight_gradient_steps(), *minibatch_steps(),
            *softmax_probability_steps())


__all__ = ["BIAS", "C", "D", "FEATURES", "INDEX_FORMS", "K", "LABEL", "LOGIT_GRADIENT", "N", "WEIGHTS", "Z", "centred",
           "chain_rule_steps", "crammer_singer_steps", "cross_entropy_weight_gradient_steps", "failure_steps",
           "general_k_verdict", "gradient_structure_steps", "invariance_steps", "logit", "max_translation_steps",
           "minibatch_column_sum", "minibatch_steps", "softmax", "softmax_probability_steps", "sum_of_partials"]
