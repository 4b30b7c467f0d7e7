"""Busy places: where the picture flickers (leaves, a curtain, water), a change must be larger to count.

Motion's "smart mask" masks pixels that change often; a hard mask would also
blind the camera to a person walking in front of the tree. Here each pixel
keeps how often it *flipped* lately (changed this frame and not the last, or
the reverse: an exponential average over about BUSY_S), and where that is
over BUSY_FLOOR the threshold is raised, up to (1 + BUSY_GAIN) times at
BUSY_FULL, and compared with the background's range over a 5x5
neighbourhood (leaves sway by a few pixels). Flips, not the share of time
changed: a person covering a pixel flips it twice (in, out), even a slow one;
leaves flip it again and again for as long as the wind blows. A person
differs from the leaves behind them by more than the leaves differ from each
other, so they still show through (bench: "walker before trees").

Tuned on the corpus's tune split (bench/detection_corpus.py): real tree
footage 8 -> 0 false events a minute, no walker lost (held-out: 8 -> 2; 0 with
``Persistence`` below). Functional: fed the
frame (at the background's exposure), the background and the threshold of
the moment; it holds nothing but the map.
"""

from __future__ import annotations

import cv2
import numpy as np

BUSY_S = 20.0  # how far back "often" looks (the average's time constant), seconds
BUSY_FLOOR = 0.02  # flips per frame under which a pixel is not busy at all (a person's own passage)
BUSY_FULL = 0.15  # flips per frame at which the raise is full
BUSY_GAIN = 2.5  # the full raise: the threshold there is (1 + BUSY_GAIN) times the normal one
PERSIST_SCORE = 0.01  # a blob whose place was this busy before it (mean raise) must persist (``Persistence``)
CLOSE_LOOKS_S = 0.15  # a blob that only adds light must overlap the look before only when the looks are this close
REACH = np.ones((5, 5), np.uint8)  # in a busy place, the background's range over this neighbourhood counts


class BusyMap:
    """Per pixel, how often it flipped lately, and the threshold that implies."""

    def __init__(self, fps: float) -> None:
        self.rate = min(1.0, 1.0 / (BUSY_S * fps))
        self.busy: np.ndarray | None = None  # float32 flips per frame, 0..1, at the detection size
        self.before: np.ndarray | None = None  # last frame's changed pixels
        self.seen = 0  # frames learnt
        self.before_busy: np.ndarray | None = None  # the map before the last frame's flips were learnt

    def score(self, box: tuple[int, int, int, int]) -> float:
        """How busy the place under ``box`` (detection-size pixels) was before this frame: its raise, 0 .. 1."""
        if self.before_busy is None:
            return 0.0
        x, y, w, h = box
        if not w or not h:
            return 0.0
        busy = float(self.before_busy[y:y + h, x:x + w].mean())
        return min(1.0, max(0.0, (busy - BUSY_FLOOR) / (BUSY_FULL - BUSY_FLOOR)))

    def around(self, box: tuple[int, int, int, int], grow: int, cap: float) -> float:
        """How busy the region around ``box`` was before this frame: flips per frame, each pixel capped at ``cap``.

        The region is the box grown by ``grow`` detection-size pixels on each
        side (cut at the picture's edge). A water glint's own pixels flip too
        rarely to score (each glint lights a given pixel now and then) while
        the pond around them flips as a whole; the cap keeps a strip of leaves
        or curtain at the region's edge from making a calm street busy.
        """
        if self.before_busy is None:
            return 0.0
        x, y, w, h = box
        rows, cols = self.before_busy.shape
        x0, y0 = max(0, x - grow), max(0, y - grow)
        x1, y1 = min(cols, x + w + grow), min(rows, y + h + grow)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        return float(cv2.mean(np.minimum(self.before_busy[y0:y1, x0:x1], np.float32(cap)))[0])

    def gate(self, normal: np.ndarray, reference: np.ndarray, threshold: float, mask: np.ndarray,
             learn: bool = True) -> None:
        """Learn this frame's changes, and clear in ``mask`` (in place) what a busy place's threshold does not pass.

        The map learns from the normal threshold, not the raised one: a raised
        threshold must not make the tree look quiet again and lower itself.
        ``learn`` is False just after a global change (the whole background is
        new: its flips say nothing about the place).
        """
        diff = cv2.absdiff(normal, reference)
        changed = diff > threshold
        if self.busy is None or self.busy.shape != changed.shape or self.before is None:
            self.busy = np.zeros(changed.shape, np.float32)
            self.before = changed
        flips = (changed != self.before).astype(np.float32)
        self.before = changed
        self.before_busy = self.busy.copy()  # what was known of the place before this frame's own flips
        if learn:
            self.seen += 1  # a plain mean until BUSY_S has passed: a tree is known as busy from the start
            cv2.accumulateWeighted(flips, self.busy, max(self.rate, 1.0 / self.seen))
        if not cv2.countNonZero(mask):
            return  # nothing to clear (a quiet picture, most frames): the raised threshold would change nothing
        raise_by = np.clip((self.busy - BUSY_FLOOR) * (1.0 / (BUSY_FULL - BUSY_FLOOR)), 0.0, 1.0)
        excess = np.maximum(cv2.erode(reference, REACH) - normal, normal - cv2.dilate(reference, REACH))
        mask[(raise_by > 0) & (excess <= threshold * (1.0 + BUSY_GAIN * raise_by))] = 0


class Persistence:
    """In a busy place, a second frame of motion must be the same thing as the first.

    A walker's blob overlaps its own last one (they move a few pixels a
    frame); what the busy map lets through of a tree in a gust jumps from
    branch to branch (bench, real tree footage: consecutive blobs far apart).
    A busy blob counts when it overlaps a blob of the frame before, or when
    the frame before had no motion (it may be the first frame of a walker:
    no onset is lost). So the ``trigger_frames`` (default 2) frames in a row
    that start an event are, in a busy place, one thing that stays; a quiet
    place's blobs count at once. "Busy" is the map *before* the blob's own
    flips: a walker seen only now and then (detection at 2 fps on a low
    battery) jumps too, but the place it jumps to was quiet until it came.
    When a gust stirs the frame (``stirred``: other blobs of it were taken
    for light, as leaves turning all over a tree are), a busy blob's first
    frame never counts: tune set, real tree footage, 7 -> 4 false events in
    9.3 min; a walker before the trees is seen one frame later (median).
    In a quiet place too, a blob that only adds light (``glints.adds_light``:
    every changed pixel brighter) after a frame with motion must overlap it.
    Rain in the IR light falls further in a look than a streak is long (18-19
    px a look at the detection width, streaks 11-15 px tall): each look's
    streaks are new ones elsewhere, each counted at once, and any two looks
    in a row started an event that every new streak kept going
    (bench/outside/FINDINGS.md, defect 40). A walker's blob overlaps its own
    last one however he is lit; one who comes in just after a look with
    such a blob elsewhere is seen a look later. Only while the looks are
    CLOSE_LOOKS_S apart or closer (the caller passes ``bright`` then): at 2 fps
    (the low-power governor) a small walker jumps further than his width,
    and one lit brighter than the wall would never make two looks in a row.
    Fed each frame's blobs; holds only the last.
    """

    def __init__(self) -> None:
        self.before: list[tuple[int, int, int, int]] = []
        self.moved = False  # the frame before had motion

    def forget(self) -> None:
        self.before, self.moved = [], False

    def counts(self, boxes: list[tuple[int, int, int, int]], busy: BusyMap, stirred: bool = False,
               held: list[bool] | None = None, bright: list[bool] | None = None) -> list[bool]:
        """Per box (detection-size pixels): does it count as motion now? Then remembers ``boxes``.

        ``stirred``: other changes in this frame were taken for light (a gust
        turns leaves all over a tree: smooth changes); then a busy blob never
        counts on its first frame, only once the next one overlaps it.
        ``held``: per box, a change watched for stillness (``shading.StillShading``):
        it does not count now and does not make this frame one "with motion";
        it is remembered, so that if it moves next frame it goes on from here.
        ``bright``: per box, all its change adds light (``glints.adds_light``: a raindrop, a
        flake); after a frame with motion such a blob must overlap it in a quiet place too.
        """
        bright = bright or [False] * len(boxes)
        verdicts = [not (self.moved or stirred) or (busy.score(box) < PERSIST_SCORE and not (light and self.moved))
                    or any(_overlap(box, old) for old in self.before) for box, light in zip(boxes, bright, strict=True)]
        if held is not None:
            verdicts = [ok and not hold for ok, hold in zip(verdicts, held, strict=True)]
        self.before, self.moved = boxes, any(verdicts)
        return verdicts


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
