"""The in-place forms of nctheory.sweep.batched.inplace against the transformations' own
``update``.

**The comparison is bitwise** (``array_equal``), not to a tolerance: each in-place form
performs the same IEEE operations in the same order as ``update`` (only the destination
arrays differ; ``a + b`` and ``b + a`` are the same correctly rounded sum), so any difference
at all is a bug. Checked on numpy and torch, float64, over several steps, with every
combination of an owned or borrowed incoming update and of state updated in place or not,
with hyperparameters that differ per run (shape (R, 1, 1)). The gradients, parameters and
hyperparameters must come out unchanged (the forms may write only temporaries and, when
allowed, the state).

**Negative control**: a planted wrong form (Adam's bias correction one step late) differs
under the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nctheory.sweep.batched import inplace
from nctheory.theory import ops as ops_module
from nctheory.theory import transforms as tf

TRANSFORMS = [tf.add_decayed_weights, tf.torch_momentum, tf.torch_nesterov, tf.scale_by_adam,
              tf.scale_by_learning_rate]
RUNS, SHAPE = 3, (4, 5)


def _arrays(library: str, seed: int):
    rng = np.random.default_rng(seed)
    make = (lambda a: torch.as_tensor(a, dtype=torch.float64)) if library == "torch" else np.asarray
    hp = {"weight_decay": rng.uniform(1e-3, 1e-1, RUNS), "momentum": rng.uniform(0.5, 0.95, RUNS),
          "dampening": rng.uniform(0.0, 0.3, RUNS), "beta1": rng.uniform(0.8, 0.95, RUNS),
          "beta2": rng.uniform(0.9, 0.999, RUNS), "eps": rng.uniform(1e-9, 1e-6, RUNS), "lr": rng.uniform(1e-3, 0.1, RUNS)}
    hp = {k: make(v.reshape(RUNS, 1, 1)) for k, v in hp.items()}
    grads = [make(rng.standard_normal((RUNS, *SHAPE))) for _ in range(4)]
    return make(rng.standard_normal((RUNS, *SHAPE))), grads, hp


def _copy(x):
    return x.clone() if isinstance(x, torch.Tensor) else (x.copy() if isinstance(x, np.ndarray) else x)


def _copy_state(state: dict) -> dict:
    return {k: _copy(v) for k, v in state.items()}


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, int):
        return a == b
    return bool(np.array_equal(ops_module.to_numpy(a), ops_module.to_numpy(b)))


def _mismatches(transform, form, library: str, owned: bool, reuse_state: bool) -> list:
    """Where ``form`` differs from ``transform.update`` over four steps (empty: bitwise equal)."""
    params, grads, hp = _arrays(library, seed=len(TRANSFORMS) * owned + reuse_state)
    ops = ops_module.for_array(params)
    lib = inplace.module_of(params)
    kept = (_copy(params), [_copy(g) for g in grads], {k: _copy(v) for k, v in hp.items()})
    state_ref = transform.init(params, ops)
    state_fast = _copy_state(state_ref)
    out = []
    for t, g in enumerate(grads):
        expected, state_ref = transform.update(g, params, state_ref, hp, ops)
        incoming = _copy(g) if owned else g  # an owned update is the chain's own temporary
        got, state_fast, _ = form(transform, incoming, params, state_fast, hp, lib, owned, reuse_state)
        if not _same(got, expected):
            out.append(f"step {t}: update")
        out += [f"step {t}: state {k}" for k in state_ref if not _same(state_fast[k], state_ref[k])]
    if not (_same(params, kept[0]) and all(_same(a, b) for a, b in zip(grads, kept[1]))
            and all(_same(hp[k], kept[2][k]) for k in hp)):
        out.append("an input was written")
    return out


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: f"{type(t).__name__}{getattr(t, 'nesterov', '')}")
def test_in_place_form_equals_update_bitwise(transform, library):
    form = inplace.fast_form(transform, _arrays(library, 0)[0], _arrays(library, 0)[2])
    assert form is not None, f"{type(transform).__name__} has no in-place form for {library} float64"
    for owned in (False, True):
        for reuse_state in (False, True):
            assert _mismatches(transform, form, library, owned, reuse_state) == [], (owned, reuse_state)


def test_no_in_place_form_for_other_dtypes_or_classes():
    """A hyperparameter of another dtype (promotion would differ in place) or a class without a
    form (here a subclass, which may override update) gets None: the transformation's update runs."""
    params, _, hp = _arrays("numpy", 0)
    assert inplace.fast_form(tf.scale_by_adam, params.astype(np.float32), hp) is None
    assert inplace.fast_form(tf.scale_by_adam, params, {**hp, "eps": 1e-8}) is None

    class Subclass(tf.ScaleByLearningRate):
        pass

    assert inplace.fast_form(Subclass(), params, hp) is None


def _late_bias_correction(transform, updates, params, state, hp, lib, owned, reuse_state):
    """A planted bug: Adam's form with its step counter one behind."""
    step, new_state, owned = inplace._scale_by_adam(transform, updates, params, state, hp, lib, owned, reuse_state)
    new_state["step"] -= 1
    return step, new_state, owned


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_negative_control_a_wrong_form_is_caught(library):
    assert _mismatches(tf.scale_by_adam, _late_bias_correction, library, owned=False, reuse_state=True) != []


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_the_batched_chain_in_place_equals_it_without(library):
    """Every registered optimizer's chain, stepped as the batched loop steps it (state reused
    in place from the second step on), equals the chain without any in-place form, bitwise,
    over five steps."""
    from nctheory.optimizers import REGISTRY
    from nctheory.sweep.batched.chain import BatchedChain
    from nctheory.sweep.batched.stacking import StackedHyperparameters

    rng = np.random.default_rng(1)
    make = (lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)) if library == "torch" else np.asarray
    xp = None if library == "torch" else ops_module.namespace("numpy")
    start = rng.standard_normal((RUNS, *SHAPE))
    grads = [make(rng.standard_normal((RUNS, *SHAPE))) for _ in range(5)]
    differ = []
    for name, base in REGISTRY.items():
        specs = [base.with_hparams(**{**base.example_values(), "lr": base.example_values()["lr"] * (1 + r / 2)})
                 for r in range(RUNS)]
        finals = []
        for in_place in (True, False):
            hp = StackedHyperparameters([s.float_hp() for s in specs],
                                        np.array([[s.float_hp()["lr"]] * 5 for s in specs]), make)
            chain = BatchedChain(specs[0], xp)
            chain.in_place = in_place
            params = {"W": make(start)}
            state = chain.init_state(params, RUNS)
            for t, g in enumerate(grads):
                hp.at_step(t)
                params, state = chain.step(params, {"W": g}, state, hp, reuse_state=t > 0)
            finals.append(ops_module.to_numpy(params["W"]).copy())
        if not np.array_equal(*finals, equal_nan=True):
            differ.append(name)
    assert differ == []
