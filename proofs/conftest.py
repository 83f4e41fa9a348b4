"""proofs/: a per-test time limit (pytest-timeout) that also stops hypothesis.

The slowest proof test takes about 4 s here (2 cores, idle; ``pytest proofs/
--durations=5``): the engine's closed form compared with 30 hand-iterated steps, and the
closed forms with symbolic hyperparameters. ``PROOF_TIMEOUT_S = 60`` leaves a factor of
15 for a loaded machine and stops a broken engine -- whose wrong expressions sympy may
take minutes to simplify -- after a minute rather than the suite's ``timeout``
(pyproject.toml). A test that needs more says so with its own ``@pytest.mark.timeout``.

pytest-timeout's own signal handler calls ``pytest.fail``, which hypothesis catches as a
failing example and then shrinks -- for up to five more minutes, with no second alarm
(seen with an engine that forgot torch's first-step rule: 309 s). Here the timer raises
:class:`ProofTimeout`, a ``BaseException`` that hypothesis lets through and pytest reports
as a failure of that test; the run goes on with the next one.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

PROOF_TIMEOUT_S = 60
HERE = Path(__file__).parent


class ProofTimeout(BaseException):
    """A proof test ran past its limit (not an ``Exception``: hypothesis must not shrink on it)."""


def _in_proofs(item) -> bool:
    return HERE in Path(str(item.fspath)).parents


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("timeout"):
        return
    for item in items:
        if _in_proofs(item) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(PROOF_TIMEOUT_S))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_timeout_set_timer(item, settings):
    """For proof tests under the signal method: the alarm raises :class:`ProofTimeout`."""
    if not _in_proofs(item) or settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own timer

    def handler(signum, frame):
        raise ProofTimeout(f"{item.nodeid} ran past its {settings.timeout:g} s limit (proofs/conftest.py)")

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # pytest-timeout's cancel hook calls it
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True
