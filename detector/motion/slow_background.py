"""A slow second background: a slow mover is not learnt before he makes a blob.

The background learns ``learning_rate`` of each frame (a time constant of
about 2 s): it must follow what the gain does not divide out (a shadow
drifting, the sensor warming). A person crawling in along the floor moves
a quarter of a pixel a frame at the detection width: the background learns
his body as it comes, only the strip his leading edge uncovered in the last
second still differs, too small for a blob, and ``_learn``'s hold keeps a
person's pixels only once he is motion (bench/outside/FINDINGS.md, defect
39: seen 15-21 s late at night). An upright person of the same speed leaves
a strip three times as tall and is seen at once.

So a second background learns at SLOW_RATE (a time constant of about 17 s
at 12 fps). Where a pixel is off it by more than the threshold, raised
where the place is busy as ``activity.BusyMap`` raises it, the main
background does not learn it: what came in since is kept as a change until
this one has taken it in too. A crawler's body then stays changed and makes
a blob; noise stays under the threshold; a change of light is divided out
by the gain, restarts both backgrounds (a global change) or is taken into
both at once (``absorb``). The raise: a curtain's pixels are off any mean
most of the time, and held at the plain threshold the background stopped
following the curtain (held-out "small before a curtain": onset worst 30
-> 47 frames, time recorded 0.96 -> 0.83; raised: 8 frames, 1.00). It
costs a faint crawler: his edge flips his own pixels over the threshold
and back, and in the busy map's first seconds (a plain mean) a few flips
make his place busy (drawn crawler at night: seen after 28 frames raised,
3 not). Fed the frame at the background's exposure; holds nothing but its
picture.

Session 23: held at HELD_SHARE of the threshold (a faint body at night
flickers across it and each look under it was learnt); the pixels held
since the last reset or absorb are ``kept``, and a new blob on them is
light if it has the shape of light against the slow picture (``base.py``,
``_slow_light``); an absorb starts the counts again.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.detector.motion.activity import BUSY_FLOOR, BUSY_FULL, BUSY_GAIN, BusyMap

SLOW_RATE = 0.005  # the slow background's learning rate per look (as ``learning_rate``: looks.py)
HELD_AFTER = 2  # looks in a row a pixel must be off the slow picture before it is held (not a passing speck)
HELD_SLOPE = 0.33  # a held blob is light if its ratio to the slow picture is this soft (LIGHTING_SLOPE: 0.25)
HELD_TEXTURE = 0.75  # ... or its texture shows through this much (``lighting.TEXTURE_KEPT``: 0.5)
HELD_SHARE = 0.75  # held when off the slow picture by this share of the threshold: a faint body flickers across it


class SlowBackground:
    """The picture learnt at SLOW_RATE, and which pixels the main background must not learn yet."""

    def __init__(self) -> None:
        self.picture: np.ndarray | None = None  # float32, at the detection size and the background's exposure
        self._off: np.ndarray | None = None  # uint8 per pixel, looks in a row off the picture (at most HELD_AFTER)
        self.kept: np.ndarray | None = None  # bool per pixel, held at some look since the picture was last reset

    def reset(self, frame: np.ndarray) -> None:
        """Start again from ``frame`` (the main background restarted: at start, after a global change)."""
        self.picture = frame.astype(np.float32)
        self._off = self.kept = None

    def held(self, normal: np.ndarray, threshold: float, busy: BusyMap) -> np.ndarray | None:
        """Pixels off the slow picture by more than the threshold (raised where busy) HELD_AFTER looks in a row.

        Those are not learnt now (None: none). In a row: an insect or a
        flake crossing is off for a look or two, and holding its trail out
        of the background changed what the glint and speck tests saw
        (``test_insects``: a round speck, never an event, two looks of motion).
        """
        if self.picture is None or self.picture.shape != normal.shape:
            return None
        off = cv2.absdiff(normal, self.picture)
        threshold = threshold * HELD_SHARE
        if busy.busy is None or busy.busy.shape != off.shape:
            held = off > threshold
        else:  # (float32 throughout, as the native core computes it)
            raise_by = np.clip((busy.busy - BUSY_FLOOR) * (1.0 / (BUSY_FULL - BUSY_FLOOR)), 0.0, 1.0)
            held = off > threshold * (1.0 + BUSY_GAIN * raise_by)
        if self._off is None or self._off.shape != held.shape:
            self._off = np.zeros(held.shape, np.uint8)
        self._off = np.where(held, np.minimum(self._off + 1, HELD_AFTER), 0).astype(np.uint8)
        held = self._off >= HELD_AFTER
        self.kept = held.copy() if self.kept is None else self.kept | held
        return held if held.any() else None

    def learn(self, frame: np.ndarray, rate: float, clipped: np.ndarray | None) -> None:
        """Fold ``frame`` in at ``rate`` (SLOW_RATE, or the main rate while it re-learns), except ``clipped``."""
        if self.picture is None or self.picture.shape != frame.shape:
            self.reset(frame)
        elif clipped is None:
            cv2.accumulateWeighted(frame, self.picture, rate)
        else:
            cv2.accumulateWeighted(frame, self.picture, rate, mask=np.where(clipped, 0, 255).astype(np.uint8))

    def absorb(self, normal: np.ndarray, keep: list[tuple[int, int, int, int]]) -> None:
        """Light changed somewhere and the main background took ``normal`` at once: so does this one, but ``keep``."""
        if self.picture is None or self.picture.shape != normal.shape:
            self.reset(normal)
            return
        saved = [(box, self.picture[box[1]:box[1] + box[3], box[0]:box[0] + box[2]].copy()) for box in keep]
        self.picture[:] = normal
        self._off = self.kept = None
        for (x, y, w, h), patch in saved:
            self.picture[y:y + h, x:x + w] = patch
