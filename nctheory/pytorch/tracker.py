"""Track NC0 in your own torch training loop and check it against the theory.

Usage (5 lines)::

    tracker = nctheory.track(model, optimizer)             # last nn.Linear = the classifier W
    for X, y in loader:                                    # your loop, unchanged
        loss = F.cross_entropy(model(X), y); optimizer.zero_grad(); loss.backward()
        optimizer.step(); scheduler.step()                 # schedulers are fine
    print(tracker.report())                                # predicted vs measured, verdict

(``nctheory.track`` is :func:`nctheory.pytorch.tracker.track`.) ``tracker.verdict()`` returns the
:class:`~nctheory.verdict.Verdict` itself; ``tracker.to_record()`` the measurements.

What it does. At creation the tracker reads the theory of the optimizer,
``nctheory.from_torch(optimizer, param=W)`` -- its hyperparameters *and* the momentum
buffer's row sums if the optimizer has already stepped -- and the row sums
``s_0 = W^T 1_K``. It then registers two hooks on the optimizer
(``register_step_pre_hook`` / ``register_step_post_hook``, torch >= 2.0):

* before every ``optimizer.step()``: the learning rate of W's parameter group -- the one
  that step actually uses, whatever scheduler set it -- and the group's other
  hyperparameters (a scheduler that also changes momentum, e.g. OneCycleLR with
  ``cycle_momentum=True``, is detected: the constant-hyperparameter theory then does not
  apply and the verdict says so);
* after it: ``W^T 1_K``, ``||W||_F`` and ``||W||_inf``, kept as float64 tensors on W's
  device (no host synchronisation per step; moved to the host when a verdict is asked).

``tracker.record(features, labels)`` adds NC1-NC4 (:mod:`nctheory.runs.collapse_metrics`) at the
current step, every ``record_every`` steps. ``tracker.verdict()`` builds a
:class:`~nctheory.runs.training.TrainingRecord` (model ``"user"``) and judges it with
:func:`nctheory.verdict.check_record` against the theory captured at creation: for
SGD / momentum / Nesterov the whole row-sum trajectory is predicted from ``s_0`` and the
recorded learning rates, exactly (Lemma 1; the loss must be shift-invariant:
cross-entropy, label smoothing, ... -- pass ``loss="mse"`` if you use MSE and the verdict
will explain why the exact recurrence fails). ``verdict(theory=...)`` judges against
another theory (a negative control).
"""

from __future__ import annotations

import math

import numpy as np

from nctheory.errors import NCTheoryError



def tracked_keys(spec) -> tuple:
    """The parameter-group keys whose change mid-run the report must mention: every declared
    hyperparameter but ``lr`` (recorded per step), by its own and its torch name, and the
    keys that pin the spec's torch variant (``nesterov``)."""
    keys = {name for h in spec.hyperparameters if h.name != "lr" for name in (h.name, h.torch_name)}
    keys |= {key for torch_class in spec.torch for key in torch_class.when}
    return tuple(sorted(keys))


def _resolve_weight(model_or_last_linear, last_layer):
    import torch

    from nctheory.runs.models import find_last_linear

    obj = model_or_last_linear
    if last_layer is not None:
        if not isinstance(obj, torch.nn.Module):
            raise NCTheoryError("last_layer is only meaningful with a model (torch.nn.Module)")
        if isinstance(last_layer, str):
            return obj, find_last_linear(obj, last_layer).weight
        if isinstance(last_layer, torch.nn.Linear):
            return obj, last_layer.weight
        if isinstance(last_layer, torch.Tensor):
            return obj, last_layer
        raise NCTheoryError(f"last_layer must be a submodule name, an nn.Linear or its weight, "
                            f"got {type(last_layer).__name__}")
    if isinstance(obj, torch.nn.Linear):
        return None, obj.weight
    if isinstance(obj, torch.nn.Module):
        return obj, find_last_linear(obj).weight
    if isinstance(obj, torch.Tensor):
        return None, obj
    raise NCTheoryError(f"model_or_last_linear must be a torch.nn.Module, an nn.Linear or the classifier "
                        f"weight, got {type(obj).__name__}")


def _plain(value):
    if hasattr(value, "item") and getattr(value, "numel", lambda: 2)() == 1:
        return float(value.item())
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    return value


class Tracker:
    """Records the classifier's row sums at every optimizer step (see the module docstring).

    Args:
        model_or_last_linear: the model (its last ``nn.Linear`` is the classifier unless
            ``last_layer`` says otherwise), the classifier ``nn.Linear``, or its weight.
        optimizer: the ``torch.optim.Optimizer`` training it (SGD, Adam, AdamW or one built by
            :func:`nctheory.pytorch.spec_optimizer.make_optimizer`).
        last_layer: the classifier as a submodule name, an ``nn.Linear`` or its weight.
        loss: the registry name of the loss you train with ("cross_entropy",
            "label_smoothing", "mse", ...), used to check Lemma 1's hypothesis.
        record_every: :meth:`record` computes NC1-NC4 only every this many steps.
    """

    def __init__(self, model_or_last_linear, optimizer, last_layer=None, loss: str = "cross_entropy",
                 record_every: int = 1):
        import torch

        from nctheory.pytorch.from_torch import from_torch

        if not isinstance(optimizer, torch.optim.Optimizer):
            raise NCTheoryError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
            raise NCTheoryError(f"record_every must be a positive integer, got {record_every!r}")
        if not isinstance(loss, str):
            raise NCTheoryError(f"loss must be a loss name such as 'cross_entropy', got {loss!r}")
        self.model, self.weight = _resolve_weight(model_or_last_linear, last_layer)
        if self.weight.ndim != 2:
            raise NCTheoryError(f"the classifier weight must be 2-D (K x d), got shape {tuple(self.weight.shape)}")
        groups = [i for i, g in enumerate(optimizer.param_groups) if any(p is self.weight for p in g["params"])]
        if not groups:
            raise NCTheoryError("the classifier weight is not among the optimizer's parameters")
        self.optimizer, self.group_index = optimizer, groups[0]
        self.spec = from_torch(optimizer, param=self.weight)  # theory + buffers, captured now
        self.loss, self.record_every = loss, record_every
        self.num_classes = int(self.weight.shape[0])
        self._rows, self._fro, self._sup = [], [], []
        self._lrs, self._hparams, self._skipped = [], [], []
        self._nc_steps, self._nc_values = [], []
        self._pending_lr = None
        self._snapshot()
        self._initial_hparams = self._group_hparams()
        self._handles = [optimizer.register_step_pre_hook(self._pre_hook),
                         optimizer.register_step_post_hook(self._post_hook)]

    # ---------------------------------------------------------------- hooks
    def _group(self):
        return self.optimizer.param_groups[self.group_index]

    def _group_hparams(self) -> dict:
        g = self._group()
        return {k: _plain(g[k]) for k in tracked_keys(self.spec) if k in g}

    def _snapshot(self):
        import torch

        with torch.no_grad():
            W = self.weight.detach().to(torch.float64)
            self._rows.append(W.sum(0))
            self._fro.append(torch.linalg.norm(W))
            self._sup.append(W.abs().max())

    def _pre_hook(self, optimizer, args, kwargs):
        self._pending_lr = float(_plain(self._group()["lr"]))
        self._hparams.append(self._group_hparams())
        self._skipped.append(self.weight.grad is None)

    def _post_hook(self, optimizer, args, kwargs):
        self._lrs.append(self._pending_lr)
        self._snapshot()

    # ---------------------------------------------------------------- public
    @property
    def steps_done(self) -> int:
        return len(self._lrs)

    def record(self, features=None, labels=None, *, inputs=None, bias=None) -> bool:
        """NC1-NC4 at the current step (every ``record_every`` steps; returns whether it did).

        Pass the penultimate ``features`` (N x d) and integer ``labels``, or ``inputs`` and
        ``labels`` to have the features read from the model's forward pass. ``bias``
        defaults to the classifier's bias when the tracker knows the layer.
        """
        from nctheory.runs.collapse_metrics import nc_metrics

        if labels is None:
            raise NCTheoryError("record needs labels (integer class of each row)")
        if features is None and inputs is None:
            raise NCTheoryError("record needs features (N x d penultimate features) or inputs=")
        step = self.steps_done
        if step % self.record_every or (self._nc_steps and self._nc_steps[-1] == step):
            return False
        if inputs is not None:
            if self.model is None:
                raise NCTheoryError("record(inputs=...) needs the tracker to know the model: track(model, optimizer)")
            from nctheory.runs.models import penultimate_features

            layer = next((m for m in self.model.modules() if getattr(m, "weight", None) is self.weight), None)
            features, _ = penultimate_features(self.model, inputs, layer)
        if bias is None and self.model is not None:
            layer = next((m for m in self.model.modules() if getattr(m, "weight", None) is self.weight), None)
            bias = getattr(layer, "bias", None)
        values = nc_metrics(self.weight.detach(), features.detach() if hasattr(features, "detach") else features,
                            labels, None if bias is None else bias.detach(), self.num_classes)
        self._nc_steps.append(step)
        self._nc_values.append(values)
        return True

    def to_record(self):
        """The tracked run as a :class:`~nctheory.runs.training.TrainingRecord` (model "user")."""
        import torch

        from nctheory.runs.training import TrainingRecord

        rows = torch.stack(self._rows).cpu().numpy()
        fro = torch.stack(self._fro).cpu().numpy()
        sup = torch.stack(self._sup).cpu().numpy()
        T = self.steps_done
        finite = np.isfinite(rows).all(axis=1) & np.isfinite(fro)
        diverged_at = None
        if not finite[0]:
            raise NCTheoryError("the classifier weight was already NaN/inf when tracking started")
        if not finite.all():
            # W_k is the first non-finite one: step k - 1 produced it (run_training's convention:
            # the record keeps W_0 .. W_{k-1} and diverged_at = steps_done = k - 1)
            k = int(np.flatnonzero(~finite)[0])
            T = diverged_at = k - 1
        rows, fro, sup = rows[:T + 1], fro[:T + 1], sup[:T + 1]
        steps = np.arange(T + 1)
        nc0 = np.linalg.norm(rows, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(fro > 0, nc0 / (math.sqrt(self.num_classes) * fro), np.nan)
        metrics = {"nc0": nc0, "nc0_rel": rel, "w_fro": fro, "w_sup": sup}
        for name in ("nc1", "nc2_norm", "nc2_angle", "nc3", "nc4"):
            arr = np.full(T + 1, np.nan)
            for s, values in zip(self._nc_steps, self._nc_values):
                if s <= T:
                    arr[s] = values[name]
            metrics[name] = arr
        hp = self.spec.float_hp() if all(n in self.spec.values for n in self.spec.hyperparameter_names) \
            else {k: float(v) for k, v in self.spec.values.items()}
        return TrainingRecord(
            optimizer=self.spec.name, hparams=hp, model="user", backend="torch",
            device=str(self.weight.device.type), dtype=str(self.weight.dtype).replace("torch.", ""),
            seed=-1, num_classes=self.num_classes, row_sums=rows.astype(np.float64),
            learning_rates=np.asarray(self._lrs[:T], dtype=np.float64), metric_steps=steps, metrics=metrics,
            diverged_at=diverged_at, loss=self.loss, implementation=type(self.optimizer).__name__, spec=self.spec)

    def _hyperparameter_drift(self) -> list[str]:
        out = []
        for key, first in self._initial_hparams.items():
            changed = [i for i, h in enumerate(self._hparams) if h.get(key) != first]
            if changed:
                out.append(f"{key} changed during training (from {first!r} to {self._hparams[changed[0]][key]!r} "
                           f"at step {changed[0]})")
        return out

    def verdict(self, theory=None):
        """Judge the tracked steps against the theory captured at creation (or ``theory``:
        a registry name, ``NAME:key=value,...`` or an OptimizerSpec)."""
        from nctheory.verdict import Verdict, check_record

        if self.steps_done == 0:
            raise NCTheoryError("no optimizer step has been tracked yet")
        record = self.to_record()
        if record.dtype not in ("float64", "float32"):
            raise NCTheoryError(f"the classifier weight has dtype {record.dtype}; verdicts need float64 or float32")
        out = check_record(record, theory=self.spec if theory is None else theory)
        problems = self._hyperparameter_drift()
        skipped = [i for i, s in enumerate(self._skipped[:record.steps_done]) if s]
        if skipped:
            problems.append(f"the classifier had no gradient at {len(skipped)} step(s) (first: {skipped[0]}); "
                            f"torch skipped it there, so those steps are not the recurrence's")
        if problems and out.verdict in ("verified", "refuted"):
            out = Verdict("inconclusive", out.name, out.hparams, out.predicted_rate, out.measured_rate,
                          out.max_rel_error, out.tolerance,
                          ["The theory assumes constant hyperparameters except lr and a step at every call: "
                           + "; ".join(problems) + f". The comparison alone said {out.verdict}."] + out.reasons,
                          out.details, out.theory, out.theory_hparams, out.series)
        return out

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
        return f"Tracker({self.spec!r}, steps={self.steps_done})"


def track(model_or_last_linear, optimizer, last_layer=None, loss: str = "cross_entropy",
          record_every: int = 1) -> Tracker:
    """Start tracking NC0 of ``optimizer``'s training of the classifier; see :class:`Tracker`."""
    return Tracker(model_or_last_linear, optimizer, last_layer=last_layer, loss=loss, record_every=record_every)
