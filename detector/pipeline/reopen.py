"""When to reopen a source that went away: at once after a steady run, with backoff after a short one.

A camera that drops once after hours is reopened at once (no second of it is
missed needlessly). A source that goes away soon after every open (a stream
URL that serves a short file and ends, a camera that drops each connection)
would otherwise be reopened in a tight loop, hundreds of times a second: the
wait before each reopen doubles from ``REOPEN_FIRST_S`` up to ``reopen_max_s``
until a run lasts ``STEADY_S``. The native detector follows the same rule
(``camera.cpp``). Failed opens have their own backoff (``capture.py``).
"""

from __future__ import annotations

REOPEN_FIRST_S = 0.5
STEADY_S = 10.0  # a source that ran this long since it opened is reopened at once when it goes away


class ReopenPace:
    """Fed when the source opened and when it went away; says how long to wait before reopening."""

    def __init__(self, reopen_max_s: float) -> None:
        self.max_s = reopen_max_s
        self.next_s = min(REOPEN_FIRST_S, reopen_max_s)
        self.opened_at: float | None = None

    def opened(self, now: float) -> None:
        self.opened_at = now

    def wait_s(self, now: float) -> float:
        """Seconds to wait before reopening a source that went away at ``now`` (0: at once)."""
        if self.opened_at is None or now - self.opened_at >= STEADY_S:
            self.next_s = min(REOPEN_FIRST_S, self.max_s)
            return 0.0
        wait, self.next_s = self.next_s, min(self.next_s * 2, self.max_s)
        return wait
