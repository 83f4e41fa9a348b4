"""Lemma 1's hypothesis: shift invariance of losses, decided exactly or with a witness."""

import pytest
import sympy as sp

from nctheory.errors import NCTheoryError
from nctheory.theory.losses import LOSSES, logits, shift_invariance

INVARIANT = ["cross_entropy", "label_smoothing", "soft_labels", "focal", "crammer_singer"]
NOT_INVARIANT = ["mse", "sigmoid_ovr"]


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_losses_pass(name, K):
    assert shift_invariance(name, K).invariant is True


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("name", NOT_INVARIANT)
def test_non_invariant_losses_fail_with_an_exact_witness(name, K):
    result = shift_invariance(name, K)
    assert result.invariant is False
    z = logits(K)
    assert sp.N(result.derivative.subs(result.witness), 30) != 0
    assert all(zk in result.witness for zk in z)


def test_user_expression_is_checked():
    z = logits(3)
    centred = sum((zk - sum(z) / 3) ** 2 for zk in z)  # depends only on differences: invariant
    assert shift_invariance(centred, logit_symbols=z).invariant is True
    assert shift_invariance(z[0] ** 2 + z[1], logit_symbols=z).invariant is False


def test_expression_without_logits_is_an_error():
    with pytest.raises(NCTheoryError, match="logit_symbols"):
        shift_invariance(sp.Symbol("x") ** 2)


def test_unknown_loss_lists_known():
    with pytest.raises(NCTheoryError, match="cross_entropy"):
        shift_invariance("hinge2")


def test_registry_is_complete():
    assert set(INVARIANT + NOT_INVARIANT) == set(LOSSES)
