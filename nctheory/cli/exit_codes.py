"""Exit statuses of the command-line tools (``python -m nctheory.check``, ``--theorem``).

A verdict is a word (:data:`nctheory.verdict.VERDICTS`); turning it into a process's exit
status is the command line's concern, kept here: 0 verified, 1 refuted, 3 inconclusive or
diverged (the run could not decide), 2 bad usage, 130 interrupted (the shell's 128 + SIGINT).
"""

from __future__ import annotations

#: One status per word of :data:`nctheory.verdict.VERDICTS` (tests/test_check_cli.py checks
#: that every verdict has one).
EXIT_CODES = {"verified": 0, "refuted": 1, "inconclusive": 3, "diverged": 3}
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def exit_code(verdict) -> int:
    """The exit status of a :class:`~nctheory.verdict.Verdict` or of a verdict word."""
    return EXIT_CODES[getattr(verdict, "verdict", verdict)]
