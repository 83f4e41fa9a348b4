r"""The optimizer step of R runs at once: the spec's own chain on stacked parameters.

``spec.step`` applies the chain ``W + t_n(... t_1(G))`` (:mod:`nctheory.theory.transforms`).
Here each transformation is applied to arrays with a leading run axis, with the
hyperparameters of :class:`~.stacking.StackedHyperparameters` (shape ``(R, 1, ..., 1)``):

* **LINEAR and ELEMENTWISE** transformations (``add_decayed_weights``, the momentum buffers,
  Adam, Lion, sign, RMSprop, Adagrad, NAdam, SOAP's decay-after-step): their ``update`` is
  written with arithmetic, ``sign``, ``sqrt`` and powers of scalars, all of which act entry by
  entry, so the very same ``update`` runs on the stacked arrays and computes, for each run,
  the operations of that run's one-run step. A counter in the state (Adam's ``step``) is
  shared, as every run of a batch takes the same steps. Checked for every registered
  optimizer against ``spec.step`` one run at a time (tests/test_sweep_batched.py), and at the
  first step of every batch (:meth:`BatchedChain.probe`): a user transformation declared
  element-wise that mixes runs (a norm over the whole array, a transpose) is caught there
  and the batch falls back to one run at a time.
* **MATRIX** transformations act on each run's K x d matrix as a whole:
  :class:`~nctheory.theory.matrix_transforms.NewtonSchulzOrthogonalisation` (Muon) runs
  batched -- the quintic iteration with batched matrix products ``X X^T`` over the run axis
  and a per-run Frobenius norm, transposing per matrix as torch does -- provided every run of
  the batch has the same ``ns_steps`` (a loop count); the coefficients may differ per run.
  The others (the polar factor, Shampoo's inverse fourth roots, SOAP's eigenbases: per-run
  eigen-decompositions and data-dependent branches) are stepped one run at a time inside the
  batched step, with that run's hyperparameters as floats and its own state (a
  :class:`~.stacking.PerRun` list); the rest of the chain stays batched.

**In place.** Where a transformation's class has an in-place form (:mod:`.inplace`: weight
decay, torch's momentum, Adam, the learning rate) that form runs instead of ``update``: the
same operations in the same order, bitwise equal (tests/test_sweep_batched_inplace.py), but
written into the step's own temporaries and -- when the caller passes ``reuse_state``, as the
batched loop does after its first step -- into the optimizer's state buffers. Gradients and
parameters are never written. :attr:`BatchedChain.in_place` switches this off (for
measurements). On a 100-run UFM stack (float64, one thread) the optimizer step alone ran
1.1-2.6x faster in place (fewer bytes moved, fewer fresh megabyte-size arrays, whose page
faults can cost as much as the arithmetic; numerics/results/bench_sweep.md).
"""

from __future__ import annotations

import numpy as np

from nctheory.errors import NCTheoryError
from nctheory.sweep.batched.inplace import fast_form, module_of
from nctheory.sweep.batched.stacking import PerRun, run_slice, select, stack
from nctheory.theory import matrix_transforms as mt
from nctheory.theory import ops as ops_module
from nctheory.theory.transforms import MATRIX

#: How many units of roundoff (``finfo(dtype).eps``, relative to the largest entry) the batched
#: first step may differ from the one-run step by. Both compute the same operations in the
#: same dtype: element-wise chains agree bitwise and a batched matrix product may round
#: differently (measured on every registered optimizer, float64: bitwise, or 1 ulp for
#: Newton-Schulz's batched products; tests/test_sweep_batched.py). 1e4 ulp leaves room for
#: larger matrices and longer products; a transformation that mixes runs differs at order
#: one, 1e12 float64 ulp away.
PROBE_ULPS = 1e4


def batched_newton_schulz(G, a, b, c, steps: int, eps):
    """:func:`nctheory.theory.matrix_transforms.newton_schulz` on a stack ``G`` (R, m, n):
    per-run normalisation ``X / max(||X||_F, eps)`` and the quintic iteration with batched
    products; ``a, b, c, eps`` have shape (R, 1, 1)."""
    xp = ops_module.array_namespace(G)
    transpose = G.shape[-2] > G.shape[-1]
    X = _mT(G) if transpose else G
    norm = xp.linalg.vector_norm(X, axis=(-2, -1), keepdims=True)
    X = X / xp.where(norm > eps, norm, eps)
    for _ in range(int(steps)):
        gram = X @ _mT(X)
        X = a * X + (b * gram + c * (gram @ gram)) @ X
    return _mT(X) if transpose else X


def _mT(x):
    """Transpose of the last two axes (torch ``.mT``; numpy/cupy ``swapaxes``)."""
    return x.mT if hasattr(x, "mT") else x.swapaxes(-1, -2)


def _batched_matrix(transform, updates, hp_host, hp):
    """The batched form of a MATRIX transformation, or None if it has none here."""
    if type(transform) is mt.NewtonSchulzOrthogonalisation:
        steps = np.unique(hp_host["ns_steps"])
        if steps.size != 1:
            return None  # a loop count that differs between runs: one run at a time
        out = batched_newton_schulz(updates, hp["ns_a"], hp["ns_b"], hp["ns_c"], int(steps[0]), hp["eps"])
        return out * mt.shape_factor(transform.lr_scaling, updates.shape[1:])
    return None


class BatchedChain:
    """``spec.step`` for stacked parameters: state per parameter, updated in place of the
    one-run state."""

    #: use the in-place forms of :mod:`.inplace` where a transformation has one
    in_place = True

    def __init__(self, spec, xp):
        self.spec, self.xp = spec, xp
        self.chain = tuple(spec.chain)
        self._forms: dict = {}

    def init_state(self, params: dict, runs: int) -> dict:
        """Name -> the chain's state for that stacked parameter (``spec.init_state`` of the
        stack; per-run lists for the matrix transformations stepped one run at a time)."""
        out = {}
        for name, p in params.items():
            ops = ops_module.for_array(p)
            states = []
            for transform in self.chain:
                if transform.nature == MATRIX:
                    states.append(PerRun(transform.init(p[r], ops) for r in range(runs)))
                else:
                    states.append(transform.init(p, ops))
            out[name] = tuple(states)
        return out

    def step(self, params: dict, grads: dict, state: dict, hp, reuse_state: bool = False) -> tuple[dict, dict]:
        """``(new params, new state)`` of every parameter; ``hp`` a
        :class:`~.stacking.StackedHyperparameters` set to the current step. ``params`` and
        ``grads`` are never written; with ``reuse_state`` the optimizer's state buffers of
        ``state`` may be updated in place (:mod:`.inplace`) -- the caller must not read
        ``state`` afterwards."""
        new_params, new_state = {}, {}
        for name, p in params.items():
            new_params[name], new_state[name] = self._step_one(p, grads[name], state[name], hp, reuse_state)
        return new_params, new_state

    def _step_one(self, p, g, state, hp, reuse_state=False):
        ops = ops_module.for_array(p)
        views = hp.for_ndim(p.ndim)
        updates, out = g, []
        owned = False  # whether ``updates`` is this step's own temporary (may be overwritten)
        forms, lib = self._fast_forms(p, views)
        for transform, sub, fast in zip(self.chain, state, forms):
            if fast is not None:
                updates, sub, owned = fast(transform, updates, p, sub, views, lib, owned, reuse_state)
                out.append(sub)
                continue
            owned = False  # an ``update``'s output may alias its input or its state
            if transform.nature == MATRIX:
                # a stateless matrix map may run batched; one with state runs one run at a time
                batched = None if any(sub) else _batched_matrix(transform, updates, hp.host, views)
                if batched is not None:
                    updates = batched
                else:
                    pieces = [transform.update(updates[r], p[r], sub[r], hp.floats(r), ops) for r in range(len(sub))]
                    updates = stack([u for u, _ in pieces], self.xp)
                    sub = PerRun(s for _, s in pieces)
            else:
                updates, sub = transform.update(updates, p, sub, views, ops)
            out.append(sub)
        if owned:
            return lib.add(updates, p, out=updates), tuple(out)  # ``p + updates``: + commutes exactly
        return p + updates, tuple(out)

    def _fast_forms(self, p, views) -> tuple:
        """``(in-place form or None per transformation, library module)`` for a parameter like
        ``p`` with hyperparameter views ``views`` (decided once per library, dtype and shape
        of the views: they keep their types while the batch trains)."""
        kinds = tuple((k, type(v), getattr(v, "dtype", None)) for k, v in views.items())
        key = (self.in_place, type(p), p.dtype, p.ndim, kinds)
        cached = self._forms.get(key)
        if cached is None:
            forms = tuple(fast_form(t, p, views) if self.in_place else None for t in self.chain)
            cached = self._forms[key] = (forms, module_of(p) if any(forms) else None)
        return cached

    def probe(self, params: dict, grads: dict, state: dict, new_params: dict, hp, runs=(0, -1)) -> None:
        """Compare the batched step of a few runs with ``spec.step`` run alone on that run's
        slice and floats; NCTheoryError if they differ by more than rounding
        (:data:`PROBE_ULPS` units of roundoff of the parameters' dtype, relative to the
        largest entry)."""
        size = hp.size
        for r in sorted({r % size for r in runs}):
            for name, p in params.items():
                alone, _ = self.spec.step(p[r], grads[name][r], run_slice(state[name], r), hp=hp.floats(r),
                                          ops=ops_module.for_array(p))
                a = ops_module.to_numpy(alone).astype(np.float64)
                b = ops_module.to_numpy(new_params[name][r]).astype(np.float64)
                if not (np.isfinite(a).all() and np.isfinite(b).all()):
                    continue  # a diverging run: judged by the divergence check, not here
                scale = max(float(np.abs(a).max(initial=0.0)), np.finfo(np.float64).tiny)
                eps = float(np.finfo(ops_module.to_numpy(p[r]).dtype).eps)
                if float(np.abs(a - b).max(initial=0.0)) > PROBE_ULPS * eps * scale:
                    raise NCTheoryError(
                        f"the optimizer {self.spec.name!r} does not broadcast over the run axis: its batched "
                        f"step differs from spec.step on parameter {name!r} of run {r} (a transformation "
                        f"declared linear or element-wise that mixes entries across runs); run it one at a time")

    @staticmethod
    def select(state: dict, keep, xp) -> dict:
        return {name: select(s, keep, xp) for name, s in state.items()}
