"""What the status messages and the log say about a camera (plain values, written by the stages)."""

from __future__ import annotations

from dataclasses import dataclass

OPEN_SLOW_S = 5.0  # an open running this long is said in the fault and counted (a stream may take its 10 s timeout)


@dataclass
class CameraStats:
    """Counters and the capture state; ``CameraPipeline.status()`` adds the health of each loop."""

    state: str = "starting"  # starting, ok, lost (worked, then went away), failing (never opened), ended
    dark: bool = False
    frames: int = 0
    dropped: int = 0  # frames detection skipped because it was behind (all are still recorded)
    dropped_recording: int = 0  # frames lost to recording because the encoder was far behind
    fps: float = 0.0
    width: int = 0
    height: int = 0
    events: int = 0
    last_event_ms: int = 0
    reopens: int = 0
    faces: int = 0
    opened: bool = False  # the source has delivered at least once since start
    open_error: str = ""  # why it cannot be opened, with the likely fix
    source_opened: bool = False  # an open of the source has returned success (frames or not)
    opening_since: float = 0.0  # (monotonic) when the open under way began; 0 while none is
    slow_opens: int = 0  # opens that ran OPEN_SLOW_S or more (returned or not) since start
    slow_counted: float = 0.0  # the opening_since of the last open counted in slow_opens
    lost_why: str = ""  # why it is blind (a stream's words; then "reopened, waiting ..."), until a picture comes
    retrying: str = ""  # while a source that would not open is retried: how often, how many times so far
    abandoned: bool = False  # a file analysed fast went away or was cut short mid-analysis: not read to its end
    recording: bool = False  # an event is open (the console shows it)
    view: str = "ok"  # the view guard's verdict: ok, blocked, moved, frozen (detector/pipeline/view_guard.py)
    view_fault: str = ""  # what the camera cannot see, in words, while it cannot
    view_faults: int = 0  # view faults since start
    faces_off: str = ""  # why faces are off although configured (a model that cannot be used), with the fix
    snapshots_failed: int = 0  # snapshots not made: their JPEG encoding or their write failed (not a full disk)
    # an event's frames seen while a detect_path's recorded stream (path) was away: nothing to record them from
    # (part of not_recorded; before, not counted anywhere)
    recorded_away: int = 0

    def opening_for(self, now: float) -> float:
        """How long the open under way has been running (0: none is): an open that never returns shows here."""
        return now - self.opening_since if self.opening_since else 0.0

    def slow_open_s(self, now: float) -> float:
        """How long the open under way has run once that is ``OPEN_SLOW_S`` or more (else 0); counted once.

        Called with each status and as the open returns, so that an open that never returns is counted
        too (it said ``still opening after N s`` in the fault, and was gone from the counters).
        """
        opening = self.opening_for(now)
        if opening < OPEN_SLOW_S:
            return 0.0
        if self.slow_counted != self.opening_since:
            self.slow_counted = self.opening_since
            self.slow_opens += 1
        return opening

    def never_delivered(self, now: float) -> str:
        """Why a camera that delivered no frame did not, for the stop's line: only what is known."""
        if self.open_error:
            return self.open_error
        if self.opening_since:
            return (f"its open had not returned after {self.opening_for(now):.0f} s: a disk, device or server "
                    "that does not answer")
        return "opened, but no frame came" if self.source_opened else "stopped before it opened"

    def as_status(self) -> dict:
        return {"state": self.state, "dark": self.dark, "fps": round(self.fps, 2), "frames": self.frames,
                "dropped": self.dropped, "dropped_recording": self.dropped_recording,
                "width": self.width, "height": self.height, "events": self.events,
                "last_event_ms": self.last_event_ms, "reopens": self.reopens, "faces": self.faces,
                "recording": self.recording, "view": self.view, "view_faults": self.view_faults,
                "snapshots_failed": self.snapshots_failed, "slow_opens": self.slow_opens}
