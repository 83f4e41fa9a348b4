"""Which runs of a sweep execute together: :func:`batch_key` and :func:`plan`.

Runs can share one batched tensor program (:mod:`nctheory.sweep.batched`) when they run the
same computation on arrays of the same shapes, differing only in *values*: the batched engine
stacks parameters along a leading run axis and carries every run's hyperparameters as
tensors shaped to broadcast, and every run draws its own initialisation and minibatch order
from its own seed. So a batch key holds

* the optimizer: its name and its chain of transformations (the update rule's structure),
  the *names* of the hyperparameters set, and the values of the integer-valued ones
  (``Hyperparameter.integer``, e.g. Newton-Schulz's iteration count, which changes the
  program, not only a number in it);
* every RunConfig setting except ``seed``, after validation and with ``backend``, ``device``
  and ``dtype`` resolved on this machine (``"auto"`` and an explicit ``"torch"`` are the same
  program): model, data set, sizes, width, steps, batch size, loss, label smoothing,
  ``record_every``, bias, ...

Hyperparameter values (learning rate, weight decay, momentum, betas, ...), seeds, the metrics
kept and the theory judged against do not enter the key: they change numbers, not shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from nctheory.errors import NCTheoryError
from nctheory.sweep.run_spec import SweepRun, config_fields

#: Default largest number of runs in one batch.
DEFAULT_MAX_BATCH = 256


@dataclass(frozen=True)
class BatchKey:
    """What the runs of one group share (see the module docstring)."""

    optimizer: str
    chain: tuple
    hparam_names: tuple
    structural_hparams: tuple
    settings: tuple

    def setting(self, name, default=None):
        return dict(self.settings).get(name, default)

    def describe(self) -> str:
        """One line for ``--dry-run``: optimizer, model, data, backend, dtype, steps, batch size."""
        s = dict(self.settings)
        parts = [self.optimizer, str(s.get("model"))]
        if s.get("dataset") is not None:
            parts.append(str(s["dataset"]))
        parts.append(f"{s.get('backend')}/{s.get('device')}/{s.get('dtype')}")
        parts.append(f"{s.get('steps')} steps")
        parts.append("full batch" if s.get("batch_size") is None else f"batch {s['batch_size']}")
        sizes = [f"{k}={s[k]}" for k in ("num_classes", "dim", "samples_per_class", "width") if s.get(k) is not None]
        if sizes:
            parts.append(" ".join(sizes))
        if s.get("loss") not in (None, "cross_entropy"):
            parts.append(str(s["loss"]))
        if self.structural_hparams:
            parts.append(" ".join(f"{k}={v}" for k, v in self.structural_hparams))
        return ", ".join(parts)


class _KeyCache:
    def __init__(self):
        self.configs, self.specs = {}, {}

    def key(self, run: SweepRun) -> BatchKey:
        if not isinstance(run, SweepRun):
            raise NCTheoryError(f"batch_key takes a SweepRun, got {type(run).__name__}")
        settings = self.configs.get(run.config)
        if settings is None:
            config = run.to_run_config()
            target = config.target()
            values = {name: getattr(config, name) for name in config_fields() if name != "seed"}
            values.update(backend=target.name, device=target.device, dtype=target.dtype)
            if hasattr(config, "dataset_name"):  # the data set trained on, default or named
                values["dataset"] = config.dataset_name()
            settings = self.configs[run.config] = tuple(sorted(values.items()))
        ident = (run.optimizer, id(run.spec), run.hparams)
        optimizer = self.specs.get(ident)
        if optimizer is None:
            spec = run.to_spec()
            structural = tuple((h.name, float(spec.values[h.name])) for h in spec.hyperparameters
                               if h.integer and h.name in spec.values)
            optimizer = self.specs[ident] = (spec.name, tuple(repr(t) for t in spec.chain),
                                             tuple(name for name, _ in run.hparams), structural)
        return BatchKey(*optimizer, settings)


def batch_key(run: SweepRun) -> BatchKey:
    """The :class:`BatchKey` of one run: runs with equal keys may run as one batch."""
    return _KeyCache().key(run)


def group(runs) -> dict:
    """``{BatchKey: [runs]}`` in order of first appearance (runs keep their order)."""
    cache, groups = _KeyCache(), {}
    for run in runs:
        groups.setdefault(cache.key(run), []).append(run)
    return groups


def plan(runs, max_batch: int | None = DEFAULT_MAX_BATCH, min_batches: int = 1) -> list[list[SweepRun]]:
    """The batches to execute: each group split into batches of at most ``max_batch`` runs
    (None: no limit) of near-equal size; then, while there are fewer than ``min_batches``
    batches in all, the largest is halved (so that ``min_batches`` workers all get work).

    Deterministic: groups in order of first appearance, runs in sweep order.
    """
    if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1):
        raise NCTheoryError(f"max_batch must be a positive integer or None, got {max_batch!r}")
    if isinstance(min_batches, bool) or not isinstance(min_batches, int) or min_batches < 1:
        raise NCTheoryError(f"min_batches must be a positive integer, got {min_batches!r}")
    batches = []
    for members in group(runs).values():
        batches.extend(_split(members, -(-len(members) // max_batch) if max_batch else 1))
    while len(batches) < min_batches:
        largest = max(range(len(batches)), key=lambda i: len(batches[i]))
        if len(batches[largest]) < 2:
            break
        batches[largest:largest + 1] = _split(batches[largest], 2)
    return batches


def _split(members: list, count: int) -> list:
    """``members`` in ``count`` consecutive parts whose sizes differ by at most one."""
    size, extra = divmod(len(members), count)
    out, start = [], 0
    for i in range(count):
        stop = start + size + (1 if i < extra else 0)
        out.append(members[start:stop])
        start = stop
    return out
