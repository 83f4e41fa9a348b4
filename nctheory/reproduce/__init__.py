"""Reproduce the claims of Zhao, Cheng, Masarczyk & Lucchi (arXiv:2602.16642) end to end.

``python -m nctheory.reproduce [--quick]`` runs the experiments of ``numerics/reproduce/``
through the sweep engine and writes a report stating, claim by claim, *supported*,
*contradicted* or *inconclusive*, with the numbers, the regime reached and the runs behind
each verdict (docs/reproduce.md). One module per claim turns a list of
:class:`~nctheory.sweep.result.RunResult` into a :class:`~.claim.ClaimResult`:

* :mod:`.coupling` -- coupled decay lets NC0 vanish, decoupled decay in elementwise-adaptive
  optimizers does not, and flipping only the coupling flips the outcome;
* :mod:`.momentum` -- momentum's acceleration of NC0 and NC1-NC3 follows the exact rate,
  including the slow-down past the heavy-ball threshold and none under SGDW, beyond the loss;
* :mod:`.sign_scaling` -- the sign-based scaling laws (eta, 1/lambda, parity of K);
* :mod:`.necessity` -- NC1-NC3 small only where NC0_rel is small, across every run.

Facts about optimizers come from their specs (``spec.family``, ``spec.rate()``,
``spec.acceleration_conditions()``, ``spec.optimal_momentum()``), never from their names.
"""

from nctheory.reproduce.claim import CONTRADICTED, INCONCLUSIVE, SUPPORTED, VERDICTS, ClaimResult, Finding
from nctheory.reproduce.experiments import CLAIMS, check_claims


def reproduce(*args, **kwargs):
    """See :func:`nctheory.reproduce.run.reproduce`."""
    from nctheory.reproduce.run import reproduce as _reproduce

    return _reproduce(*args, **kwargs)


__all__ = ["CLAIMS", "CONTRADICTED", "INCONCLUSIVE", "SUPPORTED", "VERDICTS", "ClaimResult", "Finding",
           "check_claims", "reproduce"]
