"""Still shading: a smooth, faint change that grows in place without moving is the place's light, not a person.

Traced on the quiet hours' tune seeds (benchmarks section 7c, "kind A" of the
strong-wind leaves' false events): the blurred leaves at the frame's edge,
swaying, shade a patch a little lighter or darker. Its blob is smooth (the log
ratio frame / background has little fine detail: ``looks_like_light``'s first
step) and faint (a departure from 1 of 0.12-0.22), and it stands: its box
grows (seed 29 quiet 10: 11x9 to 23x17 pixels in 7.6 s) but hardly moves, and
little of it changes from one frame to the next. Two such frames in a row
started an event, and once counted it was held out of the background
(``_learn``, HOLD_S) and kept counting while the busy map, seeing a pixel that
stays changed stop flipping, called its place calm. Light it is not taken
for: it is not smooth enough against a plain or textured background
(``looks_like_light``'s steps 3-4), and in steady light step 2 does not apply.

People are rough or strong: every walker's first blob on the tune side
measured a detail of 0.16 and more of its departure, or a departure of 0.34
and more (a uniformly dressed one too: he replaces the background by his
colour). So a blob that is smooth and faint, in a busy place, and not last
frame's motion going on, is *held* (not counted) while it is watched; if it
stands still (its box and the one held on the frame before nest: one lies
inside the other, to STILL_PX) for SHADING_FRAMES frames
in a row it is shading and learnt into the background at once (as light is,
``MotionDetector._absorb``); if it moves, or turns rough or strong, it is
judged as any blob from then on. A person already counted whose blob turns
smooth and faint for a frame stays motion (it overlaps last frame's motion),
so a person who stands still is kept for HOLD_S as before. Quiet places are
untouched where a track starts; a held track goes on whatever the busy map
says of its place (a pixel that stays changed stops flipping).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from quickcam.detector.motion.activity import PERSIST_SCORE, BusyMap, _overlap
from quickcam.detector.motion.lighting import ratio_window

SMOOTH = 0.10  # detail under this share of the departure: smooth (leaves 0.06-0.07; a creeping faint person 0.11+)
FAINT = 0.25  # departure (RMS of the log ratio frame / background) under this: faint (leaves 0.12-0.22, walkers 0.34+)
SHADING_FRAMES = 3  # a held blob still this many frames in a row is shading: learnt at once (2 held, then absorbed)
STILL_PX = 1  # ... still: its box and the one held before it nest, to this many detection-size pixels

Box = tuple[int, int, int, int]  # x, y, width, height at the detection size


def faint_shading(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray, box: Box) -> bool:
    """True if the change in ``box`` is smooth and faint: a gain of under about FAINT with no fine detail.

    The same measure as ``lighting.looks_like_light``'s first step (the log
    ratio's fine detail, what a small blur removes, against its departure),
    on the blob's changed pixels, with a tighter limit (SMOOTH, not
    LIGHTING_ROUGHNESS 0.15): a person dressed within a quarter of the place's
    brightness who creeps out of a swaying curtain measured 0.11-0.14 and was
    held two frames, twice (benchmarks 7c, ``bench/emerging_walkers.py``).
    """
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return False
    _, log_ratio, inner = ratio_window(normal, reference, box)
    departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
    if departure >= FAINT:
        return False
    detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
    return detail < SMOOTH * departure


@dataclass(frozen=True)
class Track:
    box: Box
    still: int  # frames in a row it has been held and still (1 on its first)


def _within(inner: Box, outer: Box) -> bool:
    """True if ``inner`` lies inside ``outer`` grown by STILL_PX on each side."""
    return (inner[0] >= outer[0] - STILL_PX and inner[1] >= outer[1] - STILL_PX
            and inner[0] + inner[2] <= outer[0] + outer[2] + STILL_PX
            and inner[1] + inner[3] <= outer[1] + outer[3] + STILL_PX)


def _nested(a: Box, b: Box) -> bool:
    """True if one box lies inside the other: a patch that grew or shrank in place, not one that moved."""
    return _within(a, b) or _within(b, a)


class StillShading:
    """Which blobs of a frame are held (watched, not counted) and which are shading (absorbed); one frame's memory."""

    def __init__(self, frames: int = SHADING_FRAMES) -> None:
        self.frames = frames
        self.tracks: list[Track] = []  # last frame's held blobs

    def forget(self) -> None:
        self.tracks = []

    def judge(self, boxes: list[Box], moving: list[Box], busy: BusyMap, normal: np.ndarray, reference: np.ndarray,
              changed_mask: np.ndarray) -> list[str]:
        """Per box: "held" (not counted now), "shading" (learn it at once) or "" (judged as any blob).

        ``moving``: the boxes counted on the frame before. A box is watched
        when it overlaps none of ``moving``, its change is ``faint_shading``,
        and its place is busy or it goes on a track held on the frame before;
        it stands still when its box and that track's nest (``_nested``).
        Then remembers the held boxes.
        """
        verdicts, tracks = [], []
        for box in boxes:
            before = [t for t in self.tracks if _overlap(box, t.box)]
            if (any(_overlap(box, old) for old in moving)
                    or not (before or busy.score(box) >= PERSIST_SCORE)
                    or not faint_shading(normal, reference, changed_mask, box)):
                verdicts.append("")
                continue
            if not before:
                count = 1  # a first frame: held, whatever it does next
            elif any(_nested(box, t.box) for t in before):
                count = 1 + max(t.still for t in before)
            else:
                verdicts.append("")  # it moved: judged as any blob from now on
                continue
            if count >= self.frames:
                verdicts.append("shading")
            else:
                verdicts.append("held")
                tracks.append(Track(box, count))
        self.tracks = tracks
        return verdicts
