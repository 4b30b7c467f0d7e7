"""Wall-clock times for footage that never run backwards: the detector's one clock for frame stamps.

A frame's ``time_ns`` is both a label (when it happened, in headers, journal
lines and storage names) and the ruler of every duration in the pipeline: the
pre-roll, the post-roll that ends an event, the segment length, the idle
detection rate, the measured frame rate. Read straight from the system clock,
a step of that clock (NTP correcting a board that booted without a real-time
clock, an operator's ``date -s``) reached all of them: stepped back an hour,
frame times ran backwards, so no segment was cut and no event ended for an
hour, the pre-roll was never trimmed, the measured rate went negative and the
link thread failed on the status it could not encode.

So frames are stamped from the monotonic clock plus an offset to the wall
clock taken once (the same rule as ``time.monotonic()`` for durations, with a
wall-clock origin for labels):

- a step *forward* is followed at once, with one warning: the pipeline sees a
  gap, the event running then ends and the next motion starts a new one;
- a step *back* is not followed: footage keeps counting from before the step,
  ahead of the system clock by the step, with one error line per step, until
  the detector restarts (then it starts from the clock as it is).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

STEP_NS = 1_000_000_000  # the wall clock this far from ours is a step, not drift (NTP slews both clocks alike)


class FootageClock:
    """Wall-clock nanoseconds that advance with the monotonic clock and follow only forward steps."""

    def __init__(self) -> None:
        self._offset_ns = time.time_ns() - time.monotonic_ns()
        self._lock = threading.Lock()
        self.ahead_ns = 0  # how far ahead of the system clock footage times run after a step back

    def now_ns(self) -> int:
        with self._lock:
            monotonic, wall = time.monotonic_ns(), time.time_ns()
            ours = monotonic + self._offset_ns
            ahead = ours - wall
            if -ahead > STEP_NS:
                log.warning("clock: the system clock stepped forward by %.0f s; footage times follow it (an "
                            "event running now ends, the next motion starts a new one)", -ahead / 1e9)
                self._offset_ns, self.ahead_ns, ours = wall - monotonic, 0, wall
            elif ahead > self.ahead_ns + STEP_NS:
                log.error("clock: the system clock stepped back by %.0f s; footage times keep counting from "
                          "before the step (%.0f s ahead of the system clock) so that segments, events and the "
                          "pre-roll stay whole; restart the detector to label footage by the clock again "
                          "(check NTP)", (ahead - self.ahead_ns) / 1e9, ahead / 1e9)
                self.ahead_ns = ahead
            elif ahead < self.ahead_ns - STEP_NS:  # a smaller step forward took back part of it
                self.ahead_ns = max(0, ahead)
            return ours


_CLOCK = FootageClock()  # one per process: every source's frames on one time line, across reopens


def footage_ns() -> int:
    """Now, for stamping a frame or packet: the wall clock, but never stepping back (see the module's docstring)."""
    return _CLOCK.now_ns()


def ahead_s() -> float:
    """How far footage times run ahead of the system clock after it stepped back (0 normally), for status."""
    return round(_CLOCK.ahead_ns / 1e9, 1)
