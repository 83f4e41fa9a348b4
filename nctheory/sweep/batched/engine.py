"""``run_batch(runs) -> list[RunResult]``: prepare the runs, split them into homogeneous
groups, train each group as one batched program and judge every run.

A group is a set of runs that differ only in their hyperparameter values and seeds: the same
optimizer chain (``spec.chain``, compared as objects, so a user's spec batches with itself),
the same RunConfig apart from ``seed`` and the same resolved backend, device and dtype.
Everything else -- shapes, steps, minibatch size, loss, model, data -- is then equal. On a
CPU a group whose stacked parameters would exceed :data:`CPU_BATCH_BYTES` is trained in
consecutive batches of that size (``RunResult.batch_runs`` says how many ran together).

What runs one at a time instead (:func:`nctheory.sweep.result.run_one`, its result's
``implementation`` saying why): a run whose spec or configuration cannot be built (it fails
alone, with its error); ``model="user"``; a group whose batched construction or training
raises (:class:`~.network.Unbatchable` for modules with buffers or that ``vmap`` cannot
trace, the first-step probe of :mod:`.chain`, or any other error), so that one bad run
fails alone and the others still finish.
"""

from __future__ import annotations

import itertools
import time

from nctheory.errors import NCTheoryError
from nctheory.runs.training.config import default_record_every
from nctheory.runs.training.loop import _cpu_threads
from nctheory.runs.training.record import TrainingRecord
from nctheory.sweep.result import failed_result, result_from_record, run_one
from nctheory.theory.predict import learning_rates


class Prepared:
    """One run with its spec, configuration, learning rates and backend resolved."""

    def __init__(self, run):
        self.run = run
        spec = run.to_spec()
        self.config = run.to_run_config()
        self.rates = learning_rates(spec, self.config.steps, self.config.lr_schedule)
        if "lr" not in spec.values:
            spec = spec.with_hparams(lr=float(self.rates[0]))
        spec.require_values()
        self.spec = spec
        self.target = self.config.target()

    def key(self):
        """Runs with equal keys batch together."""
        return (self.config.replace(seed=0), self.target, self.spec.chain, self.spec.hyperparameter_names)


def run_batch(runs) -> list:
    """Train ``runs`` (SweepRuns), batched where they agree, and return their RunResults in
    the same order. A run that cannot be built or trained is a failed result; it never stops
    the others. ``KeyboardInterrupt`` propagates."""
    runs = list(runs)
    results: list = [None] * len(runs)
    groups: dict = {}
    for i, run in enumerate(runs):
        start = time.perf_counter()
        try:
            prepared = Prepared(run)
            groups.setdefault(prepared.key(), []).append((i, prepared))
        except Exception as error:  # noqa: BLE001 -- a bad run fails alone
            results[i] = failed_result(run, error, time.perf_counter() - start)
    for members in groups.values():
        for i, result in zip([i for i, _ in members], run_group([p for _, p in members])):
            results[i] = result
    return results


#: On a CPU, the most bytes of stacked parameters one batch holds; a larger group is trained
#: in consecutive batches of that size. The optimizer's element-wise passes stream parameters,
#: gradients and buffers: within the last-level cache (32 MiB here) they are fast, past it
#: they run at memory bandwidth. Measured (width-512 digits MLP, 4.5 MB of parameters per
#: run, float64, one thread): 31 GFLOP/s with 4-8 runs per batch, 26 with 16, 22 with 32;
#: UFM and width-64 runs (14 KB and 100 KB per run) are unaffected up to 200 and 64 runs.
#: GPUs are not split (their batches are limited by kernel launches, not caches).
CPU_BATCH_BYTES = 32 * 2 ** 20


def capacity(group) -> int:
    """How many runs of ``group`` one batch holds (:data:`CPU_BATCH_BYTES` on a CPU)."""
    if group[0].target.device != "cpu" or len(group) == 1:
        return len(group)
    model, _, _ = build_model(group[:1])
    per_run = sum(_nbytes(p) for p in model.params.values())
    return max(1, min(len(group), CPU_BATCH_BYTES // max(per_run, 1)))


def _nbytes(array) -> int:
    return int(array.numel() * array.element_size()) if hasattr(array, "element_size") else int(array.nbytes)


def run_group(group: list) -> list:
    """RunResults of one homogeneous group (batched, else one at a time with the reason)."""
    config = group[0].config
    if config.model == "user":
        return _one_at_a_time(group, "model='user' is not batched")
    try:
        size = capacity(group)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 -- fall back so that one bad run fails alone
        return _one_at_a_time(group, f"batched engine: {type(error).__name__}: {error}")
    count = -(-len(group) // size)  # batches of near-equal sizes, none above ``size``
    bounds = [len(group) * i // count for i in range(count + 1)]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        out += _run_batched(group[lo:hi])
    return out


def _run_batched(group: list) -> list:
    start = time.perf_counter()
    try:
        records, _ = train_group(group)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 -- fall back so that one bad run fails alone
        return _one_at_a_time(group, f"batched engine: {type(error).__name__}: {error}")
    wall = time.perf_counter() - start  # building and training the batch, shared by its runs
    out = []
    for prepared, record in zip(group, records):
        try:
            out.append(result_from_record(prepared.run, record, wall_time_s=wall / len(group), batch_runs=len(group)))
        except Exception as error:  # noqa: BLE001 -- judging failed: this run fails alone
            out.append(failed_result(prepared.run, error, wall / len(group), len(group)))
    return out


def _one_at_a_time(group, reason: str) -> list:
    out = []
    for prepared in group:
        result = run_one(prepared.run)
        result.implementation = f"{result.implementation} (one at a time: {reason})"
        out.append(result)
    return out


def build_model(group):
    """The stacked model of a group, with its number of classes and its description."""
    config, target = group[0].config, group[0].target
    seeds = [p.config.seed for p in group]
    if config.model == "ufm":
        from nctheory.sweep.batched.ufm import ArrayUFMBatch, TorchUFMBatch

        sizes = config.ufm_sizes()
        if target.name == "torch":
            model = TorchUFMBatch(sizes, seeds, config.bias, target.torch_dtype, target.torch_device, config.loss,
                                  config.label_smoothing)
        else:
            model = ArrayUFMBatch(target.xp, sizes, seeds, config.bias, target.numpy_dtype, config.loss,
                                  config.label_smoothing)
        return model, sizes["num_classes"], {**sizes, "bias": config.bias, "num_samples": model.num_samples}
    from nctheory.sweep.batched.network import TorchNetworkBatch

    model = TorchNetworkBatch([p.spec for p in group], [p.config for p in group], target)
    description = dict(model.description)
    description.setdefault("num_samples", model.num_samples)
    return model, model.num_classes, description


def train_group(group) -> tuple[list, float]:
    """``(records, wall seconds)`` of a homogeneous group trained as one batch."""
    import numpy as np

    from nctheory.sweep.batched.chain import BatchedChain
    from nctheory.sweep.batched.loop import train_batch
    from nctheory.sweep.batched.norms import BatchedStepNorms
    from nctheory.sweep.batched.stacking import StackedHyperparameters

    config, target = group[0].config, group[0].target
    if any(p.key() != group[0].key() for p in group[1:]):
        raise NCTheoryError("train_group needs runs that differ only in hyperparameter values and seeds; "
                            "run_batch splits any list into such groups")
    with _cpu_threads(config.num_threads if target.device == "cpu" else None):
        model, num_classes, description = build_model(group)
        if config.batch_size is not None and config.batch_size > model.num_samples:
            raise NCTheoryError(f"batch_size={config.batch_size} exceeds the {model.num_samples} training samples")
        record_every = config.record_every
        if record_every is None:
            record_every = default_record_every(config.model, model.num_samples, config.batch_size)
        hp = StackedHyperparameters([p.spec.float_hp() for p in group], np.stack([p.rates for p in group]),
                                    model.make)
        xp = None if target.name == "torch" else target.xp
        chain = BatchedChain(group[0].spec, xp)
        wants_norms = target.name == "torch" and any("verdict" in p.run.metrics for p in group)
        norms = BatchedStepNorms(group[0].spec, model.classifier) if wants_norms else None
        fields = train_batch(model, chain, hp, config.steps, record_every, config.batch_size,
                             [p.config.seed for p in group], norms)
    records = []
    for prepared, f in zip(group, fields):
        spec, c = prepared.spec, prepared.config
        record = TrainingRecord(
            optimizer=spec.name, hparams=spec.float_hp(), model=c.model, backend=target.name, device=target.device,
            dtype=target.dtype, seed=c.seed, num_classes=num_classes, row_sums=f["row_sums"],
            learning_rates=f["learning_rates"], metric_steps=f["metric_steps"], metrics=f["metrics"],
            diverged_at=f["diverged_at"], loss=c.loss, implementation=f"batched spec.step/{target.label}",
            label_smoothing=c.label_smoothing, batch_size=c.batch_size, record_every=record_every,
            config=dict(description), wall_time_s=f["wall_time_s"] / len(group), metric_time_s=f["metric_time_s"],
            spec=spec, step_norms=f["step_norms"])
        records.append(record)
    return records, fields[0]["wall_time_s"] if fields else 0.0
