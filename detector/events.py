"""The event state machine: when recording starts, when it stops, when segments cut.

Pure logic on timestamps, no frames or files, so every edge (pre-roll,
post-roll, maximum length) is unit-tested without a camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    NONE = "none"
    START = "start"  # an event begins with this frame (flush the pre-roll first)
    CONTINUE = "continue"  # this frame belongs to the running event
    END = "end"  # the event ended before this frame; this frame is not recorded


@dataclass
class EventClock:
    """Decides, frame by frame, whether we are recording."""

    post_roll_ns: int
    max_event_ns: int
    recording: bool = False
    started_ns: int = 0
    last_motion_ns: int = 0

    def step(self, time_ns: int, motion: bool) -> Action:
        if not self.recording:
            if motion:
                self.recording, self.started_ns, self.last_motion_ns = True, time_ns, time_ns
                return Action.START
            return Action.NONE
        if motion:
            self.last_motion_ns = time_ns
        quiet_too_long = time_ns - self.last_motion_ns > self.post_roll_ns
        too_long = time_ns - self.started_ns > self.max_event_ns
        if quiet_too_long or too_long:
            self.recording = False
            # A long event is cut and, if motion continues, restarts at once.
            return Action.END
        return Action.CONTINUE
