"""The theorems of THEORY.md as objects: statement, hypotheses, symbolic proof, LaTeX.

Each module defines one theorem (or one parametrised theorem class and its instances):

* :mod:`.lemma0` -- NC0 -> 0 is necessary for Neural Collapse (simplex ETF rows sum to 0);
* :mod:`.lemma1` -- gradient row sums vanish for shift-invariant losses;
* :mod:`.theorem2` -- stationarity under coupled L2 decay forces NC0 = 0;
* :mod:`.linear_recurrences` -- the exact row-sum dynamics of every linear optimizer,
  checked against THEORY.md's table (one instance per linear spec);
* :mod:`.optimal_momentum` -- heavy ball's, Nesterov's and QHM's optimal momentum and rate;
* :mod:`.sign_bounds` -- decoupled sign descent: box bound, parity, the NC0 floor;
* :mod:`.matrix_row_sums` -- matrix optimizers (Muon, Shampoo, SOAP) keep zero row sums;
* :mod:`.bfloat16_floor` -- torch's bfloat16 Newton-Schulz: the NC0 floor it leaves.

``THEOREMS`` maps each name to its object; ``theorem.prove()`` returns a
:class:`~nctheory.theorems.base.Proof`, ``theorem.latex()`` its LaTeX.
"""

from __future__ import annotations

from nctheory.theorems.base import Proof, Step, Theorem
from nctheory.theorems.bfloat16_floor import BFLOAT16_FLOOR
from nctheory.theorems.lemma0 import LEMMA0
from nctheory.theorems.lemma1 import LEMMA1
from nctheory.theorems.linear_recurrences import LINEAR_RECURRENCES
from nctheory.theorems.matrix_row_sums import MATRIX_ROW_SUMS
from nctheory.theorems.optimal_momentum import OPTIMAL_MOMENTUM
from nctheory.theorems.sign_bounds import SIGN_BOUNDS
from nctheory.theorems.theorem2 import THEOREM2

THEOREMS: dict[str, Theorem] = {
    theorem.name: theorem
    for theorem in (LEMMA0, LEMMA1, THEOREM2, *LINEAR_RECURRENCES.values(), *OPTIMAL_MOMENTUM.values(),
                    SIGN_BOUNDS, MATRIX_ROW_SUMS, BFLOAT16_FLOOR)
}


def all_theorems() -> list[Theorem]:
    """Every theorem object, in THEORY.md's order."""
    return list(THEOREMS.values())


def get_theorem(name: str) -> Theorem:
    """The theorem registered under ``name``; the error lists the known names."""
    if name not in THEOREMS:
        raise KeyError(f"unknown theorem {name!r}; known theorems: {', '.join(THEOREMS)}")
    return THEOREMS[name]


__all__ = ["THEOREMS", "Proof", "Step", "Theorem", "all_theorems", "get_theorem"]
