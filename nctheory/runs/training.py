"""Training runs that measure what the theory predicts.

This module is the contract between the numerical layer (models, data, backends) and the
verdict / check / tracker layer. :func:`run_training` trains a classifier with the
optimizer of a spec and records the last layer's row sums ``W_t^T 1_K`` at every step and
the NC metrics every ``record_every`` steps, in a :class:`TrainingRecord`.

Which optimizer implementation runs:

* ``backend="torch"`` (all models): :func:`nctheory.pytorch.spec_optimizer.make_optimizer` -- the real
  ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` where the spec has a ``torch_class`` (so a
  verification run tests the implementation users run), else a ``SpecOptimizer``
  (``prefer_torch=False`` forces the latter). Gradients by autograd.
* ``backend="numpy"`` / ``"cupy"`` (UFM only): analytic gradients (:mod:`nctheory.runs.ufm`) and
  the spec's own ``spec.step``.

Conventions (shared with :func:`nctheory.theory.predict.predict`): step ``t`` (0-based) uses
``learning_rates[t]``, evaluates the loss at ``W_t`` and produces ``W_{t+1}``;
``row_sums[t] = W_t^T 1_K``. Metrics recorded "at step k" are those of ``W_k``.

Divergence: step ``t`` *fails* when its loss (at ``W_t``) or the last-layer weights it
produces are NaN/inf (hidden weights that blow up make the next loss non-finite). Then
``diverged_at = t``, training stops and the record holds ``W_0 .. W_t`` -- everything
finite; so ``diverged_at == steps_done``. Finiteness is checked every few steps on the
device (one host synchronisation per check, not per step); the steps run past the failure
before it is seen are discarded. ``KeyboardInterrupt`` stops the run with
``stopped_early=True`` and keeps what was completed.
"""

from __future__ import annotations

import contextlib
import copy
import json
import numbers
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from nctheory.runs.backends import Backend, resolve_backend
from nctheory.errors import NCTheoryError
from nctheory.runs.collapse_metrics import nc_metrics, to_numpy
from nctheory.theory.predict import learning_rates as _learning_rates
from nctheory.theory.spec import OptimizerSpec
from nctheory.runs.ufm import UFM, check_loss, init_ufm, loss_value

MODELS = ("ufm", "mlp", "cnn", "gaussian_mlp", "user")
METRIC_NAMES = ("nc0", "nc0_rel", "nc1", "nc2_norm", "nc2_angle", "nc3", "nc4", "loss", "accuracy", "w_fro", "w_sup")
_MAX_CHECK_EVERY = 50
UFM_RECORD_EVERY = 200
NETWORK_RECORD_EVERY_EPOCHS = 20


def default_record_every(model: str, num_samples: int, batch_size: int | None) -> int:
    """The metric interval used when ``record_every=None``: metric overhead below 10%.

    Measured on a 2-core CPU with one thread (numerics/bench_ufm.py for the UFM):

    * UFM: one metric evaluation (NC0..NC4 on the host and the full loss) costs about as
      much as 7 numpy UFM steps (0.25 ms vs 37 us; torch-cpu: 0.43 ms vs 190 us), so the UFM
      records every ``UFM_RECORD_EVERY = 200`` steps: 2-6% overhead.
    * networks: one evaluation is a forward pass over all N training samples plus the same
      statistics, i.e. about a third of a full-batch step and ``N / (3 B)`` minibatch steps,
      plus about 1 ms; measured 1.4-155 ms per evaluation (Gaussian MLP to the digits CNN).
      Networks record every ``20`` epochs' worth of steps, ``20 * ceil(N / batch_size)``
      (20 for full batch): 2-7% overhead in the measured cases (mlp, cnn, gaussian_mlp,
      full batch and minibatch), where every 10 epochs' worth gave up to 17%.
    """
    if model == "ufm":
        return UFM_RECORD_EVERY
    if batch_size is None:
        return NETWORK_RECORD_EVERY_EPOCHS
    return NETWORK_RECORD_EVERY_EPOCHS * -(-num_samples // batch_size)

# defaults per model: K, d (UFM feature dim / Gaussian input dim), n per class (UFM, Gaussian)
_UFM_DEFAULTS = {"num_classes": 5, "dim": 16, "samples_per_class": 8}
_GAUSSIAN_DEFAULTS = {"num_classes": 5, "dim": 20, "samples_per_class": 50}


@dataclass
class TrainingRecord:
    """Everything a run measured. Arrays are float64 numpy arrays on the host.

    Attributes:
        optimizer: registry name of the spec that was run.
        hparams: the hyperparameters as floats (torch names; Adam's betas as beta1, beta2).
        model: "ufm", "mlp", "cnn", "gaussian_mlp" or "user".
        backend: "torch", "numpy" or "cupy"; device: "cpu" or "cuda"; dtype: "float64" / "float32".
        seed: the seed everything was drawn from.
        num_classes: K.
        row_sums: shape (steps_done + 1, d): ``W_t^T 1_K`` after every step (t = 0 first).
        learning_rates: shape (steps_done,): the learning rate used at each step.
        metric_steps: steps at which ``metrics`` were recorded (0, every record_every, and
            the last step).
        metrics: name -> array over metric_steps: "nc0", "nc0_rel", "nc1", "nc2_norm",
            "nc2_angle" (NC2's equinorm and equiangularity), "nc3", "nc4", "loss" (on the
            whole training set), "accuracy", "w_fro" (||W||_F), "w_sup" (||W||_inf)
            (NaN where a metric is undefined).
        diverged_at: the first step whose loss or weights were NaN/inf, else None
            (then ``diverged_at == steps_done``; see the module docstring).
        loss: the loss's registry name ("cross_entropy", "label_smoothing", "mse").
        stopped_early: True when interrupted (KeyboardInterrupt) -- what was computed is kept.
        implementation: the optimizer code that ran ("torch.optim.SGD",
            "nctheory.SpecOptimizer", "spec.step/numpy", ...).
        label_smoothing: eps of the label-smoothed cross-entropy (0 for none).
        batch_size: minibatch size (None: full batch).
        record_every: the metric interval used (0: metrics never recorded).
        config: sizes and data description (feature dimension ``dim``, ``num_samples``, ...).
        wall_time_s: seconds of the training loop; metric_time_s: of which metrics.
        trained_model: for ``model="user"``, the trained copy of the user's module (not saved).
    """

    optimizer: str
    hparams: dict
    model: str
    backend: str
    device: str
    dtype: str
    seed: int
    num_classes: int
    row_sums: np.ndarray
    learning_rates: np.ndarray
    metric_steps: np.ndarray
    metrics: dict = field(default_factory=dict)
    diverged_at: int | None = None
    loss: str = "cross_entropy"
    stopped_early: bool = False
    implementation: str = ""
    label_smoothing: float = 0.0
    batch_size: int | None = None
    record_every: int = 0
    config: dict = field(default_factory=dict)
    wall_time_s: float = 0.0
    metric_time_s: float = 0.0
    trained_model: object = field(default=None, repr=False, compare=False)

    @property
    def steps_done(self) -> int:
        return len(self.learning_rates)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def metric(self, name: str) -> np.ndarray:
        """The array of one metric over :attr:`metric_steps`."""
        if name not in self.metrics:
            raise NCTheoryError(f"no metric {name!r} in this record; recorded: {', '.join(self.metrics)}")
        return self.metrics[name]


# ---------------------------------------------------------------------- minibatches
def _batches(num_samples: int, batch_size: int | None, rng: np.random.Generator):
    """Index arrays of minibatches forever: a fresh permutation per epoch (None: full batch)."""
    if batch_size is None:
        while True:
            yield None
    while True:
        order = rng.permutation(num_samples)
        for start in range(0, num_samples, batch_size):
            yield order[start:start + batch_size]


# ---------------------------------------------------------------------- runners
class _ArrayUFMRunner:
    """UFM on numpy / cupy: analytic gradients and ``spec.step``."""

    def __init__(self, spec, backend: Backend, sizes: dict, seed: int, loss: str, eps: float, bias: bool):
        self.xp = backend.xp
        self.spec = spec
        self.ufm = UFM(sizes["num_classes"], sizes["samples_per_class"], sizes["dim"], xp=self.xp,
                       seed=seed, bias=bias, dtype=backend.numpy_dtype, loss=loss, label_smoothing=eps)
        self.state = self.ufm.init_state(spec)
        self.base_hp = spec.float_hp()
        self.num_samples = self.ufm.y_host.size
        self.dim = sizes["dim"]
        self.implementation = f"spec.step/{backend.name}"

    def empty(self, *shape):
        return self.xp.empty(shape, dtype=self.xp.float64)

    def row_sum(self):
        return self.ufm.row_sum()

    def step(self, lr: float, rows):
        if rows is not None:
            rows = self.xp.asarray(rows)
        value, self.state = self.ufm.step(self.spec, self.state, {**self.base_hp, "lr": lr}, rows)
        return value

    def finite_mask(self, losses, rows):
        xp = self.xp
        return to_numpy(xp.isfinite(losses) & xp.isfinite(rows).all(axis=1)).astype(bool)

    def metrics(self) -> dict | None:
        p = {k: to_numpy(v).astype(np.float64) for k, v in self.ufm.params.items()}
        if not all(np.isfinite(v).all() for v in p.values()):
            return None
        # the same formulas, on host float64 copies
        value, Z = loss_value(p, self.ufm.y_host, self.ufm.loss, self.ufm.label_smoothing)
        out = nc_metrics(p["W"], p["H"], self.ufm.y_host, p.get("b"), self.ufm.num_classes)
        out["loss"] = float(value)
        out["accuracy"] = float(np.mean(Z.argmax(1) == self.ufm.y_host))
        return out


class _TorchRunner:
    """Any model on torch: autograd and a torch optimizer from :func:`make_optimizer`."""

    def __init__(self, spec, backend: Backend, loss: str, eps: float, num_classes: int,
                 prefer_torch: bool):
        import torch

        self.torch = torch
        self.device, self.dtype = backend.torch_device, backend.torch_dtype
        self.loss_name, self.eps, self.num_classes = loss, eps, num_classes
        self.spec, self.prefer_torch = spec, prefer_torch

    def _make_optimizer(self, params):
        from nctheory.pytorch.spec_optimizer import make_optimizer

        self.optimizer = make_optimizer(self.spec, params, prefer_torch=self.prefer_torch)
        cls = type(self.optimizer)
        self.implementation = ("nctheory.SpecOptimizer" if cls.__module__.startswith("nctheory")
                               else f"torch.optim.{cls.__name__}")

    def loss_fn(self, Z, y):
        F = self.torch.nn.functional
        if self.loss_name == "mse":
            onehot = F.one_hot(y, self.num_classes).to(Z.dtype)
            return ((Z - onehot) ** 2).sum(1).mean()
        return F.cross_entropy(Z, y, label_smoothing=self.eps)

    def empty(self, *shape):
        return self.torch.empty(shape, dtype=self.torch.float64, device=self.device)

    def row_sum(self):
        return self.W.detach().sum(0)

    def step(self, lr: float, rows):
        torch = self.torch
        if rows is not None:
            rows = torch.as_tensor(rows, device=self.device)
        self.optimizer.zero_grad(set_to_none=True)
        value = self.batch_loss(rows)
        value.backward()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return value.detach()

    def finite_mask(self, losses, rows):
        torch = self.torch
        return (torch.isfinite(losses) & torch.isfinite(rows).all(dim=1)).cpu().numpy().astype(bool)

    def metrics(self) -> dict | None:
        torch = self.torch
        with torch.no_grad():
            H, Z = self.features_and_logits()
            if not (bool(torch.isfinite(H).all()) and bool(torch.isfinite(Z).all())
                    and bool(torch.isfinite(self.W).all())):
                return None
            value = float(self.loss_fn(Z, self.y))
            accuracy = float((Z.argmax(1) == self.y).double().mean())
        b = None if self.b is None else self.b.detach()
        out = nc_metrics(self.W.detach(), H, self.y, b, self.num_classes)
        out["loss"], out["accuracy"] = value, accuracy
        return out


class _TorchUFMRunner(_TorchRunner):
    """UFM with torch tensors: the same initial arrays as the numpy UFM."""

    def __init__(self, spec, backend, sizes, seed, loss, eps, bias, prefer_torch):
        super().__init__(spec, backend, loss, eps, sizes["num_classes"], prefer_torch)
        torch = self.torch
        host, y = init_ufm(sizes["num_classes"], sizes["samples_per_class"], sizes["dim"], seed=seed,
                           bias=bias, dtype=np.float64)
        make = lambda a: torch.tensor(a, dtype=self.dtype, device=self.device).requires_grad_()  # noqa: E731
        self.W, self.H = make(host["W"]), make(host["H"])
        self.b = make(host["b"]) if bias else None
        self.y = torch.as_tensor(y, device=self.device)
        self.num_samples, self.dim = y.size, sizes["dim"]
        self._make_optimizer([p for p in (self.W, self.H, self.b) if p is not None])

    def logits(self, rows=None):
        H = self.H if rows is None else self.H[rows]
        Z = H @ self.W.T
        return Z if self.b is None else Z + self.b

    def batch_loss(self, rows):
        return self.loss_fn(self.logits(rows), self.y if rows is None else self.y[rows])

    def features_and_logits(self):
        return self.H.detach(), self.logits().detach()


class _TorchNetworkRunner(_TorchRunner):
    """A network (MLP, CNN or the user's module) on inputs X with labels y."""

    def __init__(self, spec, backend, net, X, y, num_classes, loss, eps, last_layer, prefer_torch):
        from nctheory.runs.models import find_last_linear

        super().__init__(spec, backend, loss, eps, num_classes, prefer_torch)
        torch = self.torch
        self.net = net.to(device=self.device, dtype=self.dtype)
        layer = find_last_linear(self.net, last_layer)
        if layer.out_features != num_classes:
            raise NCTheoryError(
                f"last_layer: the classifier layer has out_features={layer.out_features} but the "
                f"data have num_classes={num_classes}")
        self.layer, self.W, self.b = layer, layer.weight, layer.bias
        self.X = torch.as_tensor(X).to(device=self.device, dtype=self.dtype)
        self.y = torch.as_tensor(y).to(device=self.device, dtype=torch.long)
        self.num_samples, self.dim = int(self.X.shape[0]), layer.in_features
        self._make_optimizer(self.net.parameters())

    def batch_loss(self, rows):
        if rows is None:
            return self.loss_fn(self.net(self.X), self.y)
        return self.loss_fn(self.net(self.X[rows]), self.y[rows])

    def features_and_logits(self):
        from nctheory.runs.models import penultimate_features

        training = self.net.training
        self.net.eval()
        try:
            H, Z = penultimate_features(self.net, self.X, self.layer)
        finally:
            self.net.train(training)
        return H, Z


# ---------------------------------------------------------------------- argument checks
def _resolve_spec(optimizer, hparams) -> OptimizerSpec:
    from nctheory.optimizers import optimizer as registry_optimizer

    hparams = dict(hparams or {})
    if isinstance(optimizer, str):
        return registry_optimizer(optimizer, **hparams)
    if isinstance(optimizer, OptimizerSpec):
        return optimizer.with_hparams(**hparams) if hparams else optimizer
    raise NCTheoryError(f"optimizer must be a registry name or an OptimizerSpec, got {type(optimizer).__name__}")


def _positive_int(value, name, allow_none=False, allow_zero=False):
    if value is None and allow_none:
        return None
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise NCTheoryError(f"{name} must be {kind} integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _dataset_arrays(model, data, num_classes, dim, samples_per_class, seed, dtype):
    """(X, y, K, description) for a network model."""
    from nctheory.runs.data import Dataset, check_user_tensors, gaussian_mixture, load_digits_data

    if data is None:
        if model == "user":
            raise NCTheoryError("model='user' needs data=(X, y): the inputs and integer labels to train on")
        if model == "gaussian_mlp":
            d = gaussian_mixture(num_classes or _GAUSSIAN_DEFAULTS["num_classes"],
                                 dim or _GAUSSIAN_DEFAULTS["dim"],
                                 samples_per_class or _GAUSSIAN_DEFAULTS["samples_per_class"],
                                 seed=seed, dtype=dtype)
        else:
            if num_classes not in (None, 10):
                raise NCTheoryError(f"num_classes: the digits data have 10 classes, got {num_classes!r}")
            d = load_digits_data(dtype=dtype, seed=0)  # the same fixed split for every run seed
        return d.X, d.y, d.num_classes, d.name
    if isinstance(data, Dataset):
        X, y, name = data.X, data.y, data.name
        num_classes = num_classes or data.num_classes
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        (X, y), name = data, "user"
    else:
        raise NCTheoryError("data must be a nctheory.runs.data.Dataset or a pair (X, y)")
    X, y, K = check_user_tensors(X, y, num_classes)
    return X, y, K, name


def _check_unused(model, **given):
    unused = [name for name, value in given.items() if value is not None]
    if unused:
        raise NCTheoryError(f"{', '.join(unused)} do(es) not apply to model={model!r}")


# ---------------------------------------------------------------------- the run
def run_training(optimizer, hparams=None, *, model: str = "ufm", data=None, num_classes: int | None = None,
                 dim: int | None = None, width: int | None = None, samples_per_class: int | None = None,
                 steps: int = 300, seed: int = 0, backend: str = "auto", device: str = "auto",
                 dtype: str = "float64", record_every: int | None = None, lr_schedule=None,
                 loss: str = "cross_entropy", label_smoothing: float = 0.0, batch_size: int | None = None,
                 progress=None, user_model=None, last_layer: str | None = None, bias: bool = False,
                 prefer_torch: bool = True, num_threads: int | None = 1) -> TrainingRecord:
    """Train with the optimizer of a spec; record row sums every step and NC metrics.

    Args:
        optimizer: a registry name (with ``hparams``, torch names) or an OptimizerSpec.
        model: "ufm" (free features H, N = K n, and W; decay on both), "mlp" / "cnn"
            (digits, 3 hidden ReLU layers of ``width`` / a small CNN), "gaussian_mlp" (MLP
            on :func:`nctheory.runs.data.gaussian_mixture`), "user" (``user_model`` on ``data``).
        data: for networks, a :class:`nctheory.runs.data.Dataset` or ``(X, y)``; default digits /
            a Gaussian mixture. Not used by the UFM.
        num_classes, dim, samples_per_class: sizes (UFM defaults K=5, d=16, n=8; Gaussian
            K=5, dim=20, n=50); width: hidden width of the MLP / CNN (64).
        steps: optimizer steps; seed: seeds torch and numpy Generators.
        backend, device, dtype: see :func:`nctheory.runs.backends.resolve_backend`.
        record_every: metric interval (0: none); metrics also at step 0 and the last step.
            None: :func:`default_record_every` (overhead below 10%).
        lr_schedule: a sequence of >= steps learning rates or a callable ``step -> lr``;
            with torch it is applied by setting ``param_group["lr"]`` before each step.
        loss: "cross_entropy", "label_smoothing" (eps 0.1 unless given) or "mse".
        label_smoothing: eps of cross-entropy's label smoothing, in [0, 1).
        batch_size: minibatch size (None: full batch); minibatches are seeded permutations.
        progress: optional ``callable(step, steps)`` called after every step.
        user_model, last_layer: the module for model="user" (a deep copy is trained and
            returned as ``record.trained_model``) and the name of its classifier layer
            (default: its last ``nn.Linear``).
        bias: give the UFM a bias b (decayed like W and H).
        prefer_torch: with torch, use torch.optim's class where the spec has one.
        num_threads: torch's intra-op threads and numpy's BLAS threads during a CPU run
            (restored afterwards); None keeps the current settings. The default 1 is
            deliberate: the models here are too small for intra-op parallelism to help,
            and on a busy machine (more runnable processes than cores) the threads'
            barriers made a 2-thread torch run of the UFM about 300 times slower than a
            1-thread run (measured: 300 steps in 33 s versus 0.09 s).
    """
    if model not in MODELS:
        raise NCTheoryError(f"model must be one of {', '.join(map(repr, MODELS))}, got {model!r}")
    spec = _resolve_spec(optimizer, hparams)
    steps = _positive_int(steps, "steps")
    seed = _positive_int(seed, "seed", allow_zero=True)
    record_every = _positive_int(record_every, "record_every", allow_zero=True, allow_none=True)
    batch_size = _positive_int(batch_size, "batch_size", allow_none=True)
    if progress is not None and not callable(progress):
        raise NCTheoryError("progress must be a callable(step, steps) or None")
    loss_name, eps = check_loss(loss, label_smoothing)
    rates = _learning_rates(spec, steps, lr_schedule)
    if "lr" not in spec.values:
        spec = spec.with_hparams(lr=float(rates[0]))
    spec.require_values()
    target = resolve_backend(backend, device, dtype, model)
    if model != "user":
        _check_unused(model, user_model=user_model, last_layer=last_layer)
    if model != "ufm" and bias:
        raise NCTheoryError("bias applies to model='ufm' (networks have their own biases)")

    if num_threads is not None:
        num_threads = _positive_int(num_threads, "num_threads")
    with _cpu_threads(num_threads if target.device == "cpu" else None):
        return _run(spec, target, model, data, num_classes, dim, width, samples_per_class, steps, seed,
                    record_every, rates, loss_name, eps, batch_size, progress, user_model, last_layer,
                    bias, prefer_torch)


@contextlib.contextmanager
def _cpu_threads(num_threads):
    """Limit torch's intra-op threads and the BLAS pools (threadpoolctl, a scikit-learn
    dependency) to ``num_threads`` for the duration of a run; None changes nothing."""
    if num_threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - installed with scikit-learn
            yield
        else:
            with threadpool_limits(limits=num_threads):
                yield
    finally:
        torch.set_num_threads(previous)


def _run(spec, target, model, data, num_classes, dim, width, samples_per_class, steps, seed, record_every,
         rates, loss_name, eps, batch_size, progress, user_model, last_layer, bias, prefer_torch):
    import torch

    torch.manual_seed(seed)
    config: dict = {}
    if model == "ufm":
        _check_unused(model, data=data, width=width)
        sizes = {"num_classes": num_classes or _UFM_DEFAULTS["num_classes"],
                 "dim": dim or _UFM_DEFAULTS["dim"],
                 "samples_per_class": samples_per_class or _UFM_DEFAULTS["samples_per_class"]}
        if target.name == "torch":
            runner = _TorchUFMRunner(spec, target, sizes, seed, loss_name, eps, bias, prefer_torch)
        else:
            runner = _ArrayUFMRunner(spec, target, sizes, seed, loss_name, eps, bias)
        K = sizes["num_classes"]
        config.update(sizes, bias=bias)
    else:
        from nctheory.runs.models import build_model

        if model == "user":
            _check_unused(model, width=width, dim=dim, samples_per_class=samples_per_class)
            if user_model is None:
                raise NCTheoryError("model='user' needs user_model=<a torch.nn.Module>")
            if not isinstance(user_model, torch.nn.Module):
                raise NCTheoryError(f"user_model must be a torch.nn.Module, got {type(user_model).__name__}")
        X, y, K, data_name = _dataset_arrays(model, data, num_classes, dim, samples_per_class, seed,
                                             target.dtype)
        if model == "user":
            net = copy.deepcopy(user_model)
        else:
            in_features = int(np.prod(tuple(X.shape[1:])))
            if model == "cnn" and in_features != 64:
                raise NCTheoryError(f"model='cnn' is for 8x8 images (64 features), got {in_features} features")
            net = build_model(model, in_features, K, width=width, dtype=target.torch_dtype)
        runner = _TorchNetworkRunner(spec, target, net, X, y, K, loss_name, eps, last_layer, prefer_torch)
        config.update(num_classes=K, dim=runner.dim, num_samples=runner.num_samples, data=data_name,
                      width=None if model == "user" else (width or 64))
    if batch_size is not None and batch_size > runner.num_samples:
        raise NCTheoryError(f"batch_size={batch_size} exceeds the {runner.num_samples} training samples")
    config.setdefault("num_samples", runner.num_samples)
    if record_every is None:
        record_every = default_record_every(model, runner.num_samples, batch_size)

    record = TrainingRecord(
        optimizer=spec.name, hparams=spec.float_hp(), model=model, backend=target.name,
        device=target.device, dtype=target.dtype, seed=seed, num_classes=K,
        row_sums=np.empty((0, runner.dim)), learning_rates=np.empty(0), metric_steps=np.empty(0, dtype=int),
        loss=loss_name, implementation=runner.implementation, label_smoothing=eps, batch_size=batch_size,
        record_every=record_every, config=config)
    if model == "user":
        record.trained_model = runner.net
    _train(runner, record, rates, steps, record_every, batch_size, seed, progress)
    return record


def _train(runner, record: TrainingRecord, rates, steps, record_every, batch_size, seed, progress):
    """The loop: fills ``record`` in place (see the module docstring for the conventions)."""
    rows = runner.empty(steps + 1, runner.dim)
    losses = runner.empty(steps)
    rows[0] = runner.row_sum()
    metric_steps, metric_rows = [], []
    metric_time = 0.0
    check_every = min(record_every, _MAX_CHECK_EVERY) if record_every else _MAX_CHECK_EVERY
    batches = _batches(runner.num_samples, batch_size, np.random.default_rng([seed, 1]))
    done, checked, diverged_at = 0, 0, None

    def first_failure(upto):
        """The first step in [checked, upto) that failed, or None."""
        if upto <= checked:
            return None
        ok = runner.finite_mask(losses[checked:upto], rows[checked + 1:upto + 1])
        bad = np.flatnonzero(~ok)
        return checked + int(bad[0]) if bad.size else None

    def record_metrics(step):
        nonlocal metric_time
        start = time.perf_counter()
        values = runner.metrics()
        metric_time += time.perf_counter() - start
        if values is not None:
            metric_steps.append(step)
            metric_rows.append(values)
        return values is not None

    start = time.perf_counter()
    # NaN / overflow is expected when a run diverges: it is detected, not warned about
    with np.errstate(all="ignore"):
        try:
            if record_every:
                record_metrics(0)
            for t in range(steps):
                losses[t] = runner.step(float(rates[t]), next(batches))
                rows[t + 1] = runner.row_sum()
                done = t + 1
                if progress is not None:
                    progress(done, steps)
                at_metric = bool(record_every) and (done % record_every == 0 or done == steps)
                if at_metric or done % check_every == 0 or done == steps:
                    failed = first_failure(done)
                    if failed is not None:
                        diverged_at = done = failed
                        break
                    checked = done
                    if at_metric and not record_metrics(done):
                        # finite last-layer row sums but non-finite features: the step before failed
                        diverged_at = done = done - 1
                        break
        except KeyboardInterrupt:
            record.stopped_early = True
            failed = first_failure(done)
            if failed is not None:
                diverged_at = done = failed
    record.wall_time_s = time.perf_counter() - start
    record.metric_time_s = metric_time
    record.diverged_at = diverged_at
    record.row_sums = to_numpy(rows[:done + 1]).astype(np.float64)
    record.learning_rates = np.asarray(rates[:done], dtype=np.float64)
    kept = [i for i, s in enumerate(metric_steps) if s <= done]
    record.metric_steps = np.asarray([metric_steps[i] for i in kept], dtype=np.int64)
    record.metrics = {name: np.asarray([metric_rows[i][name] for i in kept], dtype=np.float64)
                      for name in METRIC_NAMES}


# ---------------------------------------------------------------------- persistence
_ARRAYS = ("row_sums", "learning_rates", "metric_steps")


def _paths(path) -> tuple[Path, Path]:
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def save_record(record: TrainingRecord, path) -> tuple[Path, Path]:
    """Write ``PATH.npz`` (the arrays) and ``PATH.json`` (everything else); returns both paths.

    Each file is written to a temporary name and renamed, so an interrupted write never
    leaves a half-written record. ``trained_model`` is not saved.
    """
    npz_path, json_path = _paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(record, name) for name in _ARRAYS}
    arrays.update({f"metric__{k}": v for k, v in record.metrics.items()})
    tmp = npz_path.with_name(npz_path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, npz_path)
    meta = {f.name: getattr(record, f.name) for f in fields(record)
            if f.name not in _ARRAYS + ("metrics", "trained_model")}
    meta["metric_names"] = list(record.metrics)
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default))
    os.replace(tmp, json_path)
    return npz_path, json_path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def load_record(path) -> TrainingRecord:
    """Read a record written by :func:`save_record` (``path`` with or without suffix)."""
    npz_path, json_path = _paths(path)
    if not npz_path.exists() or not json_path.exists():
        raise NCTheoryError(f"path: no saved record at {npz_path} and {json_path}")
    meta = json.loads(json_path.read_text())
    names = meta.pop("metric_names")
    with np.load(npz_path) as arrays:
        data = {name: arrays[name] for name in _ARRAYS}
        metrics = {k: arrays[f"metric__{k}"] for k in names}
    known = {f.name for f in fields(TrainingRecord)}
    return TrainingRecord(**{k: v for k, v in meta.items() if k in known}, **data, metrics=metrics)
