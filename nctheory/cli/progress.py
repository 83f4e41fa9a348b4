"""Progress of long work on stderr, for the command-line tools, and the memory a run needs.

:class:`Progress` is a ``callable(step, steps)`` (the ``progress`` of a
:class:`~nctheory.runs.training.RunConfig`). It stays silent for the first
:data:`PROGRESS_AFTER_S` seconds (short runs print nothing), then:

* on a terminal: a ``tqdm`` bar (steps, rate, time left), or a one-line counter rewritten in
  place where tqdm is not installed;
* without a terminal (a log file, CI, ``nohup``): one line per quarter of the run *and* at
  least every :data:`PROGRESS_EVERY_S` seconds, so a long run shows it is alive regularly.

:func:`record_bytes` estimates the memory the records of a run take (row sums of every step,
the learning rates, the per-step norms), so that the command line can refuse a ``--steps``
that cannot fit before it starts (exit 2) instead of dying with a memory error mid-run.
"""

from __future__ import annotations

import math
import os
import sys
import time

#: Seconds of silence before any progress is shown.
PROGRESS_AFTER_S = 2.0
#: Without a terminal, a progress line at least this often (seconds).
PROGRESS_EVERY_S = 10.0
#: Bytes per step besides the row sums: loss, learning rate, ~8 per-step norms (float64 each)
#: and the Python float of a learning-rate schedule (object + list slot).
PER_STEP_BYTES = 8 * 10 + 32
#: A run may use at most this fraction of the memory available when it starts.
MEMORY_FRACTION = 0.5


class Progress:
    """Progress on stderr once a phase has run for :data:`PROGRESS_AFTER_S` seconds (module docstring)."""

    def __init__(self, label: str, enabled: bool = True, stream=None, after_s: float = PROGRESS_AFTER_S,
                 every_s: float = PROGRESS_EVERY_S):
        self.label, self.enabled = label, enabled
        self.stream = sys.stderr if stream is None else stream
        self.after_s, self.every_s = after_s, every_s
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = None
        self.last = 0.0
        self.shown = False
        self.next_fraction = 0.25
        self._bar = None

    def __call__(self, step: int, steps: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.start is None:  # the clock starts at the first step (set-up is not training)
            self.start = now
        elapsed = now - self.start
        if elapsed < self.after_s:
            return
        fraction = step / steps
        if self.tty:
            self._terminal(step, steps, now, elapsed, fraction)
        elif fraction >= self.next_fraction or step == steps or now - self.last >= self.every_s:
            left = elapsed / max(fraction, 1e-12) - elapsed
            self.stream.write(f"{self.label}: step {step}/{steps} ({100 * fraction:.0f}%), {elapsed:.1f} s, "
                              f"~{left:.0f} s left\n")
            self.stream.flush()
            self.next_fraction = math.floor(fraction * 4 + 1) / 4
            self.last, self.shown = now, True

    def _terminal(self, step, steps, now, elapsed, fraction):
        if self._bar is None:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=steps, desc=self.label, file=self.stream, mininterval=0.2, unit="step",
                                 leave=True, dynamic_ncols=True)
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self.shown = True
            return
        if now - self.last >= 0.2 or step == steps:
            left = elapsed / max(fraction, 1e-12) - elapsed
            self.stream.write(f"\r{self.label}: step {step}/{steps} ({100 * fraction:.0f}%), "
                              f"{elapsed:.1f} s, ~{left:.0f} s left   ")
            self.stream.flush()
            self.last, self.shown = now, True

    def done(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.shown and self.tty:
            self.stream.write("\n")


#: float64 arrays of ``(steps + 1) x dim`` alive at once: the row sums on the device and on the
#: host, the prediction, and the verdict's predicted state and error (noise.py; state <= 2 here).
ROW_SUM_COPIES = 6


def record_bytes(steps: int, dim: int) -> int:
    """Bytes a run of ``steps`` steps with ``dim`` row-sum coordinates needs to be recorded and
    judged: :data:`ROW_SUM_COPIES` float64 arrays of ``(steps + 1) x dim`` plus
    :data:`PER_STEP_BYTES` per step."""
    return int((steps + 1) * ROW_SUM_COPIES * 8 * dim + steps * PER_STEP_BYTES)


def available_bytes() -> int | None:
    """Memory available to a new allocation now (Linux ``MemAvailable``; else physical memory)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def memory_problem(total_steps: int, dim: int, available: int | None = None) -> str | None:
    """Why ``total_steps`` steps (all runs of a check together) cannot be recorded in memory,
    with the largest count that can; None when they fit in :data:`MEMORY_FRACTION` of it."""
    available = available_bytes() if available is None else available
    if available is None:
        return None
    need, budget = record_bytes(total_steps, dim), MEMORY_FRACTION * available
    if need <= budget:
        return None
    per_row = ROW_SUM_COPIES * 8 * dim  # record_bytes(n) <= budget  <=>  n <= (budget - per_row) / (per_row + per_step)
    fits = max(0, int((budget - per_row) // (per_row + PER_STEP_BYTES)))
    return (f"{total_steps} steps would need about {need / 2 ** 30:.1f} GiB to record (row sums of {dim} coordinates "
            f"and the per-step values, every step), more than {MEMORY_FRACTION:.0%} of the "
            f"{available / 2 ** 30:.1f} GiB available: at most about {fits} steps in all fit")
