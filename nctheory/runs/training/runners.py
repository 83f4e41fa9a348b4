"""The runners: one object per kind of run that steps the optimizer and reads the last layer.

A runner holds the model, the data and the optimizer state on its backend and offers what the
loop (:mod:`nctheory.runs.training.loop`) needs: ``step(lr, rows)`` (one optimizer step on
the minibatch ``rows``, returning the loss at the weights before it), ``row_sum()``
(``W^T 1_K`` on the device), ``finite_mask`` (which steps stayed finite, one host
synchronisation), ``metrics()`` (NC0..NC4, loss and accuracy on the host, None when
non-finite) and ``empty`` (device buffers).

* :class:`ArrayUFMRunner` -- the UFM on numpy / cupy: analytic gradients and ``spec.step``.
* :class:`TorchUFMRunner` -- the UFM with torch tensors (the same initial arrays) and a torch
  optimizer from :func:`nctheory.pytorch.spec_optimizer.make_optimizer` (the real
  ``torch.optim`` class where the spec names one, else ``SpecOptimizer``).
* :class:`TorchNetworkRunner` -- a network of :func:`nctheory.runs.architectures.build_model` or
  the user's module, by autograd.

:func:`make_runner` builds the one a spec and a :class:`~nctheory.runs.training.config.RunConfig`
ask for.
"""

from __future__ import annotations

import copy

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.runs.backends import Backend
from nctheory.runs.collapse_metrics import nc_metrics, to_numpy
from nctheory.runs.training.config import RunConfig
from nctheory.runs.ufm import UFM, init_ufm, loss_value
from nctheory.theory.losses import LOSSES, run_parameters


class ArrayUFMRunner:
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


def read_back(optimizer):
    """What :func:`nctheory.from_torch` reads off the live optimizer before its first step
    (the path users take), or the error it raised, as text."""
    from nctheory.errors import NCTheoryError
    from nctheory.pytorch.from_torch import from_torch

    try:
        return from_torch(optimizer)
    except NCTheoryError as error:
        return f"from_torch failed: {error}"


class TorchRunner:
    """Any model on torch: autograd and a torch optimizer from :func:`make_optimizer`."""

    def __init__(self, spec, backend: Backend, loss: str, eps: float, num_classes: int,
                 prefer_torch: bool):
        import torch

        self.torch = torch
        self.device, self.dtype = backend.torch_device, backend.torch_dtype
        self.loss_name, self.eps, self.num_classes = loss, eps, num_classes
        self.spec, self.prefer_torch = spec, prefer_torch

    def _make_optimizer(self, params):
        from nctheory.pytorch.spec_optimizer import implementation_name, make_optimizer

        self.optimizer = make_optimizer(self.spec, params, prefer_torch=self.prefer_torch)
        self.implementation = implementation_name(self.optimizer)
        self.read_back = read_back(self.optimizer)

    def loss_fn(self, Z, y):
        """The mean loss: the registry's torch form (cross-entropy is ``F.cross_entropy``)."""
        return LOSSES[self.loss_name].torch_value(Z, y, reduction="mean", **run_parameters(self.eps))

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
        self._before = self.W.detach().to(torch.float64, copy=True)
        self.optimizer.step()
        return value.detach()

    def step_norm_names(self) -> list[str]:
        """The names of :meth:`step_norms` (``TrainingRecord.step_norms``; read by the
        rounding model of :mod:`nctheory.verdict.noise`)."""
        return ["w_fro", "update_fro", "grad_fro", "grad_row_sum", "drift_ratio"] + [
            f"buffer_fro:{b}" for t in self.spec.chain for b in t.buffers]

    def step_norms(self):
        """After a step: ``||W_(t+1)||_F``, ``||W_(t+1) - W_t||_F``, ``||G_t||_F``, ``||1^T G_t||``
        and each buffer's ``||b_(t+1)||_F`` (NaN if the optimizer keeps no such state), in
        float64 on the device (no host synchronisation)."""
        torch = self.torch
        with torch.no_grad():
            W = self.W.detach().to(torch.float64)
            G = self.W.grad.detach().to(torch.float64) if self.W.grad is not None else torch.zeros_like(W)
            state = self.optimizer.state.get(self.W, {})
            nan = torch.full((), float("nan"), dtype=torch.float64, device=W.device)
            delta = W - self._before
            size = torch.linalg.norm(delta)
            # the drift ratio ||EMA(dW)|| / EMA(||dW||) of nctheory.pytorch.tracker (beta 0.99)
            previous = getattr(self, "_drift", None)
            self._drift = delta * 0.01 if previous is None else previous * 0.99 + delta * 0.01
            self._drift_size = size * 0.01 if previous is None else self._drift_size * 0.99 + size * 0.01
            values = [torch.linalg.norm(W), size, torch.linalg.norm(G), torch.linalg.norm(G.sum(0)),
                      torch.linalg.norm(self._drift) / torch.clamp(self._drift_size, min=1e-300)]
            values += [torch.linalg.norm(state[b].detach().to(torch.float64))
                       if isinstance(state.get(b), torch.Tensor) else nan
                       for t in self.spec.chain for b in t.buffers]
            return torch.stack(values)

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


class TorchUFMRunner(TorchRunner):
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


class TorchNetworkRunner(TorchRunner):
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


# ---------------------------------------------------------------------- building one
def run_dataset(config: RunConfig, dtype: str):
    """The :class:`~nctheory.runs.data.Dataset` a network run trains on, with its tensors checked.

    ``config.data`` if given (a Dataset, or a pair ``(X, y)`` whose ``input_shape`` is
    ``X.shape[1:]``), else :func:`~nctheory.runs.data.load_dataset` of
    :meth:`RunConfig.dataset_name`: the Gaussian mixture from ``config.seed`` and the sizes
    of :meth:`RunConfig.gaussian_sizes`; the other sets with data seed 0 (the same split
    and subset for every run seed) and ``samples_per_class`` as the balanced subset size.
    ``X`` and ``y`` of the result are torch tensors (checked by
    :func:`~nctheory.runs.data.check_user_tensors`), ``X`` of shape (N, *input_shape), so
    that ``Dataset(name, X, y, K)`` made from them keeps the input shape.
    """
    from nctheory.runs.data import Dataset, check_user_tensors, load_dataset

    data, num_classes = config.data, config.num_classes
    if data is None:  # a built-in data set
        name = config.dataset_name()
        if name == "gaussian":
            sizes = config.gaussian_sizes()
            data = load_dataset("gaussian", seed=config.seed, dtype=dtype, **sizes)
        else:
            data = load_dataset(name, data_root=config.data_root, dtype=dtype, seed=0,
                                samples_per_class=config.samples_per_class)
        num_classes = data.num_classes
    if isinstance(data, Dataset):
        X, y, name, shape = data.X, data.y, data.name, data.input_shape
        num_classes = num_classes or data.num_classes
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        (X, y), name, shape = data, "user", None
    else:
        raise NCTheoryError("data must be a nctheory.runs.data.Dataset or a pair (X, y)")
    X, y, K = check_user_tensors(X, y, num_classes)
    if shape is not None:
        X = X.reshape(X.shape[0], *shape)
    return Dataset(name, X, y, K, input_shape=shape)


def dataset_arrays(config: RunConfig, dtype: str):
    """``(X, y, K, description)`` of a network model's data (checked); see :func:`run_dataset`."""
    d = run_dataset(config, dtype)
    return d.X, d.y, d.num_classes, d.name


def make_runner(spec, target: Backend, config: RunConfig):
    """``(runner, K, description)``: the runner for ``config.model`` on ``target``, the
    number of classes, and the sizes and data description a record keeps as ``config``."""
    loss, eps = config.loss, config.label_smoothing
    if config.model == "ufm":
        sizes = config.ufm_sizes()
        if target.name == "torch":
            runner = TorchUFMRunner(spec, target, sizes, config.seed, loss, eps, config.bias, config.prefer_torch)
        else:
            runner = ArrayUFMRunner(spec, target, sizes, config.seed, loss, eps, config.bias)
        return runner, sizes["num_classes"], {**sizes, "bias": config.bias}
    from nctheory.runs.architectures import ALIASES, DEFAULT_WIDTHS, build_model

    data = run_dataset(config, target.dtype)
    X, y, K = data.X, data.y, data.num_classes
    if config.model == "user":
        net = copy.deepcopy(config.user_model)
    else:
        shape = data.input_shape
        if isinstance(config.data, (tuple, list)) and len(shape) == 1:
            shape = shape[0]  # build_model's in_features: 64 features are the 8x8 digits for "cnn"
        net = build_model(config.model, shape, K, width=config.width, dtype=target.torch_dtype)
    runner = TorchNetworkRunner(spec, target, net, X, y, K, loss, eps, config.last_layer, config.prefer_torch)
    description = dict(num_classes=K, dim=runner.dim, num_samples=runner.num_samples, data=data.name,
                       dataset=config.dataset_name(), input_shape=list(data.input_shape),
                       width=None if config.model in ("user", "resnet18") else (
                           config.width or DEFAULT_WIDTHS[ALIASES.get(config.model, config.model)]))
    return runner, K, description
