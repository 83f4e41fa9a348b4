r"""The unconstrained features model (UFM) with analytic gradients, for numpy and cupy.

Mixon, Parshall & Pi, "Neural collapse with unconstrained features" (2020); Fang et al.,
"Exploring deep neural networks via layer-peeled model", PNAS 2021; Zhu et al., "A
geometric analysis of neural collapse with unconstrained features", NeurIPS 2021.

The features are free variables: ``H`` (N x d, N = K n, labels balanced, ``y_i = i // n``),
last layer ``W`` (K x d) and optionally ``b`` (K,). Logits ``Z = H W^T + 1 b^T`` and, for a
minibatch B of rows (all rows by default), the mean loss ``L = (1/|B|) sum_{i in B} l(z_i; y_i)``
with ``dL/dZ`` the per-sample gradients ``dl/dz_i`` over |B|, both from the loss registry
(:mod:`nctheory.theory.losses`: numpy / cupy forms tested against the sympy gradient), e.g.

* cross-entropy with label smoothing eps (Szegedy et al., CVPR 2016), targets
  ``Q = (1 - eps) onehot(y) + eps/K``:
  ``L = -(1/|B|) sum_{i in B} sum_k Q_ik log softmax(z_i)_k``, ``dL/dZ = (softmax(Z) - Q)/|B|``;
* squared error on the logits (``losses.LOSSES["mse"]``):
  ``L = (1/|B|) sum_{i in B} ||z_i - e_{y_i}||^2``, ``dL/dZ = 2 (Z - onehot(y)) / |B|``;

and by the chain rule ``grad_W = (dL/dZ)^T H_B``, ``grad_H[B] = (dL/dZ) W`` (zero on the
other rows), ``grad_b = 1^T dL/dZ``. For cross-entropy every row of dL/dZ sums to zero, so
``1_K^T grad_W = 0`` (Lemma 1); for the squared error it does not.

The code is written once against the array API shared by numpy and cupy: the namespace
comes from the arrays (:func:`nctheory.theory.ops.array_namespace`, array-api-compat), and
cupy is imported only when the arrays are cupy arrays. Weight decay, when the optimizer has
it, applies to every block (W, H and b): that is the UFM with decay on both W and H. The step is the spec's own ``spec.step``
with :func:`nctheory.theory.ops.for_array`. Initialisation is drawn on the host from a seeded
numpy Generator, so numpy, cupy and torch runs start from identical arrays.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from nctheory.theory import ops as ops_module
from nctheory.theory.ops import array_namespace  # the one array-library dispatch
from nctheory.theory.losses import LOSSES, run_parameters, runnable_losses
from nctheory.errors import NCTheoryError


def init_ufm(num_classes: int, samples_per_class: int, dim: int, *, seed: int = 0,
             bias: bool = False, feature_scale: float = 1.0, weight_scale: float | None = None,
             dtype=np.float64) -> tuple[dict, np.ndarray]:
    """Seeded host (numpy) initialisation: ``({"W", "H"[, "b"]}, y)``.

    ``H_ij ~ N(0, feature_scale^2)``, ``W_kj ~ N(0, weight_scale^2)`` with default
    ``weight_scale = 1/sqrt(d)`` (logits of order one), ``b = 0``. Labels are balanced:
    ``y = (0,..,0, 1,..,1, ..., K-1)``, n each.
    """
    for name, value, low in (("num_classes", num_classes, 2), ("samples_per_class", samples_per_class, 1),
                             ("dim", dim, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise NCTheoryError(f"{name} must be an integer >= {low}, got {value!r}")
    weight_scale = 1.0 / math.sqrt(dim) if weight_scale is None else weight_scale
    rng = np.random.default_rng([int(seed), 0])
    W = rng.standard_normal((num_classes, dim)) * weight_scale
    H = rng.standard_normal((num_classes * samples_per_class, dim)) * feature_scale
    params = {"W": W.astype(dtype), "H": H.astype(dtype)}
    if bias:
        params["b"] = np.zeros(num_classes, dtype=dtype)
    y = np.repeat(np.arange(num_classes, dtype=np.int64), samples_per_class)
    return params, y


def check_loss(loss: str, label_smoothing: float = 0.0) -> tuple[str, float]:
    """Normalise ``(loss, label_smoothing)`` against the loss registry
    (:data:`nctheory.theory.losses.LOSSES`; a run needs a loss whose parameters all have
    defaults). ``"label_smoothing"`` alone means the eps declared on that loss;
    ``"cross_entropy"`` with eps > 0 is label smoothing.

    Returns the registry name of the loss actually used (``"label_smoothing"`` when
    eps > 0) and eps.
    """
    if loss not in runnable_losses():
        needs = f" ({LOSSES[loss].name} needs per-sample parameters a run does not supply)" if loss in LOSSES else ""
        raise NCTheoryError(f"loss must be one of {', '.join(map(repr, runnable_losses()))}, got {loss!r}{needs}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing < 1.0:
        raise NCTheoryError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
    if loss not in ("cross_entropy", "label_smoothing"):
        if label_smoothing:
            raise NCTheoryError(f"label_smoothing applies to cross-entropy, not to loss={loss!r}")
        return loss, 0.0
    if loss == "label_smoothing" and label_smoothing == 0.0:
        label_smoothing = LOSSES["label_smoothing"].default("epsilon")
    return ("label_smoothing" if label_smoothing > 0 else "cross_entropy"), float(label_smoothing)


def logits(params: dict, rows=None):
    """``Z = H_B W^T (+ b)`` for the rows ``B`` (all rows when None)."""
    H = params["H"] if rows is None else params["H"][rows]
    Z = H @ params["W"].T
    return Z + params["b"] if "b" in params else Z


def _loss_and_dlogits(Z, yb, loss, eps, need_grad=True):
    """``(L, dL/dZ)`` of the mean loss over the rows of Z (``dL/dZ`` None unless needed):
    the registry's per-sample values and gradients, divided by the batch size."""
    B = Z.shape[0]
    values, dlogits = LOSSES[loss].value_and_grad(Z, yb, **run_parameters(eps))
    return values.sum() / B, (dlogits / B if need_grad else None)


def loss_value(params: dict, y, loss: str = "cross_entropy", label_smoothing: float = 0.0):
    """``(L, Z)``: the loss on all rows and the logits, without gradients."""
    loss, eps = check_loss(loss, label_smoothing)
    Z = logits(params)
    return _loss_and_dlogits(Z, y, loss, eps, need_grad=False)[0], Z


def loss_and_gradients(params: dict, y, loss: str = "cross_entropy", label_smoothing: float = 0.0,
                       rows=None) -> tuple[object, dict]:
    """``(L, {"W": dL/dW, "H": dL/dH[, "b": dL/db]})`` on the minibatch ``rows``.

    ``y`` holds the labels of all N rows (same array library as the params). ``L`` is a
    0-d array of the params' library. See the module docstring for the formulas.
    """
    xp = array_namespace(params["W"])
    loss, eps = check_loss(loss, label_smoothing)
    H = params["H"] if rows is None else params["H"][rows]
    yb = y if rows is None else y[rows]
    value, dZ = _loss_and_dlogits(logits(params, rows), yb, loss, eps)
    grads = {"W": dZ.T @ H}
    if rows is None:
        grads["H"] = dZ @ params["W"]
    else:
        grads["H"] = xp.zeros_like(params["H"])
        grads["H"][rows] = dZ @ params["W"]
    if "b" in params:
        grads["b"] = dZ.sum(axis=0)
    return value, grads


class UFM:
    """An unconstrained features model trained by the steps of an optimizer spec.

    Args:
        num_classes, samples_per_class, dim: K, n and d (N = K n).
        xp: ``numpy`` or ``cupy`` (module), where the arrays live.
        seed, bias, dtype, feature_scale, weight_scale: see :func:`init_ufm`.
        loss, label_smoothing: see :func:`check_loss`.
    """

    def __init__(self, num_classes: int = 5, samples_per_class: int = 8, dim: int = 16, *, xp=np,
                 seed: int = 0, bias: bool = False, dtype=np.float64, loss: str = "cross_entropy",
                 label_smoothing: float = 0.0, feature_scale: float = 1.0,
                 weight_scale: float | None = None):
        self.loss, self.label_smoothing = check_loss(loss, label_smoothing)
        host, y = init_ufm(num_classes, samples_per_class, dim, seed=seed, bias=bias, dtype=dtype,
                           feature_scale=feature_scale, weight_scale=weight_scale)
        self.xp = xp
        self.params = {k: xp.asarray(v) for k, v in host.items()}
        self.y = xp.asarray(y)
        self.y_host = y
        self.num_classes = num_classes

    def loss_and_gradients(self, rows=None):
        return loss_and_gradients(self.params, self.y, self.loss, self.label_smoothing, rows)

    def init_state(self, spec) -> dict:
        """The spec's chain state for every block."""
        return {k: spec.init_state(v, ops_module.for_array(v)) for k, v in self.params.items()}

    def step(self, spec, state: dict, hp: dict, rows=None):
        """One optimizer step on every block; returns ``(loss before the step, new state)``."""
        value, grads = self.loss_and_gradients(rows)
        new_state = {}
        for name, param in self.params.items():
            ops = ops_module.for_array(param)
            self.params[name], new_state[name] = spec.step(param, grads[name], state[name], hp=hp, ops=ops)
        return value, new_state

    def row_sum(self):
        """``W^T 1_K`` (an array of the model's library)."""
        return self.params["W"].sum(axis=0)
