"""Opt-in ``[motion] idle_detect_fps``: fewer looks while nothing moves, every frame as soon as something does.

Watching a quiet scene, the motion core is about a third of a camera's CPU
(docs/benchmarks.md section 12b); decoding must go on for every frame (each
H.264 frame is predicted from the one before), detection need not. With
``idle_detect_fps`` set, a camera is looked at only that often while no event
runs, the last look saw no motion (nor motion held back for the person check)
and it is not dark (in the dark a person is a few gray levels, seen by
averaging frames: every frame counts there); the first look that shows motion
brings back every frame. So motion is first looked at no more than one idle
interval (``1 / idle_detect_fps`` s) after it starts, and the frames in
between are still recorded: only detection skips them. Off by default
(Frigate's ``detect.fps`` is the same trade).

The motion core then learns from fewer frames a second (the background, the
map of busy areas such as swaying trees), so in a busy scene an onset can come
later than that; docs/benchmarks.md section 12c gives the measured cost in
recall, onset and false events. Its counters (the light context, re-learning
after a switch, the hold) run in real time all the same: the detect stage
tells it how many frames passed since its last look (``motion/looks.py``).
"""

from __future__ import annotations

SLACK_NS = 5_000_000  # a frame this early is taken as on time: 15 fps at 5 looks keeps every third frame


class IdleRate:
    """Says which frames detection looks at; ``fps`` None looks at every frame."""

    def __init__(self, fps: float | None) -> None:
        self.period_ns = int(1e9 / fps) if fps else 0
        self.next_ns = 0

    def look(self, time_ns: int, busy: bool) -> bool:
        """True if the frame at ``time_ns`` is looked at; ``busy``: an event runs, the last look saw motion, or
        the picture is dark."""
        if not self.period_ns or busy or time_ns + SLACK_NS >= self.next_ns:
            self.next_ns = time_ns + self.period_ns
            return True
        return False
