"""Light that only adds to a dark room, and the trail it leaves: a window's panes swept by headlights.

A car's headlights through a window cast its panes sharp on the walls of a
dark room and sweep them across in a second or two (bench/outside/FINDINGS.md,
defect 81). The pane's blob is smooth but its outline is a jump, as a plain
walker's is, so ``looks_like_light`` cannot tell it by its shape, and on its
first look no light context is armed. Nor once `_absorb` has taken the lit
frame: the place the pane left (the dark room's denoised frame fading back
over a few frames) is a darker blob, rough with the mullions' lines.

What tells it is the level, pixel by pixel, against the room as it was before
the light came (``before``, the background ``_absorb`` replaced, kept for
TRAIL_S after the last one):

- a pixel lit up: at least LIT_UP x brighter than the background (the log
  ratio's offset added), the dark room's wall under a strong light; or
- a pixel the light is leaving: the background there was lit (over twice
  the threshold above ``before``) and the frame is on its way back to
  ``before``, never darker than it by more than the threshold.

A blob is light if TRAIL_SHARE of its changed pixels are one or the other and
the room behind it was dark (``before``, or the background, under DARK_ROOM).
A person in a dark room is not lit up 1.5 x over every pixel of the wall he
hides (the light that lights him lights the wall), and one walking where the
light was is darker than the room before it on his dark clothes; a person
lit up brighter than the wall by a light of his own (a torch on himself) would be taken for
light here, as the trail's tests on the tune split and the lamp, torch and IR
kinds of footage_check.py did not show.
"""

from __future__ import annotations

import numpy as np

from quickcam.detector.motion.lighting import RATIO_OFFSET

LIT_UP = 1.5  # a pixel lit up: (frame + offset) over this many times (background + offset)
TRAIL_S = 0.25  # the room before the light is kept this long after the last ``_absorb``
TRAIL_SHARE = 0.9  # a blob is light if this share of its changed pixels are lit up or left by the light
DARK_ROOM = 20.0  # only where the room behind the blob was darker than this (mean gray)


class LightTrail:
    """The room as it was before a light swept it, and the test of a blob against it."""

    def __init__(self, fps: float) -> None:
        self.frames = max(1, round(TRAIL_S * fps))
        self.before: np.ndarray | None = None  # the background before the light, darkest of a run of absorbs
        self.age = 0  # frames since the last absorb

    def reset(self) -> None:
        """A new background (a global change): nothing before it."""
        self.before, self.age = None, 0

    def tick(self, frames: int) -> None:
        """``frames`` more source frames since the last absorb."""
        self.age += frames

    def remember(self, reference: np.ndarray, light_context: bool) -> None:
        """``_absorb`` is about to replace ``reference``: keep the darkest of it and what came before this run."""
        if self.before is None or self.age > self.frames or not light_context:
            self.before = reference.copy()
        else:
            np.minimum(self.before, reference, out=self.before)
        self.age = 0

    def explains(self, normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray,
                 box: tuple[int, int, int, int], threshold: float, light_context: bool) -> bool:
        """True if the blob in ``box`` is light lighting up a dark room, or leaving it (the module's docstring)."""
        x, y, w, h = box
        pick = changed_mask[y:y + h, x:x + w] > 0
        count = int(pick.sum())
        if count < 16:
            return False
        cur = normal[y:y + h, x:x + w][pick]
        ref = reference[y:y + h, x:x + w][pick]
        recent = self.before is not None and light_context and self.age <= self.frames
        base = self.before[y:y + h, x:x + w][pick] if recent else ref
        if float(np.mean(base, dtype=np.float64)) >= DARK_ROOM:
            return False
        lit_up = (cur + RATIO_OFFSET) > LIT_UP * (ref + RATIO_OFFSET)
        leaving = (ref - base) > 2 * threshold
        explained = int(np.count_nonzero((cur >= base - threshold) & (lit_up | leaving)))
        return explained / count > TRAIL_SHARE
