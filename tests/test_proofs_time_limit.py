"""proofs/conftest.py's time limit stops a proof test, hypothesis or not (pytest-timeout's hook).

A throw-away proof directory gets a copy of proofs/conftest.py and one hypothesis test
whose every example outlasts a 1 s limit. pytest-timeout's own alarm would raise
``pytest.fail``, which hypothesis catches and shrinks on with no second alarm (each
further example here: 30 s); the conftest's :class:`ProofTimeout` must end the test at
the limit and let the run go on to the next test.
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROOFS = Path(__file__).parents[1] / "proofs"

SLOW_PROOF = '''
import time

import pytest
from hypothesis import given, settings, strategies as st


@pytest.mark.timeout(1)
@settings(deadline=None, max_examples=5, database=None)
@given(st.integers())
def test_every_example_outlasts_the_limit(i):
    time.sleep(30)


def test_the_next_test_still_runs():
    assert True
'''


def test_a_hypothesis_proof_test_is_stopped_at_its_limit(tmp_path):
    pytest.importorskip("pytest_timeout")
    shutil.copy(PROOFS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_slow_proof.py").write_text(SLOW_PROOF)
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                             "-c", "/dev/null", str(tmp_path)], check=False, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert "ProofTimeout" in result.stdout and "1 failed, 1 passed" in result.stdout, result.stdout[-3000:]
    assert elapsed < 25, f"took {elapsed:.1f} s: the limit did not stop hypothesis"
