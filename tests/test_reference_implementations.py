"""Every spec against an implementation the package did not write (``spec.reference_class``):
the lock-step comparison of :mod:`nctheory.pytorch.rule_check` (whose docstring derives the
float64 tolerance) at hyperparameters drawn by hypothesis inside the declared ranges, its
negative control, and both directions of the reference libraries' torch mapping.
"""

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nctheory
from nctheory.errors import HyperparameterError
from nctheory.pytorch.rule_check import compare_with_reference
from nctheory.pytorch.spec_optimizer import OWN_RULE, SpecOptimizer, implementation_name, make_optimizer
from nctheory.theory.torch_mapping import TorchClass

#: Where a declaration is unbounded above (lr, weight_decay, ...), draw up to this many
#: times its example value: the regime the package is used in.
UNBOUNDED_SPAN = 10.0
#: Narrower than the declared ranges where the update is ill-conditioned at the edge, so
#: that rounding alone separates two correct implementations: eps = 0 divides by
#: sqrt(v) with v -> 0, and centred RMSprop at alpha -> 0 divides by sqrt(v - g_avg^2),
#: the difference of two equal roundings (seen: 0 in one implementation, 1e-8 |d| in the
#: other). The declared ranges stay what torch accepts; this is the regime compared.
CONDITIONED = {"lr": (1e-4, 0.3), "eps": (1e-10, None), "alpha": (0.5, None),
               # beta2 = 0 makes v = g^2 and the step ~ g / (|g| + eps), sign-like where g crosses 0: NAdam vs
               # torch.optim.NAdam at beta2 = 0, eps = 1e-8 differ by 1 ulp at step 1 and 4e-10 at step 60
               # (growing like eps), 2e-15 at beta2 = 0.1 -- the ill-conditioning of eps -> 0 above
               "beta2": (0.1, None),
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


@pytest.mark.parametrize("name", nctheory.names())
@settings(max_examples=15)
@given(fractions=st.lists(st.floats(0, 1), min_size=8, max_size=8), seed=st.integers(0, 2 ** 31 - 1))
def test_spec_agrees_with_its_reference(name, fractions, seed):
    """The lock-step comparison of :mod:`nctheory.pytorch.rule_check` (its docstring derives
    the float64 tolerance), at hyperparameters drawn inside the declared ranges."""
    spec = _draw_spec(name, fractions)
    reference = spec.reference_class
    assert reference is not None and reference.resolve() is not None, \
        f"{name}: no reference implementation installed ({reference and reference.requirement})"
    comparison = compare_with_reference(spec, seed=seed)
    assert comparison.reference != OWN_RULE
    assert comparison.agrees, comparison.sentence


@pytest.mark.parametrize("name", nctheory.names())
def test_a_wrong_hyperparameter_is_caught(name):
    """Negative control: the reference built with a 1% larger lr must disagree, by far."""
    spec = nctheory.optimizer(name, **nctheory.get_spec(name).example_values())
    ref = spec.reference_class
    wrong = replace(spec, reference_implementation=TorchClass(
        ref.path, {**ref.when, "lr": 1.01 * float(spec.values["lr"])}, ref.attributes, ref.requirement))
    comparison = compare_with_reference(wrong)
    assert comparison.agrees is False and comparison.max_error > 1e3 * comparison.tolerance


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
