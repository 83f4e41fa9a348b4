"""Every spec against an implementation the package did not write (``spec.reference_class``).

For each registered spec: random float64 parameters, an open-loop sequence of random
gradients (so that no training feedback can amplify rounding), random hyperparameters drawn
by hypothesis inside the declared ranges; the spec's own update rule (``SpecOptimizer``)
and the reference run side by side and must agree to float64 rounding.

Tolerance: each step of either implementation rounds every entry with a relative error of
a few ulps of the largest quantity it touches -- the weights, or the step ``eta d``; the
two differ by at most ``C eps S`` per step with ``S = max_t (|W_t| + eta |d_t| / (1 - mu))``
(a momentum buffer sums past steps with weights ``mu^k``, at most ``1 / (1 - mu)`` times one
step), and with a linear or open-loop step the differences add up over ``T`` steps, not
multiply. ``C = 32`` covers the longest chain of operations here (NAdam: ~12 roundings per
entry) with a factor 2 to spare. A wrong hyperparameter or rule is off by ``O(eta)`` per
step, 10 orders of magnitude above.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nctheory
from nctheory.errors import HyperparameterError
from nctheory.pytorch.spec_optimizer import OWN_RULE, SpecOptimizer, implementation_name, make_optimizer
from nctheory.theory.torch_mapping import TorchClass

EPS = float(np.finfo(np.float64).eps)
STEPS = 60
SHAPE = (5, 7)
#: Where a declaration is unbounded above (lr, weight_decay, ...), draw up to this many
#: times its example value: the regime the package is used in.
UNBOUNDED_SPAN = 10.0
#: Narrower than the declared ranges where the update is ill-conditioned at the edge, so
#: that rounding alone separates two correct implementations: eps = 0 divides by
#: sqrt(v) with v -> 0, and centred RMSprop at alpha -> 0 divides by sqrt(v - g_avg^2),
#: the difference of two equal roundings (seen: 0 in one implementation, 1e-8 |d| in the
#: other). The declared ranges stay what torch accepts; this is the regime compared.
CONDITIONED = {"lr": (1e-4, 0.3), "eps": (1e-10, None), "alpha": (0.5, None),
               # Newton-Schulz: torch accepts any coefficients, but far from its own (a, b, c) the
               # quintic diverges and both implementations overflow alike; 1..8 iterations
               "ns_a": (3.4, 3.48), "ns_b": (-4.8, -4.75), "ns_c": (2.0, 2.05), "ns_steps": (1, 8)}


def _value(h, u: float) -> float:
    """The point at fraction ``u`` of the declared range of ``h`` (open ends avoided)."""
    floor, cap = CONDITIONED.get(h.name, (None, None))
    low = (0.0 if floor is None else floor) if h.low is None else h.low  # unbounded below: from the floor
    high = h.high if h.high is not None else max(UNBOUNDED_SPAN * h.example, low + 1e-6)
    low, high = (low if floor is None else max(low, floor)), (high if cap is None else min(high, cap))
    margin = 1e-3 * (high - low)
    low = low + margin if h.low_open else low
    high = high - margin if (h.high_open or h.high is None) else high
    value = low + u * (high - low)
    return float(round(value)) if h.integer else value


def _draw_spec(name, fractions):
    spec = nctheory.get_spec(name)
    values = {h.name: _value(h, u) for h, u in zip(spec.hyperparameters, fractions)}
    try:
        return spec.with_hparams(**values)
    except HyperparameterError:  # a cross-constraint (Nesterov needs dampening 0)
        values["dampening"] = 0.0
        return spec.with_hparams(**values)


def _run(make, w0, grads):
    """Run under the float64 default dtype: torch keeps scalar optimizer state (NAdam's
    momentum product) in the default dtype, which would round it to float32."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _steps(make, w0, grads)
    finally:
        torch.set_default_dtype(default)


def _steps(make, w0, grads):
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = make([p])
    trajectory = []
    for g in grads:
        p.grad = torch.tensor(g)  # a fresh tensor: qhoptim adds the decay to the gradient in place
        opt.step()
        trajectory.append(p.detach().numpy().copy())
    return np.array(trajectory), opt


@pytest.mark.parametrize("name", nctheory.names())
@settings(max_examples=15)
@given(fractions=st.lists(st.floats(0, 1), min_size=8, max_size=8), seed=st.integers(0, 2 ** 31 - 1))
def test_spec_agrees_with_its_reference(name, fractions, seed):
    spec = _draw_spec(name, fractions)
    reference = spec.reference_class
    assert reference is not None and reference.resolve() is not None, \
        f"{name}: no reference implementation installed ({reference and reference.requirement})"
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=SHAPE)
    grads = rng.normal(size=(STEPS, *SHAPE))
    ours, _ = _run(lambda p: SpecOptimizer(p, spec), w0, grads)
    theirs, opt = _run(lambda p: make_optimizer(spec, p), w0, grads)
    assert implementation_name(opt) != OWN_RULE
    lr = float(spec.values["lr"])
    mu = max(float(spec.values.get(k, 0.0)) for k in ("momentum", "beta1"))
    steps = np.abs(np.diff(np.concatenate([w0[None], theirs]), axis=0))
    scale = np.abs(theirs).max() + steps.max() / (1 - mu) + lr
    tolerance = STEPS * 32 * EPS * scale
    assert np.abs(ours - theirs).max() <= tolerance


@pytest.mark.parametrize("name", nctheory.names())
def test_a_wrong_hyperparameter_is_caught(name):
    """Negative control: the same comparison with the reference run at a different lr."""
    spec = nctheory.optimizer(name, **nctheory.get_spec(name).example_values())
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=SHAPE), rng.normal(size=(STEPS, *SHAPE))
    ours, _ = _run(lambda p: SpecOptimizer(p, spec), w0, grads)
    theirs, _ = _run(lambda p: make_optimizer(spec.with_hparams(lr=1.01 * float(spec.values["lr"])), p), w0, grads)
    tolerance = STEPS * 32 * EPS * (np.abs(theirs).max() + 1)
    assert np.abs(ours - theirs).max() > 1e3 * tolerance


def test_without_its_reference_library_the_package_says_it_measured_itself():
    spec = nctheory.optimizer("qhm", lr=0.1, momentum=0.9, weight_decay=1e-3)
    orphan = replace(spec, torch=(TorchClass("no_such_library.QHM", requirement="no-such-library"),))
    opt = make_optimizer(orphan, [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, SpecOptimizer) and implementation_name(opt) == OWN_RULE
    with pytest.raises(ImportError, match="pip install no-such-library"):
        orphan.torch[0].build(orphan, [torch.nn.Parameter(torch.zeros(2))])


@pytest.mark.parametrize("name", ["lion", "qhm", "sgdw_momentum"])
def test_from_torch_recognises_the_reference_libraries(name):
    spec = nctheory.optimizer(name, **nctheory.get_spec(name).example_values())
    p = torch.nn.Parameter(torch.ones(3, 2, dtype=torch.float64))
    opt = make_optimizer(spec, [p])
    p.grad = torch.ones_like(p)
    opt.step()
    back = nctheory.from_torch(opt, param=p)
    assert back.name == name and back.values == spec.values
