"""Progress of a sweep on stderr: runs done, failed, diverged, runs/s and time left.

On a terminal a ``tqdm`` bar (tqdm is a dependency of the package) counts runs, with the
failed and diverged counts beside it; tqdm's rate and time left are runs per second and the
remaining runs at that rate -- batches finish all at once, so the rate is an average over the
sweep so far, not a per-run measurement. Without a terminal (a log file, CI, a cluster job)
nothing is written while the sweep runs, and one final line at the end (or at an interrupt).
"""

from __future__ import annotations

import sys
import time


class SweepProgress:
    """Counts results as they arrive; :meth:`update` per result, :meth:`close` at the end.

    Args:
        total: runs to execute in this invocation (not counting ``skipped``).
        skipped: runs already done in the store (``--resume``), reported in the final line.
        enabled: False: write nothing at all.
        stream: where to write (stderr).
        label: the sweep's name.
    """

    def __init__(self, total: int, skipped: int = 0, enabled: bool = True, stream=None, label: str = "sweep"):
        self.total, self.skipped, self.enabled, self.label = int(total), int(skipped), bool(enabled), label
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.counts = {"finished": 0, "diverged": 0, "failed": 0}
        self.start = time.perf_counter()
        self._bar = None
        if self.enabled and self.tty and self.total:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, unit="run", file=self.stream, dynamic_ncols=True,
                             mininterval=0.2, smoothing=0.0)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def update(self, result) -> None:
        """Count one result (its ``status``)."""
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if self._bar is not None:
            self._bar.set_postfix(failed=self.counts["failed"], diverged=self.counts["diverged"], refresh=False)
            self._bar.update(1)

    def summary(self, interrupted: bool = False) -> str:
        """The final line: counts, time, runs/s."""
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        parts = [f"{self.label}: {self.done}/{self.total} runs", f"{self.counts['finished']} finished",
                 f"{self.counts['diverged']} diverged", f"{self.counts['failed']} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} already in the store")
        line = ", ".join(parts) + f" in {elapsed:.1f} s ({rate:.2f} runs/s)"
        return line + (" -- interrupted" if interrupted else "")

    def close(self, interrupted: bool = False) -> None:
        """Close the bar and write the final line (when enabled)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.enabled:
            self.stream.write(self.summary(interrupted) + "\n")
            self.stream.flush()
