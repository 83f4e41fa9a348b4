"""Hypothesis strategies for hyperparameters and exact arrays, shared by the proof modules.

Every value is an exact rational. Hyperparameters are short decimals (``k / 1000``), so
that passing them through ``OptimizerSpec.with_hparams`` -- which reads a float as the
decimal the user wrote -- keeps them exact.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from hypothesis import strategies as st


def decimals(low: int, high: int, denominator: int = 1000):
    """``k / denominator`` for integers k in [low, high], as sympy Rationals."""
    return st.integers(low, high).map(lambda k: sp.Rational(k, denominator))


# Hypothesis favours small integers; each range is mixed with its upper part so that both
# sides of every boundary (stability, acceleration) are reached.
lr = st.one_of(decimals(1, 1000), decimals(500, 1000))                       # (0, 1]
weight_decay = st.one_of(decimals(0, 1000), decimals(500, 1000))             # [0, 1]
positive_weight_decay = st.one_of(decimals(1, 1000), decimals(500, 1000))    # (0, 1]
momentum = st.one_of(decimals(1, 999), decimals(800, 999))                   # (0, 1); 0 is "sgd"
dampening = decimals(0, 1000)                                                # [0, 1]
nu = decimals(0, 1000)                                                       # [0, 1]
# For stability: a = lr * weight_decay spread over (0, 8], so that both regions are sampled.
# (sampled_from favours its first elements, so the large values come first.)
large_lr = st.sampled_from([sp.Rational(k, 4) for k in range(32, 0, -1)])                 # 8 .. 1/4
large_weight_decay = st.sampled_from([sp.Integer(1), sp.Rational(3, 4), sp.Rational(1, 2), sp.Rational(1, 4),
                                      sp.Rational(1, 10), sp.Rational(1, 100)])


def hyperparameters(spec, lr_strategy=lr, wd_strategy=weight_decay, torch_rules: bool = True):
    """A dict of exact values for every hyperparameter of ``spec``.

    With ``torch_rules``, Nesterov gets dampening 0 (torch refuses anything else).
    """
    pieces = {"lr": lr_strategy, "weight_decay": wd_strategy, "momentum": momentum,
              "dampening": dampening, "nu": nu}
    names = spec.hyperparameter_names
    strategy = st.fixed_dictionaries({name: pieces[name] for name in names})
    if torch_rules and spec.name == "sgd_nesterov":
        strategy = strategy.map(lambda hp: {**hp, "dampening": sp.Integer(0)})
    return strategy


def as_floats(hp: dict) -> dict:
    """The same values as Python floats (for ``with_hparams``: read back exactly)."""
    return {name: float(value) for name, value in hp.items()}


small_rationals = st.fractions(min_value=-5, max_value=5, max_denominator=12)
nonzero_rationals = small_rationals.filter(lambda v: v != 0)


def rational_matrices(rows: int, cols: int, elements=small_rationals):
    """``rows x cols`` lists of Fractions."""
    return st.lists(st.lists(elements, min_size=cols, max_size=cols), min_size=rows, max_size=rows)


__all__ = ["Fraction", "as_floats", "dampening", "decimals", "hyperparameters", "large_lr", "lr", "momentum",
           "large_weight_decay", "nonzero_rationals", "nu", "positive_weight_decay", "rational_matrices", "small_rationals",
           "weight_decay"]
