"""THEORY.md section 2's losses and the last layer, written here so that the Lemma 1 and
Theorem 2 proof modules derive gradients without the package's loss code or gradient helpers.

Every loss is a per-sample ``l(z)`` of the logits ``z in R^K`` with true class index 0 (a
label y is handled by moving z_y to the front). Gradients are ``sympy.diff`` of
``l(W h + b)`` in the entries of W and b; nothing here imports ``nctheory``.

The shift-invariance decision (Lemma 1's hypothesis ``l(z + c 1) = l(z)``):

* invariant, if ``l(z + c 1)`` with every ``max(x_1 + c, ..., x_n + c)`` rewritten as
  ``c + max(x_1, ..., x_n)`` equals ``l(z)`` after expansion, or if
  ``sum_k dl/dz_k = d/dc l(z + c 1)|_{c=0}``, with ``exp(z_k)`` renamed ``E_k > 0``, cancels
  to 0 as a rational function;
* not invariant, with an exact witness: at ``z = 0`` or at ``z_k = log(k + 2)`` (every
  ``exp(z_k)`` rational; other parameters at 1/3) ``sum_k dl/dz_k`` is a nonzero rational;
* otherwise undecided (None).
"""

from __future__ import annotations

import sympy as sp

EPSILON = sp.Symbol("epsilon", nonnegative=True)   # label smoothing
GAMMA = sp.Symbol("gamma", positive=True)          # focal loss
SHIFT = sp.Symbol("c", real=True)


def logits(k: int) -> tuple:
    return sp.symbols(f"z_1:{k + 1}", real=True)


def _log_sum_exp(z):
    return sp.log(sum(sp.exp(v) for v in z))


def cross_entropy(z):
    """-log p_y, p = softmax(z)."""
    return _log_sum_exp(z) - z[0]


def label_smoothing(z):
    """Cross-entropy against (1 - eps) e_y + eps/K (Szegedy et al., 2016), eps symbolic."""
    k = len(z)
    weights = [(1 - EPSILON) * int(i == 0) + EPSILON / k for i in range(k)]
    return sum(w * (_log_sum_exp(z) - z[i]) for i, w in enumerate(weights))


def soft_labels(z):
    """Cross-entropy against targets q summing to one (mixup; Zhang et al., 2018)."""
    q = list(sp.symbols(f"q_1:{len(z)}", nonnegative=True))
    q.append(1 - sum(q))
    return sum(qi * (_log_sum_exp(z) - z[i]) for i, qi in enumerate(q))


def focal(z):
    """-(1 - p_y)^gamma log p_y (Lin et al., 2017), gamma symbolic."""
    p = sp.exp(z[0]) / sum(sp.exp(v) for v in z)
    return -(1 - p) ** GAMMA * sp.log(p)


def crammer_singer(z):
    """max(0, 1 + max_{k != y} z_k - z_y) (Crammer & Singer, 2001)."""
    return sp.Max(0, 1 + sp.Max(*z[1:]) - z[0])


def squared_error(z):
    """||z - e_y||^2: not shift invariant."""
    return sum((v - int(i == 0)) ** 2 for i, v in enumerate(z))


def sigmoid_one_vs_rest(z):
    """sum_k binary cross-entropy of sigmoid(z_k) against [k = y]: not shift invariant."""
    return sp.log(1 + sp.exp(-z[0])) + sum(sp.log(1 + sp.exp(v)) for v in z[1:])


#: THEORY.md section 2: loss -> (l(z), whether Lemma 1 applies).
THEORY_TABLE = {
    "cross_entropy": (cross_entropy, True),
    "label_smoothing": (label_smoothing, True),
    "soft_labels": (soft_labels, True),
    "focal": (focal, True),
    "crammer_singer": (crammer_singer, True),
    "mse": (squared_error, False),
    "sigmoid_ovr": (sigmoid_one_vs_rest, False),
}


def with_label(loss, label: int):
    """The loss for true class ``label``: z_label moved to the front."""
    return lambda z: loss([z[label]] + list(z[:label]) + list(z[label + 1:]))


# ---------------------------------------------------------------------- gradients
def last_layer(k: int, d: int, weights=None):
    """Symbolic W (K x d), b (K), h (d) and z = W h + b."""
    W = weights if weights is not None else sp.Matrix(k, d, lambda i, j: sp.Symbol(f"W_{i + 1}{j + 1}", real=True))
    b = sp.Matrix(k, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
    h = sp.Matrix(d, 1, lambda j, _: sp.Symbol(f"h_{j + 1}", real=True))
    return W, b, h, W * h + b


def per_sample_gradients(loss, k: int, d: int):
    """(grad_W l, grad_b l, grad_z l at z = W h + b, h) by sympy.diff."""
    W, b, h, z = last_layer(k, d)
    value = loss(list(z))
    zs = logits(k)
    grad_z = sp.Matrix([sp.diff(loss(list(zs)), v) for v in zs]).subs(dict(zip(zs, z)))
    return (sp.Matrix(k, d, lambda i, j: sp.diff(value, W[i, j])), sp.Matrix([sp.diff(value, v) for v in b]),
            grad_z, h)


def minibatch_gradient(loss, labels, k: int, d: int, weights=None):
    """grad_W of (1/n) sum_i l(W h_i + b; y_i), every sample with its own symbolic features."""
    W, b, _, _ = last_layer(k, d, weights)
    total = sp.Integer(0)
    for index, label in enumerate(labels):
        h = sp.Matrix([sp.Symbol(f"h_{index + 1}{j + 1}", real=True) for j in range(d)])
        total += with_label(loss, label)(list(W * h + b))
    return sp.Matrix(k, d, lambda i, j: sp.diff(total / len(labels), W[i, j]))


def cancelled(matrix: sp.Matrix) -> sp.Matrix:
    return matrix.applyfunc(lambda e: sp.cancel(sp.together(e)))


# ---------------------------------------------------------------------- shift invariance
def _max_shift_pulled(expr, c=SHIFT):
    """Every max / min whose arguments all contain + c, as c + max(arguments - c) (bottom-up)."""
    def pull(node):
        rest = [sp.expand(arg - c) for arg in node.args]
        return node if any(r.has(c) for r in rest) else c + node.func(*rest)

    return expr.replace(lambda n: isinstance(n, (sp.Max, sp.Min)), pull)


def derivative_along_ones(expr, z):
    """sum_k dl/dz_k = d/dc l(z + c 1) at c = 0."""
    return sum(sp.diff(expr, v) for v in z)


def decide_shift_invariance(expr, z) -> bool | None:
    """True / False / None (see the module docstring)."""
    shifted = expr.subs({v: v + SHIFT for v in z}, simultaneous=True)
    if sp.expand(_max_shift_pulled(shifted) - expr) == 0:
        return True
    derivative = derivative_along_ones(expr, z)
    exps = {sp.exp(v): sp.Symbol(f"E_{i + 1}", positive=True) for i, v in enumerate(z)}
    renamed = sp.cancel(sp.together(derivative.subs(exps)))
    if renamed == 0 and not renamed.has(*z):
        return True
    return False if witness_value(expr, z) is not None else None


WITNESS_POINTS = (lambda k: 0, lambda k: sp.log(k + 2))  # exp(z_k) = 1, resp. k + 2: rational


def witness_value(expr, z):
    """The first nonzero exact rational value of sum_k dl/dz_k at a witness point (other symbols
    at 1/3): z = 0, then z_k = log(k + 2); None if there is none."""
    for point in WITNESS_POINTS:
        derivative = derivative_along_ones(expr, z).subs({v: point(k) for k, v in enumerate(z)})
        value = sp.expand(derivative.subs({s: sp.Rational(1, 3) for s in derivative.free_symbols}))
        if value.is_Rational and value != 0:
            return value
    return None


# ---------------------------------------------------------------------- symbolic K (index sums)
#: Logits of symbolic length K, the label y (1 <= y <= K by hypothesis), the class indices.
K = sp.Symbol("K", integer=True, positive=True)
LABEL = sp.Symbol("y", integer=True, positive=True)
Z = sp.IndexedBase("z", real=True)
Q = sp.IndexedBase("q", real=True)
kk, jj = sp.symbols("k j", integer=True)


def log_partition(z=Z):
    """log sum_{k=1}^K exp(z_k)."""
    return sp.log(sp.Sum(sp.exp(z[kk]), (kk, 1, K)))


def probability(index, z=Z):
    return sp.exp(z[index]) / sp.Sum(sp.exp(z[kk]), (kk, 1, K))


def _cross_entropy_against(weight):
    return lambda z: sp.Sum(weight(kk) * (log_partition(z) - z[kk]), (kk, 1, K))


def _ovr_sigmoid(z):
    """The classes before and after y as two sums, the true class in between."""
    negatives = sp.log(1 + sp.exp(z[kk]))
    return (sp.Sum(negatives, (kk, 1, LABEL - 1)) + sp.log(1 + sp.exp(-z[LABEL]))
            + sp.Sum(negatives, (kk, LABEL + 1, K)))


#: THEORY.md's table for symbolic K: loss -> (l(z) as index sums, whether Lemma 1 applies).
#: The Crammer-Singer hinge is treated separately (a max over K - 1 logits): test_lemma1's
#: translation lemma for max.
THEORY_TABLE_SYMBOLIC_K = {
    "cross_entropy": (lambda z: log_partition(z) - z[LABEL], True),
    "label_smoothing": (_cross_entropy_against(lambda k: (1 - EPSILON) * sp.KroneckerDelta(k, LABEL) + EPSILON / K),
                        True),
    "soft_labels": (_cross_entropy_against(lambda k: Q[k]), True),
    "focal": (lambda z: -(1 - probability(LABEL, z)) ** GAMMA * sp.log(probability(LABEL, z)), True),
    "mse": (lambda z: sp.Sum((z[kk] - sp.KroneckerDelta(kk, LABEL)) ** 2, (kk, 1, K)), False),
    "sigmoid_ovr": (_ovr_sigmoid, False),
}
