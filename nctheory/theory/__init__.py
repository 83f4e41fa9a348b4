"""The theory: optimizer specs, their transformations and hyperparameters, losses, the
symbolic engine (:mod:`.symbolic`), float64 predictions and the LaTeX of a spec.

Nothing here trains or imports torch: everything downstream (runs, verdicts, the torch
integration, the command line) is derived from these objects.
"""
