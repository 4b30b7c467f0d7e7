"""A line that repeats, said at most once a minute: the first at once, the ones between counted in the next.

A refused item is sent again every ``ack_timeout_s`` and nacked each time: one warning on each side each time
gave 272 lines in 15 s with the uploader's spool unwritable (bench/outside/FINDINGS.md #26). The counts stay in
``quickcam status`` (the uploader's ``nack_*`` counters, the detector's messages sent again). The stream clock's
re-anchorings are held the same way (detector/stream_clock.py; the native detector's twin in stream_clock.cpp).
"""

from __future__ import annotations

import time

SAY_EVERY_S = 60.0


class SaidEvery:
    """When a repeating line is due: ``said()`` gives the suffix to log it with, or None to stay quiet."""

    def __init__(self, every_s: float = SAY_EVERY_S) -> None:
        self.every_s = every_s
        self.said_at: float | None = None  # monotonic, when the line was last said
        self.unsaid = 0  # times since, not said

    def due(self, now: float | None = None) -> bool:
        """Whether the line would be said now (``said`` gives None within ``every_s`` of the last)."""
        now = time.monotonic() if now is None else now
        return self.said_at is None or now - self.said_at >= self.every_s

    def said(self, now: float | None = None) -> str | None:
        """None within ``every_s`` of the last line (counted); else "" or `` (N more time(s) since the last
        line)``, and the line counts as said now."""
        now = time.monotonic() if now is None else now
        if not self.due(now):
            self.unsaid += 1
            return None
        more = f" ({self.unsaid} more time(s) since the last line)" if self.unsaid else ""
        self.said_at, self.unsaid = now, 0
        return more
