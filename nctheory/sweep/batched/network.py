r"""R copies of a torch network at once: ``torch.func.vmap`` over ``functional_call``.

Each run's network is built exactly as its one-at-a-time run builds it --
``torch.manual_seed(seed)`` then :func:`nctheory.runs.training.runners.make_runner` (the same
data, the same ``build_model`` and default initialisation; the data are loaded once, or once
per seed where they depend on it, and handed to it) -- and its parameters are stacked: name -> ``(R, *shape)``.
One copy of the module serves as the template whose ``forward`` ``functional_call`` runs
with each run's parameters; ``torch.func.vmap`` maps ``grad_and_value`` of the one-run loss
(the registry's torch form, ``reduction="mean"``, as the one-run runner) over the run axis,
over each run's minibatch rows and over per-run data when the data depend on the seed: every
``Linear`` becomes a batched matrix product (forward and backward), every convolution a
grouped one. Measured against ``vmap`` of the forward pass with ordinary autograd through
it: 8-13% faster (width 512), as the backward products keep their per-run layouts.

Not batched (:class:`Unbatchable`, the runs then go one at a time): modules with buffers --
BatchNorm's running statistics change in the forward pass, which ``functional_call`` under
``vmap`` cannot carry per run without extra state handling -- and modules that ``vmap``
cannot trace (data-dependent Python control flow, in-place updates of inputs).
"""

from __future__ import annotations

import numpy as np

from nctheory.errors import NCTheoryError


class Unbatchable(NCTheoryError):
    """These runs cannot be batched; the message says why (they then run one at a time)."""


class _DataBySeed:
    """The data of each run, loaded as few times as possible: the runs of a group differ only
    in their seeds, so the data are loaded for the first two distinct seeds; if those two are
    equal the data do not depend on the seed (the built-in data sets use data seed 0) and are
    shared, else (the Gaussian mixture is drawn from the run's seed) they are loaded per seed."""

    def __init__(self, load):
        self.load, self.by_seed, self.shared = load, {}, None

    def get(self, config):
        if self.shared is not None:
            return self.shared
        if config.seed not in self.by_seed:
            self.by_seed[config.seed] = self.load(config)
            if len(self.by_seed) == 2:
                a, b = self.by_seed.values()
                if _same(a, b):
                    self.shared = a
        return self.by_seed[config.seed]


def _same(a, b) -> bool:
    import torch

    return (a.name == b.name and a.X.shape == b.X.shape and bool(torch.equal(torch.as_tensor(a.X), torch.as_tensor(b.X)))
            and bool(torch.equal(torch.as_tensor(a.y), torch.as_tensor(b.y))))


def _with_data(config, loaded):
    """``config`` with the Dataset loaded for it passed as ``data`` (loaded once per seed),
    naming the data set as well so that the record's description is the one-run record's."""
    name = config.dataset_name()
    if name is not None:
        try:
            return config.replace(data=loaded, dataset=name)
        except NCTheoryError:
            pass
    return config.replace(data=loaded)


class TorchNetworkBatch:
    """Stacked networks; ``specs`` and ``configs`` are the runs' (same shapes)."""

    def __init__(self, specs, configs, target):
        import torch

        from nctheory.runs.training.runners import make_runner, run_dataset

        self.torch, self.target = torch, target
        self.loss, self.eps = configs[0].loss, configs[0].label_smoothing
        data, runners = _DataBySeed(lambda c: run_dataset(c, target.dtype)), []
        for spec, config in zip(specs, configs):
            torch.manual_seed(config.seed)
            runner, self.num_classes, description = make_runner(spec, target, _with_data(config, data.get(config)))
            runners.append((runner, description))
        template = runners[0][0]
        if any(True for _ in template.net.buffers()):
            raise Unbatchable(f"{type(template.net).__name__} has buffers (BatchNorm running statistics): its "
                              f"forward pass changes state that functional_call under vmap does not carry per run")
        self.net, self.layer = template.net, template.layer
        self.description = runners[0][1]
        names = [n for n, _ in self.net.named_parameters()]
        self.classifier = next(n for n, p in self.net.named_parameters() if p is self.layer.weight)
        self.bias_name = next((n for n, p in self.net.named_parameters() if p is self.layer.bias), None)
        self.params = {n: torch.stack([dict(r.net.named_parameters())[n].detach() for r, _ in runners]) for n in names}
        Xs = [r.X for r, _ in runners]
        self.shared_data = all(torch.equal(Xs[0], X) for X in Xs[1:]) and \
            all(torch.equal(runners[0][0].y, r.y) for r, _ in runners[1:])
        self.X = Xs[0] if self.shared_data else torch.stack(Xs)
        self.y = runners[0][0].y if self.shared_data else torch.stack([r.y for r, _ in runners])
        self.num_samples, self.dim = template.num_samples, template.dim
        self.dtype, self.device = target.torch_dtype, target.torch_device

    def make(self, host_array):
        return self.torch.as_tensor(np.asarray(host_array), dtype=self.dtype, device=self.device)

    def loss_and_grads(self, params: dict, rows):
        """Each run's mean minibatch loss ``(R,)`` and gradients: ``vmap`` of
        ``grad_and_value`` of the one-run loss (``functional_call``, then the registry's torch
        form with ``reduction="mean"``, as ``TorchRunner.batch_loss``)."""
        torch = self.torch
        from torch.func import functional_call, grad_and_value, vmap

        from nctheory.theory.losses import LOSSES, run_parameters

        net, form, parameters = self.net, LOSSES[self.loss], run_parameters(self.eps)

        def one(p, X, y, r):
            x, t = (X, y) if r is None else (X[r], y[r])
            return form.torch_value(functional_call(net, p, (x,)), t, reduction="mean", **parameters)

        data_dim = None if self.shared_data else 0
        if rows is not None:
            rows = torch.as_tensor(rows, device=self.device)
        plain = {k: v.detach() for k, v in params.items()}
        try:
            grads, losses = vmap(grad_and_value(one), in_dims=(0, data_dim, data_dim, None if rows is None else 0),
                                 randomness="error")(plain, self.X, self.y, rows)
        except RuntimeError as error:  # vmap cannot trace this module
            raise Unbatchable(f"torch.func.vmap cannot batch {type(net).__name__}: {error}") from error
        return losses, grads

    def row_sums(self, params: dict):
        return params[self.classifier].detach().sum(1)

    def metrics(self, params: dict, r: int) -> dict | None:
        """``TorchRunner.metrics`` of run r: the penultimate features by a forward pre-hook on
        the classifier (:class:`nctheory.runs.models.FeatureHook`), the network in eval mode."""
        from torch.func import functional_call

        from nctheory.runs.models import FeatureHook
        from nctheory.sweep.batched.torch_loss import torch_metrics

        torch = self.torch
        p = {k: v[r].detach() for k, v in params.items()}
        X = self.X if self.shared_data else self.X[r]
        y = self.y if self.shared_data else self.y[r]
        training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad(), FeatureHook(self.layer) as hook:
                Z = functional_call(self.net, p, (X,))
                if hook.features is None:
                    raise NCTheoryError("the last layer was not called in the model's forward pass")
                H = hook.features.flatten(1)
        finally:
            self.net.train(training)
        b = p[self.bias_name] if self.bias_name is not None else None
        return torch_metrics(p[self.classifier], H, Z, y, b, self.num_classes, self.loss, self.eps)

    def select(self, keep) -> None:
        """Keep the per-run data of the runs ``keep``."""
        if not self.shared_data:
            index = self.torch.as_tensor(np.asarray(keep, dtype=np.int64), device=self.X.device)
            self.X, self.y = self.X[index], self.y[index]
