"""The batched training loop: :func:`train_batch`, the loop of
:mod:`nctheory.runs.training.loop` for R runs in lock step.

Every convention of the one-run loop holds per run: step ``t`` uses that run's
``learning_rates[t]``, evaluates the loss at ``W_t`` and produces ``W_{t+1}``;
``row_sums[t] = W_t^T 1_K`` after every step; metrics at step 0, every ``record_every``
steps and the last step; minibatches from that run's own generator
(``default_rng([seed, 1])``, a fresh permutation per epoch -- the loop's ``_batches``).

Divergence, per run: at the same check points as the one-run loop (every
``min(record_every, 50)`` steps, at metric steps and at the end) the losses and row sums of
the steps since the last check are tested on the device (one host synchronisation for the
whole batch). A run whose step ``t`` failed gets ``diverged_at = t`` and keeps
``W_0 .. W_t``; a run whose row sums are finite but whose metrics are not (features blew up)
gets ``diverged_at = step - 1``, as in the one-run loop. Such runs leave the batch: their
parameters, optimizer state, hyperparameters and minibatch generators are dropped
(:func:`~.stacking.select`) and the other runs go on unchanged.

``KeyboardInterrupt`` is not caught: a batch interrupted has no finished run (a sweep
keeps what earlier batches finished and redoes this one when resumed).
"""

from __future__ import annotations

import time

import numpy as np

from nctheory.runs.collapse_metrics import to_numpy
from nctheory.runs.training.loop import _MAX_CHECK_EVERY, _batches
from nctheory.runs.training.record import METRIC_NAMES


def _host(x) -> np.ndarray:
    return to_numpy(x).astype(np.float64)


def train_batch(model, chain, hp, steps: int, record_every: int, batch_size, seeds, step_norms=None) -> list[dict]:
    """Train the stacked runs of ``model`` (parameters ``model.params``) with ``chain`` and the
    stacked hyperparameters ``hp``; returns per run the fields of its TrainingRecord:
    ``row_sums``, ``learning_rates``, ``metric_steps``, ``metrics``, ``diverged_at``,
    ``metric_time_s``, ``step_norms``; and the batch's wall time in ``wall_time_s``."""
    R = len(seeds)
    params = model.params
    state = chain.init_state(params, R)
    rows = _empty(model, (R, steps + 1, model.dim))
    losses = _empty(model, (R, steps))
    rows[:, 0] = model.row_sums(params)
    norm_names = step_norms.names if step_norms is not None else []
    norms = _empty(model, (R, steps, len(norm_names))) if norm_names else None
    w0 = [float(np.linalg.norm(_host(params[model.classifier][r]))) for r in range(R)] if norm_names else None
    generators = [_batches(model.num_samples, batch_size, np.random.default_rng([int(s), 1])) for s in seeds]
    active = np.arange(R)  # the original index of each run still in the batch
    done_at = np.full(R, steps)
    diverged_at: list = [None] * R
    metric_steps: list = [[] for _ in range(R)]
    metric_rows: list = [[] for _ in range(R)]
    metric_time = np.zeros(R)
    check_every = min(record_every, _MAX_CHECK_EVERY) if record_every else _MAX_CHECK_EVERY
    checked = 0

    def record_metrics(step) -> np.ndarray:
        """Metrics of every active run at ``step``; the positions whose metrics were not finite.
        All runs at once where the model offers it (``stacked_metrics``, its time shared
        equally), else run by run."""
        bad = []
        stacked = getattr(model, "stacked_metrics", None)
        start = time.perf_counter()
        table = stacked(params) if stacked is not None else None
        share = (time.perf_counter() - start) / max(active.size, 1)
        for i, r in enumerate(active):
            if table is not None:
                values = table[i]
                metric_time[r] += share
            else:
                start = time.perf_counter()
                values = model.metrics(params, i)
                metric_time[r] += time.perf_counter() - start
            if values is None:
                bad.append(i)
            else:
                metric_steps[r].append(step)
                metric_rows[r].append(values)
        return np.asarray(bad, dtype=np.int64)

    start = time.perf_counter()
    with np.errstate(all="ignore"):
        if record_every:
            record_metrics(0)
        index = None  # device index of the active runs (None: all of them, in order)
        for t in range(steps):
            hp.at_step(t)
            batch_rows = None if batch_size is None else np.stack([next(generators[r]) for r in active])
            value, grads = model.loss_and_grads(params, batch_rows)
            # from the second step on the old state is not read again: update it in place
            new_params, new_state = chain.step(params, grads, state, hp, reuse_state=t > 0)
            if t == 0:
                chain.probe(params, grads, state, new_params, hp)
            if norms is not None:
                _put(norms, index, t, step_norms(params, new_params, grads, new_state))
            params, state = new_params, new_state
            _put(losses, index, t, value)
            _put(rows, index, t + 1, model.row_sums(params))
            done = t + 1
            at_metric = bool(record_every) and (done % record_every == 0 or done == steps)
            if not (at_metric or done % check_every == 0 or done == steps):
                continue
            failed = _first_failures(losses, rows, active, checked, done)
            drop = [i for i, f in enumerate(failed) if f is not None]
            for i in drop:
                diverged_at[active[i]] = done_at[active[i]] = failed[i]
            keep = np.setdiff1d(np.arange(active.size), drop)
            params, state, index = _shrink(model, chain, hp, step_norms, params, state, active, keep)
            active = active[keep]
            checked = done
            if at_metric and active.size:
                bad = record_metrics(done)
                for i in bad:
                    diverged_at[active[i]] = done_at[active[i]] = done - 1
                keep = np.setdiff1d(np.arange(active.size), bad)
                params, state, index = _shrink(model, chain, hp, step_norms, params, state, active, keep)
                active = active[keep]
            if not active.size:
                break
    wall = time.perf_counter() - start
    rows_host, norms_host = _host(rows), (_host(norms) if norms is not None else None)
    out = []
    for r in range(R):
        done = int(done_at[r])
        kept = [i for i, s in enumerate(metric_steps[r]) if s <= done]
        fields = {"row_sums": rows_host[r, :done + 1], "learning_rates": hp.rates_host_all[r, :done].copy(),
                      "metric_steps": np.asarray([metric_steps[r][i] for i in kept], dtype=np.int64),
                      "metrics": {name: np.asarray([metric_rows[r][i][name] for i in kept], dtype=np.float64)
                               for name in METRIC_NAMES},
                      "diverged_at": diverged_at[r], "metric_time_s": float(metric_time[r]), "wall_time_s": wall,
                      "step_norms": {}}
        if norms_host is not None:
            values = norms_host[r, :done]
            fields["step_norms"] = {name: values[:, i] for i, name in enumerate(norm_names)}
            fields["step_norms"]["w_fro"] = np.concatenate([[w0[r]], values[:, 0]])
        out.append(fields)
    return out


def _empty(model, shape):
    """A float64 buffer on the model's device, NaN (a slot never written is not finite), as
    the one-run runners keep row sums and losses in float64 whatever the run's dtype."""
    W = model.params[model.classifier]
    if _is_torch(W):
        import torch

        return torch.full(shape, float("nan"), dtype=torch.float64, device=W.device)
    xp = _xp(W)
    return xp.full(shape, np.nan, dtype=xp.float64)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _put(buffer, index, t, values) -> None:
    """``buffer[active runs, t] = values`` (the active runs in order)."""
    if index is None:
        buffer[:, t] = values
    else:
        buffer[index, t] = values


def _first_failures(losses, rows, active, checked: int, done: int) -> list:
    """Per active run, the first step in [checked, done) whose loss or row sums were not
    finite, else None (one host synchronisation)."""
    if done <= checked:
        return [None] * active.size
    xp_index = _device_index(losses, active)
    lost = losses[xp_index, checked:done]
    rs = rows[xp_index, checked + 1:done + 1]
    ok = _host(_finite(lost) & _finite(rs).all(-1)).astype(bool)
    out = []
    for i in range(active.size):
        bad = np.flatnonzero(~ok[i])
        out.append(checked + int(bad[0]) if bad.size else None)
    return out


def _finite(x):
    if _is_torch(x):
        import torch

        return torch.isfinite(x)
    from nctheory.theory.ops import array_namespace

    return array_namespace(x).isfinite(x)


def _device_index(like, active):
    from nctheory.sweep.batched.stacking import index_array

    return index_array(active, like, None if _is_torch(like) else _xp(like))


def _xp(x):
    from nctheory.theory.ops import array_namespace

    return array_namespace(x)


def _shrink(model, chain, hp, step_norms, params, state, active, keep):
    """Drop the runs not in ``keep`` (positions among the active runs) from everything
    stepped; returns ``(params, state, device index of the remaining runs' rows)``."""
    if keep.size != active.size:
        xp = getattr(model, "xp", None)
        from nctheory.sweep.batched.stacking import select

        params = select(params, keep, xp)
        state = chain.select(state, keep, xp)
        hp.select(keep)
        model.select(keep)
        if step_norms is not None:
            step_norms.select(keep, xp)
    remaining = active[keep]
    full = remaining.size == hp.rates_host_all.shape[0] and np.array_equal(remaining, np.arange(remaining.size))
    return params, state, None if full else _device_index(model.params[model.classifier], remaining)
