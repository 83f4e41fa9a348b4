"""Shared pytest set-up: hypothesis profiles (torch's set-up is in tests/conftest.py).

``ci`` (the default) is derandomized -- the same examples on every run, so CI cannot
flake -- with no per-example deadline (sympy's first call of a kind is slow). ``dev``
explores with fresh randomness and more examples: ``HYPOTHESIS_PROFILE=dev pytest``.
Shrunk counter-examples are printed either way.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
