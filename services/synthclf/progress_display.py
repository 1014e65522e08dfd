"""Showing job progress to a person: a tqdm bar per stage on a terminal, and throttled log lines.

Clients hand every streamed :class:`~synthclf.core.progress.Progress` event to a
:class:`ProgressReporter`: on a TTY it drives one tqdm bar per stage; in every case it logs a
line when a stage starts, about every 10 % of its units or 30 s, and when it ends — not one line
per LLM request.
"""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

from synthclf.core.progress import Progress

log = logging.getLogger("synthclf.progress")
#: Log a line at least this often (seconds) while a stage runs.
LOG_EVERY_S = 30.0
#: …and every time this share of the stage's units is done.
LOG_EVERY_SHARE = 0.1


class ProgressReporter:
    """A :data:`~synthclf.core.progress.ProgressFn` that shows bars and logs milestones.

    Args:
        bars: draw tqdm bars; default: only when stderr is a terminal.
    """

    def __init__(self, bars: bool | None = None):
        self.bars = sys.stderr.isatty() if bars is None else bars
        self._bar: tqdm | None = None
        self._stage = ""
        self._last_log = 0.0
        self._last_share = -1.0

    def __call__(self, event: Progress) -> None:
        """Show one event."""
        if event.stage != self._stage:
            self.close()
            self._stage = event.stage
            self._last_share, self._last_log = -1.0, 0.0
            if self.bars:
                self._bar = tqdm(total=event.total or None, desc=event.stage, unit=f" {event.unit}".rstrip())
        if self._bar is not None:
            if event.total and self._bar.total != event.total:
                self._bar.total = event.total
            self._bar.n = event.done
            if event.metrics:
                self._bar.set_postfix({k: round(v, 4) for k, v in list(event.metrics.items())[:4]}, refresh=False)
            self._bar.refresh()
        self._maybe_log(event)

    def _maybe_log(self, event: Progress) -> None:
        now = time.monotonic()
        share = event.done / event.total if event.total else 0.0
        finished = bool(event.total) and event.done >= event.total
        if finished or share - self._last_share >= LOG_EVERY_SHARE or now - self._last_log >= LOG_EVERY_S:
            total = f"/{event.total}" if event.total else ""
            log.info("[%s %d%s %s] %s", event.stage, event.done, total, event.unit, event.message)
            self._last_share, self._last_log = share, now

    def close(self) -> None:
        """Close the current bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
