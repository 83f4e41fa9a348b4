"""Gradient transformations: the small pure pieces every optimizer spec is a chain of.

Modelled on optax's ``transform.py`` (google-deepmind/optax): an optimizer is a chain of
transformations applied in order to the gradient, and the last one scales by the
learning rate. Where ``add_decayed_weights`` stands in the chain is the difference this
package studies: before the momentum / preconditioner it is *coupled* L2 decay
(torch's ``SGD`` and ``Adam`` ``weight_decay``), after it it is *decoupled* decay
(``AdamW``: ``W <- W - eta (step + lambda W) = (1 - eta lambda) W - eta step``).

Each transformation has ``init(params, ops)`` returning its state and
``update(updates, params, state, hp, ops)`` returning ``(updates, state)``. ``hp`` maps
hyperparameter names to values (floats or sympy symbols); ``ops`` is a namespace of
elementwise functions from :mod:`nctheory.theory.ops`. The same code therefore runs on sympy
scalars (the symbolic engine, the LaTeX) and on numpy / cupy / torch arrays.

Per-element state arrays are listed in ``buffers``, under the keys torch.optim uses in
``optimizer.state[p]`` (so :func:`nctheory.from_torch` reads them by these names); a buffer
whose initial value is ``None`` is created at the first step, as torch.optim does for the
momentum buffer. ``letters`` gives each buffer its one-letter symbol in formulas.

Every transformation declares its **nature** -- the one fact from which the package
decides what theory applies (:mod:`nctheory.theory.family`), never from a name:

* :data:`LINEAR`: the output is a homogeneous linear form in (incoming update, weights,
  buffers) with scalar coefficients, so the row-sum map ``R(X) = 1^T X`` commutes with it
  (the symbolic engine re-derives this and refuses a false declaration);
* :data:`ELEMENTWISE`: an entrywise nonlinear map (a sign, a division by a second
  moment); ``output`` says what is known of its values -- :data:`SIGN_OUTPUT` for
  ``{-1, 0, 1}`` (integer row sums, sup-norm <= 1: the box and parity bounds), None for
  unbounded (Adam's ratio);
* :data:`MATRIX`: a map on the whole matrix (Newton-Schulz orthogonalisation, Shampoo).
  ``equivariance`` says what is known of it: :data:`LEFT_ORTHOGONAL` when its output turns
  with its inputs under a reflection on the left (then it keeps zero row sums: the matrix
  theorem, :mod:`nctheory.theorems.matrix_row_sums`; the engine relies on nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass

LINEAR = "linear"
ELEMENTWISE = "elementwise"
MATRIX = "matrix"
NATURES = (LINEAR, ELEMENTWISE, MATRIX)
#: ``output`` of an elementwise transformation whose every entry lies in {-1, 0, 1}.
SIGN_OUTPUT = "sign"
#: ``equivariance`` of a MATRIX transformation f whose output, given the inputs
#: ``X_0 .. X_t`` it has received (K x d, its state is a function of them), satisfies
#: ``f(R X_0, .., R X_t) = c R f(X_0, .., X_t)`` for the reflection ``R = I - (2/K) 1 1^T``
#: and a scalar c (that may depend on anything: a normalisation, a grafting norm). Every
#: map whose left statistics are built from ``X X^T`` and whose right statistics from
#: ``X^T X`` has it for every orthogonal R (Newton-Schulz, the polar factor, Shampoo's
#: ``L^(-1/4) X R^(-1/4)``). Consequence (proved in :mod:`nctheory.theorems.matrix_row_sums`):
#: inputs with zero row sums ``1_K^T X_j = 0`` give an output with zero row sums.
LEFT_ORTHOGONAL = "left_orthogonal"


class Transform:
    """Base class: a stateless linear transformation with no buffers."""

    nature: str = LINEAR
    output: str | None = None
    equivariance: str | None = None
    buffers: tuple[str, ...] = ()
    letters: dict = {}
    hyperparameters: tuple[str, ...] = ()

    def letter(self, buffer: str) -> str:
        """The buffer's symbol in formulas (``u`` for a momentum buffer), else its name."""
        return self.letters.get(buffer, buffer)

    def init(self, params, ops) -> dict:
        return {}

    def update(self, updates, params, state, hp, ops):
        raise NotImplementedError


@dataclass(frozen=True)
class AddDecayedWeights(Transform):
    """``d <- d + lambda W`` (torch's ``weight_decay``; decoupled when placed late)."""

    hyperparameters = ("weight_decay",)

    def update(self, updates, params, state, hp, ops):
        return updates + hp["weight_decay"] * params, state


@dataclass(frozen=True)
class TorchMomentum(Transform):
    """torch.optim.SGD's momentum buffer, first-step rule included.

    ``b_1 = d_0`` (no dampening at the first step); afterwards
    ``b <- mu b + (1 - tau) d``. The step is ``b`` (heavy ball) or ``d + mu b``
    (``nesterov=True``). Source: ``torch/optim/sgd.py``, ``_single_tensor_sgd``.
    """

    nesterov: bool = False
    buffers = ("momentum_buffer",)
    letters = {"momentum_buffer": "u"}
    hyperparameters = ("momentum", "dampening")

    def init(self, params, ops) -> dict:
        return {"momentum_buffer": None}

    def update(self, updates, params, state, hp, ops):
        buf = state["momentum_buffer"]
        if buf is None:
            buf = ops.copy(updates)
        else:
            buf = hp["momentum"] * buf + (1 - hp["dampening"]) * updates
        step = updates + hp["momentum"] * buf if self.nesterov else buf
        return step, {"momentum_buffer": buf}


@dataclass(frozen=True)
class QuasiHyperbolicMomentum(Transform):
    """QHM (Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019).

    ``b <- mu b + (1 - mu) d`` with ``b_0 = 0`` (as in the authors' ``qhoptim``), and
    the step ``(1 - nu) d + nu b``: an interpolation between the plain step (nu = 0) and
    the normalised momentum step (nu = 1).
    """

    buffers = ("momentum_buffer",)
    letters = {"momentum_buffer": "u"}
    hyperparameters = ("momentum", "nu")

    def init(self, params, ops) -> dict:
        return {"momentum_buffer": ops.zeros_like(params)}

    def update(self, updates, params, state, hp, ops):
        mu, nu = hp["momentum"], hp["nu"]
        buf = mu * state["momentum_buffer"] + (1 - mu) * updates
        return (1 - nu) * updates + nu * buf, {"momentum_buffer": buf}


@dataclass(frozen=True)
class ScaleBySign(Transform):
    """``d <- sign(d)`` (signSGD; Bernstein et al., ICML 2018)."""

    nature = ELEMENTWISE
    output = SIGN_OUTPUT

    def update(self, updates, params, state, hp, ops):
        return ops.sign(updates), state


@dataclass(frozen=True)
class ScaleByAdam(Transform):
    """Adam's preconditioned step (Kingma & Ba, ICLR 2015) with torch's bias correction.

    ``m <- beta1 m + (1 - beta1) d``, ``v <- beta2 v + (1 - beta2) d^2`` from ``m = v = 0``,
    step ``(m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)`` at step ``t >= 1``.
    With beta1 = beta2 = 0 and eps = 0 this is ``sign(d)`` wherever ``d != 0``.
    """

    nature = ELEMENTWISE
    buffers = ("exp_avg", "exp_avg_sq")
    letters = {"exp_avg": "m", "exp_avg_sq": "v"}
    hyperparameters = ("beta1", "beta2", "eps")

    def init(self, params, ops) -> dict:
        return {"exp_avg": ops.zeros_like(params), "exp_avg_sq": ops.zeros_like(params), "step": 0}

    def update(self, updates, params, state, hp, ops):
        b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
        t = state["step"] + 1
        m = b1 * state["exp_avg"] + (1 - b1) * updates
        v = b2 * state["exp_avg_sq"] + (1 - b2) * updates * updates
        step = (m / (1 - b1 ** t)) / (ops.sqrt(v / (1 - b2 ** t)) + eps)
        return step, {"exp_avg": m, "exp_avg_sq": v, "step": t}


@dataclass(frozen=True)
class ScaleByLion(Transform):
    """Lion's direction (Chen et al., "Symbolic discovery of optimization algorithms", 2023).

    ``c = sign(beta1 m + (1 - beta1) d)``, then ``m <- beta2 m + (1 - beta2) d`` from m = 0.
    """

    nature = ELEMENTWISE
    output = SIGN_OUTPUT
    buffers = ("exp_avg",)
    letters = {"exp_avg": "m"}
    hyperparameters = ("beta1", "beta2")

    def init(self, params, ops) -> dict:
        return {"exp_avg": ops.zeros_like(params)}

    def update(self, updates, params, state, hp, ops):
        b1, b2 = hp["beta1"], hp["beta2"]
        m = state["exp_avg"]
        step = ops.sign(b1 * m + (1 - b1) * updates)
        return step, {"exp_avg": b2 * m + (1 - b2) * updates}


@dataclass(frozen=True)
class ScaleByLearningRate(Transform):
    """``d <- -eta d``: the last link; the new weights are ``W + d``."""

    hyperparameters = ("lr",)

    def update(self, updates, params, state, hp, ops):
        return -hp["lr"] * updates, state


add_decayed_weights = AddDecayedWeights()
scale_by_learning_rate = ScaleByLearningRate()
scale_by_sign = ScaleBySign()
scale_by_adam = ScaleByAdam()
scale_by_lion = ScaleByLion()
torch_momentum = TorchMomentum()
torch_nesterov = TorchMomentum(nesterov=True)
quasi_hyperbolic_momentum = QuasiHyperbolicMomentum()
