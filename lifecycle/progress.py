"""Progress lines for long bulk jobs (`lifecycle seed`), written to stderr at a bounded rate.

Why throttled by time rather than by row count: a million-row seed reports in chunks of 20,000
rows that arrive a few times a second, while a slow disk or a remote database may take seconds
per chunk; one line per interval keeps the terminal readable and the log small either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Counts done units against a known total and reports the count and rate now and then."""

    def __init__(self, total: int, stream: TextIO, *, label: str = "records",
                 interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._label = label
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_report = self._started

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def rate(self) -> float:
        """Units per second so far (0 before any time has passed)."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def add(self, n: int) -> None:
        """Record `n` more units; print a line when the last one is `interval` seconds old."""
        self.done += n
        now = self._clock()
        if now - self._last_report >= self._interval:
            self._last_report = now
            self._report()

    def _report(self) -> None:
        percent = 100.0 * self.done / self.total if self.total else 100.0
        print(f"seed: {self.done:,}/{self.total:,} {self._label} ({percent:.0f}%, "
              f"{self.rate():,.0f}/s)", file=self._stream, flush=True)
