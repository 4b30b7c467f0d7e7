"""Did a light just switch, or is it flickering, and which still blobs did it leave behind?

The rest of the motion core compares a frame with the background; this watch
compares it with the frame before: the whole picture's mean brightness (a
switch is a jump of it, a flicker a jump back and forth) and a blob's own
pixels (what a lamp leaves stands still, a person moves). That is how a
lamp's leftovers are told from a person who stands still, which is the one
question it answers. ``MotionDetector`` (``base.py``, step 7) holds one: it
tells it each frame's brightness (``watch``) and each judged frame
(``remember``), and asks it about every blob the gain did not explain
(``armed``, ``still``, ``crept_in``). The rules and constants are benchmarks
section 7c's; the native core mirrors them (``docs/native.md``).
"""

from __future__ import annotations

import statistics
from collections import deque

import cv2
import numpy as np

LIGHT_JUMP = 0.03  # the mean brightness moved this share between two frames: a light switched (a walker: far less)
LIGHT_JUMP_LEVELS = 0.5  # ... and by this many gray levels at least: in the dark 3 % is an encoder's hiccup
FLICKER_K = 4.0  # in a flickering light, a switch is a jump this many times the flicker's own frame-to-frame spread
STILL_SHARE = 0.1  # just after a switch of light, a blob is still if under this share of it moved since the last frame
BIG_SWITCH = 0.25  # a switch lifting the mean by this share at once (a lamp, the IR-cut filter): as a global change

Box = tuple[int, int, int, int]  # x, y, width, height at the detection size


class SwitchWatch:
    """``switched`` and ``flickering``: frames left in which a switch / a jump of light explains a still blob.

    ``context_frames`` (``LIGHT_CONTEXT_S`` in frames) is how long a jump
    keeps the rule armed and how far back the flicker's spread is measured.
    """

    def __init__(self, context_frames: int) -> None:
        self.context_frames = context_frames
        self.switched = 0  # frames left in which a light just switched (the mean brightness jumped out of its flicker)
        self.flickering = 0  # frames left in which the mean jumped LIGHT_JUMP, a switch or only a flicker
        self.last_brightness: float | None = None
        self._steps: deque[float] = deque(maxlen=context_frames)  # recent |frame-to-frame| brightness moves
        self._previous: np.ndarray | None = None  # the last frame at the background's exposure (``still``)

    @property
    def armed(self) -> bool:
        """A still blob may be what the light left behind: a switch or a flicker is in context."""
        return bool(self.switched or self.flickering)

    def watch(self, brightness: float, frames: int = 1) -> bool:
        """Arm ``still`` for LIGHT_CONTEXT_S when the mean brightness jumps between two frames; True on a big switch.

        A lamp switched on or off moves the whole frame's mean by several per
        cent at once; a person walking moves it by a fraction of that (a
        slow fade: a per cent or so a frame). A flickering light (LEDs or tubes
        beating with the exposure, clouds thinning over the sun) moves it by a
        per cent or more every frame, back and forth: taken for a switch, it
        kept ``still`` armed nearly all the time, and a person who stood
        still on his second frame was learnt into the background (benchmarks
        section 7c). So a switch (``switched``) is a jump of LIGHT_JUMP that is
        also FLICKER_K times the light's own spread over the last
        LIGHT_CONTEXT_S (1.4826 x the median frame-to-frame move: a sigma,
        robust to the switch itself); in steady light that spread is a tenth
        of LIGHT_JUMP and changes nothing. A jump of LIGHT_JUMP that is not
        a switch arms ``flickering``: see ``crept_in``. Either must also move
        the mean by LIGHT_JUMP_LEVELS: at a mean of 7 (a dark room) 3 % is a
        fifth of a gray level, which an encoder's rate control gives now and
        then; taken for a switch, it made a dim walker's blob, near still
        from one frame to the next, what the light left behind, and the whole
        picture was learnt with him in it (bench/outside/FINDINGS.md, footage
        check of session 20: a walker lost mid-walk, one standing 16 s never
        seen). ``frames``: source
        frames since the last look; the context counts them down (``looks.py``).

        True when the switch lifted the mean by BIG_SWITCH or more: the motion
        core then takes it as a global change for LIGHT_CONTEXT_S (``base.py``,
        step 7, ``after_global``). The IR-cut filter moving (2-3 x, under
        MAX_GAIN: no global change) as someone came in: his plain blobs were
        light by the context alone and armed it again, onset 1.6-3.3 s
        (bench/outside/FINDINGS.md, defect 80). Not any switch: the real trees
        footage of the tune split has small ones (its exposure), and there a
        leaf's blob, moving, started events (5 in a minute) once the context
        no longer passed it. Nor a light switched off: in a dim room the
        lamp's pool going out, compared with the lit background, changes from
        one frame to the next and started an event (footage check 3,
        ``lamp-on-dim-empty-s208``).
        """
        last, self.last_brightness = self.last_brightness, brightness
        if last is None:
            return False
        step = abs(brightness - last) / max(last, 1.0)
        spread = 1.4826 * statistics.median(self._steps) if self._steps else 0.0
        self._steps.append(step)
        self.switched = max(0, self.switched - frames)
        self.flickering = max(0, self.flickering - frames)
        if step >= LIGHT_JUMP and abs(brightness - last) >= LIGHT_JUMP_LEVELS:
            self.flickering = self.context_frames
            if step >= FLICKER_K * spread:
                self.switched = self.context_frames
                return brightness - last >= BIG_SWITCH * max(last, 1.0)
        return False

    @property
    def previous(self) -> np.ndarray | None:
        """The last judged frame at the background's exposure (None after ``forget``): ``swing`` reads it too."""
        return self._previous

    def remember(self, normal: np.ndarray, buffer: np.ndarray | None) -> None:
        """Keep this frame for ``still``: each frame is a new array, except ``buffer`` (the dark's denoising)."""
        self._previous = normal.copy() if normal is buffer else normal

    def forget(self) -> None:
        """The whole picture changed (a global change): the last frame says nothing of the next one."""
        self._previous = None

    def still(self, normal: np.ndarray, box: Box, area: int, threshold: float) -> bool:
        """True if the blob in ``box`` (``area`` pixels) did not move since the last frame.

        Just after a switch of light, the background may differ from the frame
        in places no gain explains: a highlight the lamp had clipped white, the
        rim of its pool. Such a blob stands still, frame after frame; a person
        moves, and their blob changes between two frames (the frame
        differencing that VSAM paired with background subtraction).
        """
        if self._previous is None:
            return False
        x, y, w, h = box
        moved = cv2.absdiff(normal[y:y + h, x:x + w], self._previous[y:y + h, x:x + w]) > threshold
        return int(np.count_nonzero(moved)) < STILL_SHARE * area

    def moved(self, normal: np.ndarray, box: Box, area: int, threshold: float) -> bool:
        """True if the blob in ``box`` is known to have moved since the last frame (``still`` answers no).

        False without a last frame (just after a global change): nothing is
        known. The motion core asks it of a smooth blob just after a global
        change: a lamp's leftovers stand still, a plain walker who switched
        the lamp on does not (bench/outside/FINDINGS.md, defect 29).
        """
        return self._previous is not None and not self.still(normal, box, area, threshold)


def crept_in(box: Box, moving: list[Box]) -> bool:
    """In a flickering light, True if the blob in ``box`` was not part of last frame's motion (``moving``).

    Armed by the flicker nearly all the time, the stillness rule also kept
    the weather out: a cloud shadow's edge or a curtain's shading creeps
    over the threshold while it hardly moves, so it is still from its
    first frame on and was absorbed there, and each absorption re-learnt
    the whole picture; with the rule disarmed under a flicker (branch
    s4-flicker) they started events (benchmarks 7c, tune side: cloud
    shadows and a curtain under a 1-1.5 % flicker, 5 -> 13 false events).
    A person arrives moving: his first frame counts, and if he stands on
    his second he continues that motion. So in a flicker (not after a
    switch: what a lamp leaves may be counted on its first frame too) a
    still blob that crept in is absorbed as before, and last frame's
    motion standing still counts, the picture re-learnt around it.
    """
    x, y, w, h = box
    return not any(x < bx + bw and bx < x + w and y < by + bh and by < y + h for bx, by, bw, bh in moving)
