r"""In-place forms of the common transformations, for the batched step on large stacks.

A transformation's ``update`` (:mod:`nctheory.theory.transforms`) is written with Python
operators: every operation allocates a new array. On a stack of R runs these arrays are large
(R times a run's parameters) and short-lived; allocating them costs page faults and
memory traffic that the arithmetic itself does not need (measured on a 100-run UFM stack,
float64, one thread: the optimizer step 1.1-2.6x faster in place, depending on the optimizer,
the library and the allocator's state; numerics/results/bench_sweep.md). The functions here compute,
for one transformation class each, **the same operations in the same order** -- so the same
IEEE results, bit for bit -- but write into arrays the step owns:

* the chain's own temporaries (an update produced by an earlier link of this step);
* the optimizer's state buffers, when the caller allows it (``reuse_state``; the batched loop
  does from its second step on -- the first step's old state is read again by the probe of
  :mod:`.chain`).

Never written: the gradients, the parameters, hyperparameters, or any array the
transformation returns as part of its state *and* as its update (the heavy-ball momentum
returns its buffer as the step: the next link receives it as not owned).

Which transformation has a fast form is a property of its class: :data:`FAST` maps a class
(exactly that class, not subclasses, which may override ``update``) to its in-place form. A
fast form is used only when every hyperparameter it reads has the parameter's dtype (a Python
float or an array of another dtype would promote differently in place); otherwise the
transformation's own ``update`` runs. tests/test_sweep_batched_inplace.py checks every fast form
against ``update`` bitwise, on numpy and torch, over several steps, with a negative control.

Element-wise functions with ``out=`` (``multiply``, ``add``, ``divide``, ``sqrt``) are the
same names in numpy, cupy and torch; the library's own module is used (not the Array API
wrapper, whose functions may not accept ``out``).
"""

from __future__ import annotations

from nctheory.theory import ops as ops_module
from nctheory.theory import transforms as tf


def module_of(x):
    """numpy, cupy or torch: the library module of the array ``x``."""
    import importlib

    return importlib.import_module(ops_module.library(x))


def _add_decayed_weights(transform, updates, params, state, hp, lib, owned, reuse_state):
    decay = lib.multiply(hp["weight_decay"], params)  # ``hp * params``, a fresh array
    if owned:
        return lib.add(updates, decay, out=updates), state, True
    return lib.add(decay, updates, out=decay), state, True  # ``updates + decay``: + commutes exactly


def _torch_momentum(transform, updates, params, state, hp, lib, owned, reuse_state):
    buf, mu = state["momentum_buffer"], hp["momentum"]
    if buf is None:
        buf = ops_module.for_array(updates).copy(updates)  # ``ops.copy``, as ``update``
    else:
        scaled = lib.multiply(1 - hp["dampening"], updates)
        if not reuse_state:
            buf = lib.multiply(mu, buf)
        else:
            buf = lib.multiply(mu, buf, out=buf)
        buf = lib.add(buf, scaled, out=buf)
    if transform.nesterov:
        step = lib.multiply(mu, buf)
        return lib.add(updates, step, out=step), {"momentum_buffer": buf}, True
    return buf, {"momentum_buffer": buf}, False  # the step IS the buffer: not the chain's to overwrite


def _scale_by_adam(transform, updates, params, state, hp, lib, owned, reuse_state):
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    t = state["step"] + 1
    m, v = state["exp_avg"], state["exp_avg_sq"]
    first = lib.multiply(1 - b1, updates)
    m = lib.multiply(b1, m, out=m) if reuse_state else lib.multiply(b1, m)
    m = lib.add(m, first, out=m)
    second = lib.multiply(1 - b2, updates)
    second = lib.multiply(second, updates, out=second)  # ``(1 - b2) * d * d`` evaluates left to right
    v = lib.multiply(b2, v, out=v) if reuse_state else lib.multiply(b2, v)
    v = lib.add(v, second, out=v)
    denominator = lib.divide(v, 1 - b2 ** t, out=second)
    denominator = lib.sqrt(denominator, out=denominator)
    denominator = lib.add(denominator, eps, out=denominator)
    step = lib.divide(m, 1 - b1 ** t, out=first)
    step = lib.divide(step, denominator, out=step)
    return step, {"exp_avg": m, "exp_avg_sq": v, "step": t}, True


def _scale_by_learning_rate(transform, updates, params, state, hp, lib, owned, reuse_state):
    factor = -hp["lr"]
    if owned:
        return lib.multiply(factor, updates, out=updates), state, True
    return lib.multiply(factor, updates), state, True


#: transformation class -> its in-place form ``(transform, updates, params, state, hp, lib,
#: owned, reuse_state) -> (updates, state, owned)``; the hyperparameters each one reads
FAST = {
    tf.AddDecayedWeights: (_add_decayed_weights, ("weight_decay",)),
    tf.TorchMomentum: (_torch_momentum, ("momentum", "dampening")),
    tf.ScaleByAdam: (_scale_by_adam, ("beta1", "beta2", "eps")),
    tf.ScaleByLearningRate: (_scale_by_learning_rate, ("lr",)),
}


def fast_form(transform, params, hp):
    """The in-place form of ``transform`` for parameters ``params`` and hyperparameter views
    ``hp``, or None (no fast form for its class, or a hyperparameter that is not an array of
    the parameters' dtype)."""
    entry = FAST.get(type(transform))
    if entry is None:
        return None
    form, names = entry
    for name in names:
        value = hp.get(name)
        if ops_module.library(value) != ops_module.library(params) or getattr(value, "dtype", None) != params.dtype:
            return None
    return form
