"""Exceptions raised by nctheory.

Every error that bad input can cause is a ``ValueError`` subclass whose message
names the offending argument and what is allowed, so that command-line entry points
can turn it into a one-line message and exit code 2.
"""


class NCTheoryError(ValueError):
    """Base class of the package's own input errors."""


class UnknownOptimizerError(NCTheoryError, KeyError):
    """An optimizer name that is not registered; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


class HyperparameterError(NCTheoryError):
    """A hyperparameter outside its allowed range, or an unknown hyperparameter."""


class NoLinearRecurrenceError(NCTheoryError):
    """The optimizer's row-sum dynamics are not a linear recurrence.

    Raised for sign-based and adaptive optimizers (SignGD, Adam, AdamW, Lion): their
    update applies a nonlinear map (sign, square root, division) to the gradient, so the
    row sum of the update is not determined by the row sums of weights, gradient and
    buffers (THEORY.md section 4).
    """


class LossNotShiftInvariantError(NCTheoryError):
    """The loss is not invariant under z -> z + c 1_K, so Lemma 1 does not apply."""


class MissingHyperparameterError(NCTheoryError):
    """A numerical answer was asked of a spec whose hyperparameters are still symbolic."""
