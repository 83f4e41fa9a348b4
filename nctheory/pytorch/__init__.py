"""The torch integration: torch optimizers from specs, ``from_torch`` (the spec of a live
``torch.optim`` optimizer) and the tracker for a user's own training loop.

Layering: ``spec_optimizer`` and ``from_torch`` sit just above :mod:`nctheory.theory`
(runs use them); ``tracker`` sits at the top with the command line, beside
:mod:`nctheory.render`, which it uses.
"""
