"""A renamed copy of every registered spec -- same chain, same declarations, another name --
is treated identically everywhere: nothing in the package decides on a name.

Compared: the derived family and check protocol, the statements of section 4, the exact
recurrence and the float64 prediction (linear specs), the LaTeX, the torch mapping in both
directions, training and the verdict on the same runs.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch

import nctheory
from nctheory.pytorch.spec_optimizer import SpecOptimizer, make_optimizer
from nctheory.runs.training import run_training
from nctheory.theory.family import STEP_SIZE_SCALING
from nctheory.theory.latex import escape_text
from nctheory.verdict import check_records

NAMES = nctheory.names()


def _pair(name):
    spec = nctheory.get_spec(name)
    spec = spec.with_hparams(**spec.example_values())
    return spec, replace(spec, name=f"my_{name}")


def _same_text(a: str, b: str, spec, copy) -> bool:
    for s in (copy, spec):  # the longer name first: it contains the other
        a = a.replace(escape_text(s.name), "NAME").replace(s.name, "NAME")
        b = b.replace(escape_text(s.name), "NAME").replace(s.name, "NAME")
    return a == b


@pytest.mark.parametrize("name", NAMES)
def test_theory_and_latex_are_the_same(name):
    spec, copy = _pair(name)
    assert copy.family == spec.family
    assert copy.nonlinear_theory() == spec.nonlinear_theory()
    assert _same_text(spec.latex(), copy.latex(), spec, copy)
    if spec.is_linear:
        assert copy.recurrence() == spec.recurrence()
        assert copy.row_sum_dynamics().first_matrix == spec.row_sum_dynamics().first_matrix
        assert copy.charpoly() == spec.charpoly()
        s0 = np.array([1.0, -2.0, 0.5])
        np.testing.assert_array_equal(copy.predict(s0, 40), spec.predict(s0, 40))
    else:
        with pytest.raises(nctheory.NCTheoryError):
            copy.recurrence()


@pytest.mark.parametrize("name", NAMES)
def test_torch_mapping_is_the_same(name):
    spec, copy = _pair(name)
    params = [torch.nn.Parameter(torch.ones(3, 2, dtype=torch.float64))]
    assert type(make_optimizer(copy, params)) is type(make_optimizer(spec, params))
    assert nctheory.from_torch(SpecOptimizer(params, copy)).name == copy.name


def _plan(spec):
    """Short runs: three step sizes for a scaling law, one run otherwise."""
    lr = float(spec.values["lr"])
    if spec.family.protocol == STEP_SIZE_SCALING:
        return [(lr / f, 40 * f) for f in (1, 3, 9)]
    return [(lr, 60)]


@pytest.mark.parametrize("name", NAMES)
def test_training_and_verdict_are_the_same(name):
    spec, copy = _pair(name)
    records, copies = [], []
    for lr, steps in _plan(spec):
        records.append(run_training(spec.with_hparams(lr=lr), model="ufm", steps=steps, seed=3, record_every=5))
        copies.append(run_training(copy.with_hparams(lr=lr), model="ufm", steps=steps, seed=3, record_every=5))
        np.testing.assert_array_equal(copies[-1].row_sums, records[-1].row_sums)
    original = check_records(records)
    renamed = check_records(copies)
    assert renamed.verdict == original.verdict
    assert _same_text(renamed.to_json(), original.to_json(), spec, copy)
    # and judged against the copy, the original's runs get the original's verdict
    assert check_records(records, theory=copy).verdict == original.verdict
