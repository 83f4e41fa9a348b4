"""The command line's limits (issue 8): a --steps that cannot be recorded is refused up front
(exit 2, not a memory traceback with the 'refuted' code), progress without a terminal appears
regularly, lr = 0 is a usage error for a training run, and --help documents defaults and exit codes."""

import io
import time

import pytest

from nctheory.cli import check
from nctheory.cli import progress as progress_module
from nctheory.cli.progress import Progress, memory_problem, record_bytes


def test_huge_steps_are_refused_up_front(capsys):
    started = time.perf_counter()
    assert check.main(["sgd_momentum", "--steps", "1000000000"]) == 2
    assert time.perf_counter() - started < 10  # before: 28 s, then a MemoryError and exit 1
    err = capsys.readouterr().err
    assert "--steps" in err and "GiB" in err and "at most about" in err and "Traceback" not in err


def test_memory_estimate():
    assert record_bytes(10, 4) == 11 * 6 * 8 * 4 + 10 * progress_module.PER_STEP_BYTES
    assert memory_problem(1000, 64, available=2 ** 30) is None
    message = memory_problem(10 ** 9, 64, available=2 ** 30)
    assert "at most about" in message
    fits = int(message.rsplit("about ", 1)[1].split()[0])
    assert memory_problem(fits, 64, available=2 ** 30) is None and memory_problem(2 * fits, 64, available=2 ** 30)


def test_lr_zero_is_a_usage_error_for_a_run(capsys):
    assert check.main(["sgd_momentum", "--lr", "0", "--steps", "5"]) == 2
    assert "lr = 0 moves nothing" in capsys.readouterr().err


def test_help_lists_defaults_and_exit_codes():
    text = check.build_parser().format_help()
    for fragment in ("exit status: 0 verified, 1 refuted, 3 inconclusive or diverged, 2 bad usage",
                     "(default: ufm)", "(default: 0)", "default: 16 for linear theories",
                     "K (default: 5", "label smoothing (default: 0"):
        assert fragment in " ".join(text.split()), fragment


def test_progress_without_a_terminal_is_regular(monkeypatch):
    """Not a tty: a line at every quarter *and* at least every every_s seconds (before: only at
    the quarters, so a long run was silent for hours)."""
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: clock[0])
    out = io.StringIO()
    p = Progress("training", stream=out, after_s=2.0, every_s=10.0)
    steps = 1_000_000
    for step in range(1, 2001):  # 2,000 steps at 0.1 s each: 200 s, only 0.2% of the run
        clock[0] += 0.1
        p(step, steps)
    lines = out.getvalue().splitlines()
    assert 15 <= len(lines) <= 21 and all(line.startswith("training: step") for line in lines)
    assert "s left" in lines[-1]
    p.done()
    assert not out.getvalue().endswith("\n\n")


def test_progress_on_a_terminal_uses_tqdm():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    p = Progress("training", stream=out, after_s=0.0)
    for step in range(1, 101):
        p(step, 100)
    p.done()
    assert "100/100" in out.getvalue() and "step" in out.getvalue()


@pytest.mark.parametrize("enabled", [False])
def test_quiet_progress_prints_nothing(enabled):
    out = io.StringIO()
    p = Progress("x", enabled=enabled, stream=out, after_s=0.0)
    p(1, 2)
    p.done()
    assert out.getvalue() == ""
