"""Track NC0 in your own torch training loop and check it against the theory.

Usage (5 lines)::

    tracker = nctheory.track(model, optimizer)             # the classifier is found by the forward pass
    for X, y in loader:                                    # your loop, unchanged
        loss = F.cross_entropy(model(X), y); optimizer.zero_grad(); loss.backward()
        optimizer.step(); scheduler.step()                 # any scheduler, lr through 0 included
    print(tracker.report())                                # predicted vs measured, verdict

(``nctheory.track`` is :func:`nctheory.pytorch.tracker.track`.) ``tracker.verdict()`` returns the
:class:`~nctheory.verdict.Verdict` itself; ``tracker.to_record()`` the measurements.

**Which parameter is the classifier.** The one that produces the logits: at the first forward
pass of ``model`` with autograd on, the tracker follows the output's autograd graph back to
the nearest parameter with K rows (K = the logits' last dimension) --
:func:`nctheory.runs.models.classifier_from_output`. An ``nn.Linear`` head, a 1x1 ``nn.Conv2d``
head (its ``(K, d, 1, 1)`` weight read as ``K x d``) and a bare ``nn.Parameter`` used as
``h @ W.T`` are found alike; hidden layers and parameters that the forward pass does not use
are not. Two equally near candidates, or a head used twice (tied weights), raise an error
that names them: say which with ``last_layer=`` (a submodule or parameter name, the module,
or the weight). The report names the parameter and its shape.

**What is recorded.** At the identification (or at creation, when the classifier is given)
the tracker reads the theory of the optimizer, ``nctheory.from_torch(optimizer, param=W)`` --
its hyperparameters *and* the momentum buffer's row sums if the optimizer has already
stepped -- and ``s_0 = W^T 1_K``. Hooks on ``optimizer.step()``
(``register_step_pre_hook`` / ``register_step_post_hook``) record, as float64 tensors on W's
device (no host synchronisation per step):

* before the step: the value of every declared hyperparameter in W's parameter group -- the
  values that step actually uses, whatever scheduler set them (``lr`` through 0, OneCycleLR's
  cycled momentum, a weight-decay schedule): the prediction multiplies ``A(h_t)`` step by step
  (:mod:`nctheory.theory.symbolic.schedules`); ``||G||_F`` and ``||1^T G||`` of W's gradient
  (Lemma 1's quantity as the float computation left it, for the rounding model);
* after it: ``W^T 1_K``, ``||W||_F``, ``||W||_inf``, ``||W_(t+1) - W_t||_F`` and the norms of
  W's optimizer buffers (:mod:`nctheory.verdict.noise` uses them for the rounding floor).

The precision the logits were computed in (float32, or bfloat16 / float16 under autocast
while W stays float32) is read off the head's output at every forward pass.

``tracker.record(features, labels)`` adds NC1-NC4 (:mod:`nctheory.runs.collapse_metrics`) at
the current step, every ``record_every`` steps. ``tracker.verdict()`` judges a
:class:`~nctheory.runs.training.TrainingRecord` (model ``"user"``) with
:func:`nctheory.verdict.check_record` against the theory captured at identification (the
loss must be shift-invariant for the exact recurrence: pass ``loss="mse"`` if you use MSE
and the verdict explains why it fails); ``verdict(theory=...)`` against another theory (a
negative control).
"""

from __future__ import annotations

import math


from nctheory.errors import NCTheoryError


def tracked_keys(spec) -> tuple:
    """The parameter-group keys that pin the spec's torch variant (``nesterov``): a change of
    one mid-run changes the optimizer itself, which no schedule of the spec describes."""
    declared = {name for h in spec.hyperparameters for name in (h.name, h.torch_name)}
    return tuple(sorted({key for torch_class in spec.torch for key in torch_class.when} - declared))


def _plain(value):
    if hasattr(value, "item") and getattr(value, "numel", lambda: 2)() == 1:
        return float(value.item())
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


def _explicit_classifier(obj, last_layer):
    """``(model, name, parameter)`` when the classifier is given; ``(model, None, None)`` when it
    must be found by the forward pass."""
    import torch

    from nctheory.runs.models import named_classifier, parameter_names

    if last_layer is not None:
        if not isinstance(obj, torch.nn.Module):
            raise NCTheoryError("last_layer is only meaningful with a model (torch.nn.Module)")
        if isinstance(last_layer, str):
            name, param = named_classifier(obj, last_layer)
            return obj, name, param
        if isinstance(last_layer, torch.nn.Module) and isinstance(getattr(last_layer, "weight", None), torch.Tensor):
            param = last_layer.weight
        elif isinstance(last_layer, torch.Tensor):
            param = last_layer
        else:
            raise NCTheoryError(f"last_layer must be a submodule or parameter name, an nn.Linear / nn.Conv2d or its "
                                f"weight, got {type(last_layer).__name__}")
        return obj, parameter_names(obj).get(id(param), "last_layer"), param
    if isinstance(obj, (torch.nn.Linear, torch.nn.Conv2d)):
        return obj, "weight", obj.weight
    if isinstance(obj, torch.nn.Module):
        return obj, None, None
    if isinstance(obj, torch.Tensor):
        return None, "W", obj
    raise NCTheoryError(f"model_or_last_linear must be a torch.nn.Module, an nn.Linear or the classifier "
                        f"weight, got {type(obj).__name__}")


_PRECISION = {"float64": 3, "float32": 2, "bfloat16": 1, "float16": 1}
#: Averaging factor of the drift ratio (a window of about 1 / (1 - DRIFT_BETA) = 100 steps).
DRIFT_BETA = 0.99


class Tracker:
    """Records the classifier's row sums at every optimizer step (see the module docstring).

    Args:
        model_or_last_linear: the model (its classifier is found by the forward pass unless
            ``last_layer`` names it), the classifier ``nn.Linear`` / ``nn.Conv2d``, or its weight.
        optimizer: the ``torch.optim.Optimizer`` training it (any class ``from_torch`` knows).
        last_layer: the classifier as a submodule or parameter name, a module or its weight.
        loss: the registry name of the loss you train with ("cross_entropy",
            "label_smoothing", "mse", ...), used to check Lemma 1's hypothesis.
        record_every: :meth:`record` computes NC1-NC4 only every this many steps.
    """

    def __init__(self, model_or_last_linear, optimizer, last_layer=None, loss: str = "cross_entropy",
                 record_every: int = 1):
        import torch

        from nctheory.pytorch.from_torch import matching_spec

        if not isinstance(optimizer, torch.optim.Optimizer):
            raise NCTheoryError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
            raise NCTheoryError(f"record_every must be a positive integer, got {record_every!r}")
        if not isinstance(loss, str):
            raise NCTheoryError(f"loss must be a loss name such as 'cross_entropy', got {loss!r}")
        for index in range(len(optimizer.param_groups)):  # an optimizer no spec describes: say so now
            matching_spec(optimizer, group=index)
        self.optimizer, self.loss, self.record_every = optimizer, loss, record_every
        self.weight = self.spec = self.parameter_name = None
        self.compute_dtype = None
        self._rows, self._fro, self._sup, self._update, self._buffers = [], [], [], [], []
        self._lrs, self._hparams, self._variant, self._skipped, self._grad, self._grad_rows = [], [], [], [], [], []
        self._nc_steps, self._nc_values = [], []
        self._before = self._drift = self._drift_size = None
        self._drift_ratio = []
        self._handles = []
        self.model, name, param = _explicit_classifier(model_or_last_linear, last_layer)
        if self.model is not None:  # identification (if still needed) and the logits' precision
            self._handles.append(self.model.register_forward_hook(self._forward_hook))
        if param is not None:
            self._identify(name, param)
        self._handles += [optimizer.register_step_pre_hook(self._pre_hook),
                          optimizer.register_step_post_hook(self._post_hook)]

    # ---------------------------------------------------------------- identification
    def _identify(self, name: str, param) -> None:
        from nctheory.pytorch.from_torch import from_torch
        from nctheory.runs.models import classifier_matrix, owning_module

        classifier_matrix(param)  # a K x d matrix, or a clear error
        groups = [i for i, g in enumerate(self.optimizer.param_groups) if any(p is param for p in g["params"])]
        if not groups:
            raise NCTheoryError(f"the classifier weight ({name}, shape {tuple(param.shape)}) is not among the "
                                f"optimizer's parameters")
        self.weight, self.parameter_name, self.group_index = param, name, groups[0]
        self.spec = from_torch(self.optimizer, param=param)  # theory + buffers, captured now
        self.num_classes = int(param.shape[0])
        self._buffer_names = [b for t in self.spec.chain for b in t.buffers]
        self._snapshot()
        self._initial_variant = self._variant_keys()
        module = owning_module(self.model, param) if self.model is not None else None
        if module is not None and module is not self.model:
            self._handles.append(module.register_forward_hook(self._dtype_hook))

    def _forward_hook(self, module, args, output):
        from nctheory.runs.models import classifier_from_output, logits_of

        logits = logits_of(output)
        if self.weight is None and logits is not None and logits.grad_fn is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            name, param = classifier_from_output(self.model, output, allowed=params)
            self._identify(name, param)
        if logits is not None:
            self._dtype_hook(module, args, logits)

    def _dtype_hook(self, module, args, output):
        dtype = str(getattr(output, "dtype", "")).replace("torch.", "")
        if dtype in _PRECISION and (self.compute_dtype is None or _PRECISION[dtype] < _PRECISION[self.compute_dtype]):
            self.compute_dtype = dtype

    def _require_identified(self):
        if self.weight is None:
            raise NCTheoryError("the tracker has not seen a forward pass of the model with autograd on, so it does not "
                                "know the classifier yet: call the model (as training does) before optimizer.step(), "
                                "or name it: track(model, optimizer, last_layer=NAME)")

    # ---------------------------------------------------------------- hooks
    def _group(self):
        return self.optimizer.param_groups[self.group_index]

    def _variant_keys(self) -> dict:
        g = self._group()
        return {k: _plain(g[k]) for k in tracked_keys(self.spec) if k in g}

    def _matrix(self):
        """W as a K x d float64 copy (never a view of the live weights)."""
        import torch

        from nctheory.runs.models import classifier_matrix

        return classifier_matrix(self.weight.detach()).to(torch.float64, copy=True)

    def _snapshot(self):
        import torch

        with torch.no_grad():
            W = self._matrix()
            self._rows.append(W.sum(0))
            self._fro.append(torch.linalg.norm(W))
            self._sup.append(W.abs().max())
        return W

    def _pre_hook(self, optimizer, args, kwargs):
        import torch

        self._require_identified()
        group = self._group()
        self._lrs.append(float(_plain(group["lr"])))
        self._hparams.append({h.name: h.from_torch_group(group) for h in self.spec.hyperparameters if h.name != "lr"})
        self._variant.append(self._variant_keys())
        grad = self.weight.grad
        self._skipped.append(grad is None)
        with torch.no_grad():
            if grad is None:
                zero = torch.zeros((), dtype=torch.float64, device=self.weight.device)
                self._grad.append(zero)
                self._grad_rows.append(zero)
            else:
                G = grad.detach().reshape(self.num_classes, -1).to(torch.float64)
                self._grad.append(torch.linalg.norm(G))
                self._grad_rows.append(torch.linalg.norm(G.sum(0)))
            self._before = self._matrix()

    def _post_hook(self, optimizer, args, kwargs):
        import torch

        W = self._snapshot()
        with torch.no_grad():
            delta = W - self._before
            size = torch.linalg.norm(delta)
            self._update.append(size)
            # drift ratio ||EMA(dW)|| / EMA(||dW||): ~1 while W moves in one direction, ~0.07 for
            # a random walk at DRIFT_BETA = 0.99 (sqrt((1 - b) / (1 + b))): whether W has settled
            b = DRIFT_BETA
            self._drift = delta * (1 - b) if self._drift is None else self._drift * b + delta * (1 - b)
            self._drift_size = size * (1 - b) if self._drift_size is None else self._drift_size * b + size * (1 - b)
            self._drift_ratio.append(torch.linalg.norm(self._drift) / torch.clamp(self._drift_size, min=1e-300))
            state = self.optimizer.state.get(self.weight, {})
            nan = torch.full((), math.nan, dtype=torch.float64, device=self.weight.device)
            self._buffers.append(torch.stack([torch.linalg.norm(state[b].detach().to(torch.float64))
                                              if isinstance(state.get(b), torch.Tensor) else nan
                                              for b in self._buffer_names] or [nan]))
        self._before = None

    # ---------------------------------------------------------------- public
    @property
    def steps_done(self) -> int:
        return len(self._update)

    @property
    def classifier(self) -> str:
        """The tracked parameter and its shape, e.g. ``"fc.weight (10, 512)"``."""
        self._require_identified()
        return f"{self.parameter_name} {tuple(self.weight.shape)}"

    def record(self, features=None, labels=None, *, inputs=None, bias=None) -> bool:
        """NC1-NC4 at the current step (every ``record_every`` steps; returns whether it did).

        Pass the penultimate ``features`` (N x d) and integer ``labels``, or ``inputs`` and
        ``labels`` to have the features read from the model's forward pass (the input of the
        classifier's module; for a 1x1 convolution head, averaged over the spatial positions,
        i.e. the features of a head followed by global average pooling). ``bias`` defaults to
        the classifier module's bias.
        """
        import torch

        from nctheory.runs.collapse_metrics import nc_metrics
        from nctheory.runs.models import FeatureHook, owning_module

        if labels is None:
            raise NCTheoryError("record needs labels (integer class of each row)")
        if features is None and inputs is None:
            raise NCTheoryError("record needs features (N x d penultimate features) or inputs=")
        self._require_identified()
        step = self.steps_done
        if step % self.record_every or (self._nc_steps and self._nc_steps[-1] == step):
            return False
        layer = owning_module(self.model, self.weight) if self.model is not None else None
        if inputs is not None:
            import torch.nn as nn

            if layer is None or (layer is self.model and not isinstance(layer, (nn.Linear, nn.Conv2d))):
                raise NCTheoryError("record(inputs=...) needs a classifier module (nn.Linear / nn.Conv2d) whose input "
                                    "is the features; for a bare parameter head pass features= (N x d)")
            with torch.no_grad(), FeatureHook(layer) as hook:
                self.model(inputs)
            features = hook.features
            features = features.mean(dim=(2, 3)) if features.ndim == 4 else features.flatten(1)
        if bias is None and layer is not None:
            bias = getattr(layer, "bias", None)
        values = nc_metrics(self._matrix(), features.detach() if hasattr(features, "detach") else features,
                            labels, None if bias is None else bias.detach(), self.num_classes)
        self._nc_steps.append(step)
        self._nc_values.append(values)
        return True

    def to_record(self):
        """The tracked run as a :class:`~nctheory.runs.training.TrainingRecord` (model "user")."""
        from nctheory.pytorch.tracker_record import tracker_record

        self._require_identified()
        return tracker_record(self)

    def verdict(self, theory=None):
        """Judge the tracked steps against the theory captured at identification (or ``theory``:
        a registry name, ``NAME:key=value,...`` or an OptimizerSpec)."""
        from nctheory.pytorch.tracker_record import tracker_verdict

        if self.steps_done == 0:
            raise NCTheoryError("no optimizer step has been tracked yet")
        return tracker_verdict(self, theory)

    def report(self, theory=None, plot: str | None = None) -> str:
        """Text report of :meth:`verdict` (and a plot saved to ``plot`` if given)."""
        from nctheory.render.report import plot_verdict, render_verdict

        v = self.verdict(theory)
        if plot:
            plot_verdict(v, plot)
        return render_verdict(v)

    def remove(self) -> None:
        """Remove the hooks (tracking stops; what was recorded is kept)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self) -> str:
        what = "classifier not identified yet" if self.weight is None else f"{self.spec!r}, {self.classifier}"
        return f"Tracker({what}, steps={self.steps_done})"


def track(model_or_last_linear, optimizer, last_layer=None, loss: str = "cross_entropy",
          record_every: int = 1) -> Tracker:
    """Start tracking NC0 of ``optimizer``'s training of the classifier; see :class:`Tracker`."""
    return Tracker(model_or_last_linear, optimizer, last_layer=last_layer, loss=loss, record_every=record_every)
