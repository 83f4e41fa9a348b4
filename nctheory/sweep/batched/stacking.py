"""Arrays with a leading run axis: stacking, selecting runs, and per-run hyperparameters.

The batched engine keeps every quantity of R runs in one array whose first axis is the run:
parameters ``(R, *shape)``, optimizer buffers ``(R, *shape)``, hyperparameters ``(R,)``. Two
operations are needed on arbitrary optimizer state (tuples of dicts holding arrays, ``None``
for a buffer not created yet, Python counters, and -- for matrix transformations run one run at
a time -- lists of per-run states):

* :func:`select` keeps some runs (a diverged run is dropped from the batch);
* :func:`run_slice` extracts one run (the first-step probe of :mod:`.chain`).

:class:`StackedHyperparameters` holds one value per run for each hyperparameter and hands
each parameter the view that broadcasts against it: shape ``(R, 1, ..., 1)`` with as many
ones as the parameter has axes after the run axis. ``a * x`` with ``a`` of shape
``(R, 1, 1)`` and ``x`` of shape ``(R, K, d)`` multiplies run r's matrix by run r's value --
the same floating-point operation, element by element, as the one-run step with the Python
float ``a_r`` (IEEE multiplication by the same double), which is why the batched step
reproduces the one-at-a-time step exactly for element-wise and linear transformations.
"""

from __future__ import annotations

import numpy as np

from nctheory.theory import ops as ops_module


class PerRun(list):
    """A list of per-run states (a MATRIX transformation stepped one run at a time)."""


def is_array(x) -> bool:
    return ops_module.library(x) is not None and not isinstance(x, (bool, int, float))


def select(tree, keep, xp):
    """``tree`` with only the runs ``keep`` (an integer index array on the host) kept."""
    if isinstance(tree, PerRun):
        return PerRun(tree[int(i)] for i in keep)
    if isinstance(tree, dict):
        return {k: select(v, keep, xp) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(select(v, keep, xp) for v in tree)
    if isinstance(tree, list):
        return [select(v, keep, xp) for v in tree]
    if is_array(tree):
        return tree[index_array(keep, tree, xp)]
    return tree  # None, counters: shared by every run


def index_array(keep, like, xp):
    """``keep`` as an index array of the library and device of ``like``."""
    keep = np.asarray(keep, dtype=np.int64)
    if ops_module.library(like) == "torch":
        import torch

        return torch.as_tensor(keep, device=like.device)
    return xp.asarray(keep)


def run_slice(tree, r: int):
    """The state of run ``r`` alone (arrays indexed at ``r``; per-run lists at ``r``)."""
    if isinstance(tree, PerRun):
        return tree[r]
    if isinstance(tree, dict):
        return {k: run_slice(v, r) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(run_slice(v, r) for v in tree)
    if isinstance(tree, list):
        return [run_slice(v, r) for v in tree]
    if is_array(tree):
        return tree[r]
    return tree


def stack(arrays, xp):
    """One array of the per-run arrays (a new leading axis)."""
    first = arrays[0]
    if ops_module.library(first) == "torch":
        import torch

        return torch.stack(list(arrays))
    return xp.stack(list(arrays))


class StackedHyperparameters:
    """Per-run hyperparameter values as arrays, broadcastable against stacked parameters.

    Args:
        values: one ``spec.float_hp()`` dict per run (the same names in every dict).
        rates: array ``(R, steps)`` of the learning rate of every run at every step.
        make: ``make(numpy_array) -> array`` of the engine's library, dtype and device.
    """

    def __init__(self, values: list, rates: np.ndarray, make):
        self.names = tuple(values[0])
        self.host = {name: np.asarray([v[name] for v in values], dtype=np.float64) for name in self.names}
        self.rates_host = np.asarray(rates, dtype=np.float64)
        #: every run's rates, kept when runs leave the batch (the records' learning_rates)
        self.rates_host_all = self.rates_host
        self.make = make
        self.arrays = {name: make(column) for name, column in self.host.items()}
        self.rates = make(self.rates_host)
        self._views: dict = {}
        self._step = None

    @property
    def size(self) -> int:
        return int(self.rates_host.shape[0])

    def at_step(self, t: int) -> None:
        """Use the learning rates of step ``t`` from now on."""
        self._step = t

    def for_ndim(self, ndim: int) -> dict:
        """Name -> array of shape ``(R,) + (1,) * (ndim - 1)`` for a stacked parameter with
        ``ndim`` axes (the run axis included); ``"lr"`` is the current step's."""
        cached = self._views.get(ndim)
        if cached is None:
            shape = (self.size,) + (1,) * (ndim - 1)
            constant = {name: a.reshape(shape) for name, a in self.arrays.items()}
            # every step's learning rates at once: (steps, R, 1, ..., 1), indexed per step
            rates = self.rates.T.reshape((self.rates.shape[1],) + shape)
            cached = self._views[ndim] = (constant, rates)
        constant, rates = cached
        if self._step is None:
            return constant
        return {**constant, "lr": rates[self._step]}

    def floats(self, r: int) -> dict:
        """Run ``r``'s hyperparameters as Python floats (what the one-run step receives)."""
        out = {name: float(column[r]) for name, column in self.host.items()}
        if self._step is not None:
            out["lr"] = float(self.rates_host[r, self._step])
        return out

    def select(self, keep) -> None:
        """Keep only the runs ``keep`` (host integer indices)."""
        keep = np.asarray(keep, dtype=np.int64)
        self.host = {name: column[keep] for name, column in self.host.items()}
        self.rates_host = self.rates_host[keep]
        self.arrays = {name: self.make(column) for name, column in self.host.items()}
        self.rates = self.make(self.rates_host)
        self._views = {}
