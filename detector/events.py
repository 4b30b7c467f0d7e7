"""The event state machine: when an event starts, when it ends.

Pure logic on timestamps, no frames or files, so every edge (trigger, pre-roll
anchor, post-roll, minimum and maximum length) is unit-tested without a camera.
Segments and pre-roll are the recorder's business; it is told only where the
event starts (``onset_ns``, the first of the triggering motion frames) and
where it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    NONE = "none"
    START = "start"  # an event begins; it covers from ``onset_ns`` (minus pre-roll)
    CONTINUE = "continue"  # the event runs on
    END = "end"  # the event ended at ``end_ns``; this frame is not part of it


@dataclass
class EventClock:
    """Decides, detection by detection, whether an event is running.

    - ``trigger_frames`` consecutive detections with motion start an event
      (one frame of noise is not an intruder);
    - it ends ``post_roll_ns`` after the last motion, but never before
      ``min_event_ns`` after its start;
    - an event longer than ``max_event_ns`` is cut; if motion goes on, the
      next detection with motion starts a new one at once.
    """

    post_roll_ns: int
    max_event_ns: int
    min_event_ns: int = 0
    trigger_frames: int = 1
    recording: bool = False
    started_ns: int = 0
    onset_ns: int = 0
    last_motion_ns: int = 0
    end_ns: int = 0
    _streak: int = 0
    _streak_start_ns: int = 0

    def step(self, time_ns: int, motion: bool) -> Action:
        if not self.recording:
            if not motion:
                self._streak = 0
                return Action.NONE
            if self._streak == 0:
                self._streak_start_ns = time_ns
            self._streak += 1
            if self._streak < self.trigger_frames:
                return Action.NONE
            self._streak = 0
            self.recording = True
            self.started_ns = self.last_motion_ns = time_ns
            self.onset_ns = self._streak_start_ns
            return Action.START
        if motion:
            self.last_motion_ns = time_ns
        quiet_too_long = time_ns - self.last_motion_ns > self.post_roll_ns
        long_enough = time_ns - self.onset_ns >= self.min_event_ns
        too_long = time_ns - self.onset_ns > self.max_event_ns
        if (quiet_too_long and long_enough) or too_long:
            self.recording = False
            self.end_ns = time_ns
            return Action.END
        return Action.CONTINUE

    def motion_until(self, time_ns: int) -> None:
        """Motion seen at the last detection may have gone on until ``time_ns`` (frames between detections
        were not looked at): the post-roll counts from there."""
        if self.recording:
            self.last_motion_ns = max(self.last_motion_ns, time_ns)

    def begin(self, onset_ns: int, time_ns: int) -> bool:
        """Start an event at ``time_ns`` with no motion (the view guard saw the camera blinded); False if one runs.

        Its footage starts from ``onset_ns`` (minus the pre-roll): when the view began to go, the
        hand or the person before it. It ends ``post_roll_ns`` after ``time_ns`` unless motion follows.
        """
        if self.recording:
            return False
        self._streak = 0
        self.recording = True
        self.started_ns = self.last_motion_ns = time_ns
        self.onset_ns = min(onset_ns, time_ns)
        return True

    def cut(self, time_ns: int) -> bool:
        """The source is gone: a running event ends at ``time_ns`` and a trigger streak starts over.

        True when an event was running (its end is ``end_ns``).
        """
        self._streak = 0
        if not self.recording:
            return False
        self.recording = False
        self.end_ns = time_ns
        return True
