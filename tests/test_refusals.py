"""Refusals the mutation benchmark (numerics/mutation_benchmark.py) found untested.

* The engine re-derives linearity and refuses a false declaration (docs/design.md): a
  transformation declared LINEAR whose output has a degree-2 term (a squared gradient) or a
  term that does not depend on the state gives no row-sum recurrence, and its family is
  refused -- in an all-linear chain and next to a nonlinearity (the opaque engine).
  (Mutant ``engine_accepts_degree_two``: ``total_degree() > 2`` passed every other test.)
* ``distinct`` (a negative control's step) holds only with a witness point: equal
  expressions, and a difference that is zero but that its simplification does not reduce,
  must FAIL. (Mutant ``distinct_undecided_passes``: returning True there passed every
  other test.)
"""

from dataclasses import dataclass

import pytest
import sympy as sp

from nctheory.errors import NCTheoryError, NoLinearRecurrenceError
from nctheory.theorems.base import distinct
from nctheory.theory import hyperparams as hp
from nctheory.theory import transforms as tf
from nctheory.theory.spec import OptimizerSpec


@dataclass(frozen=True)
class _SquaresDeclaredLinear(tf.Transform):
    """Declared linear, but ``d <- d + d^2``."""

    def update(self, updates, params, state, hp, ops):
        return updates + updates * updates, state


@dataclass(frozen=True)
class _OffsetDeclaredLinear(tf.Transform):
    """Declared linear, but ``d <- d + 1`` (affine, not linear)."""

    def update(self, updates, params, state, hp, ops):
        return updates + 1, state


def _spec(*chain):
    return OptimizerSpec(name="false_declaration", summary="test", reference="test",
                         chain=(tf.add_decayed_weights, *chain, tf.scale_by_learning_rate),
                         hyperparameters=(hp.LR, hp.WEIGHT_DECAY))


@pytest.mark.parametrize("transform, reason", [(_SquaresDeclaredLinear(), "degree 2"),
                                               (_OffsetDeclaredLinear(), "does not depend on the state")])
def test_a_false_linear_declaration_gets_no_recurrence(transform, reason):
    spec = _spec(transform)
    assert not spec.is_linear
    with pytest.raises(NoLinearRecurrenceError, match=reason):
        spec.recurrence()
    with pytest.raises(NCTheoryError, match="declared linear"):
        spec.family


@pytest.mark.parametrize("transform", [_SquaresDeclaredLinear(), _OffsetDeclaredLinear()])
def test_a_false_linear_declaration_next_to_a_sign_is_refused(transform):
    spec = _spec(tf.scale_by_sign, transform)
    with pytest.raises(NCTheoryError, match="declared linear"):
        spec.family


def test_distinct_needs_a_witness():
    x, y = sp.symbols("x y", positive=True)
    assert distinct("different", x + y, x * y).holds
    assert not distinct("the same expression", x + y, y + x).holds
    assert not distinct("equal after expansion", (x + 1) ** 2, x ** 2 + 2 * x + 1).holds
    # zero, though "expand" does not reduce it: no witness point exists, so not distinct
    assert not distinct("undecided", sp.sin(x) ** 2 + sp.cos(x) ** 2, 1).holds
