"""A swinging edge's overshoot: a faint change that crept over the threshold in a very busy place is held, not counted.

Traced on the quiet hours' tune seeds (benchmarks section 7c, the curtain):
every curtain false event starts on one of the cloth's edges (or its hem)
carried by a gust a few pixels past its usual swing, a strip 5-8 px wide
that stands for 2-5 frames. The busy gate cannot clear it (what the gust
uncovers lies 3-8 px off in the background, beyond ``activity.REACH``), and
its pixels must not be cleared there: the cloth's own smooth blobs keep the
light context armed, which is what keeps its fold strips quiet. So the rule
acts on the blob, after ``looks_like_light``. Its first blobs are, on every
traced event (seeds 29, 31, 37; busy score, departure, fresh):

- in a very busy place (``BusyMap.score`` 0.44-1.00: the cloth's edge and hem);
- faint (the log ratio's departure 0.27-0.42);
- and not new: it crept over the threshold, its change was there on the frame
  before (``fresh``, the share of its departure that is new since the frame
  before, -0.09-0.27).

A person is new where he first shows: the first blob of every walker traced
at the same places measured ``fresh`` 0.94-1.06, the tune corpus's faint
walker coming in over a curtain's hem as faint as the cloth (departure 0.40)
1.02; the walkers entering over the hem depart 0.98-2.20. A person who comes
out from behind something as slowly and as faintly as that is the twin no
single frame tells apart: ``bench/emerging_walkers.py``'s creeping *faint*
walkers out of a curtain have the strips' departure and fresh share, and
only their place's lower score (0.18 at most) keeps them out; its *slow,
faint* walker out of a bush came where the bush scored 0.64-0.70 and was
held five frames (onset 28 -> 38 frames; benchmarks 7c).

Such a blob, not last frame's motion going on, is held (not counted, and not
a frame "with motion" for ``Persistence``) for at most SWING_HOLD_S in a row
(a held blob on the frame before that it overlaps carries the count on): an
overshoot falls back within that, and anything that stays longer counts, so
the rule can delay a person by SWING_HOLD_S at most, never hide him. While
held, the blob's changed pixels are not learnt (``MotionDetector._learn``):
learnt at the usual rate, a person held there faded, and what was left of
him was faint and smooth enough for ``shading.StillShading`` to learn at
once (the unit test's creeping person, before this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quickcam.detector.motion.activity import BusyMap, _overlap
from quickcam.detector.motion.lighting import ratio_window

SWING_SCORE = 0.3  # busy score (the raise, 0..1) from which a place is a swinging edge's (events 0.44-1.00)
SWING_FAINT = 0.45  # departure (RMS log ratio) under this: faint (events 0.27-0.42, walkers at the hem 0.98+)
SWING_FRESH = 0.4  # share of the departure new since the frame before under this: crept in (events 0.27 at most)
SWING_HOLD_S = 1.0  # held at most this long in a row, seconds: an overshoot falls back sooner (2-5 frames at 10 fps)

Box = tuple[int, int, int, int]  # x, y, width, height at the detection size


def fresh_share(normal: np.ndarray, reference: np.ndarray, previous: np.ndarray, changed_mask: np.ndarray,
                box: Box) -> float:
    """The share of the blob's departure from the background that is new since the frame before.

    Over the blob's changed pixels: the step frame - previous frame along the
    sign of frame - background, over |frame - background|. Near 1: it came
    this frame (a person stepping in); near 0: it was there before and only
    crept over the threshold (an edge carried a pixel further).
    """
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    frame = normal[y:y + h, x:x + w][pick].astype(np.float64)
    diff = frame - reference[y:y + h, x:x + w][pick]
    size = float(np.abs(diff).sum())
    if size <= 0.0:
        return 1.0
    step = frame - previous[y:y + h, x:x + w][pick]
    return float((np.sign(diff) * step).sum() / size)


def crept_faint(normal: np.ndarray, reference: np.ndarray, previous: np.ndarray, changed_mask: np.ndarray,
                box: Box) -> bool:
    """True if the change in ``box`` is faint (departure under SWING_FAINT) and crept in (``fresh_share``)."""
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return False
    _, log_ratio, inner = ratio_window(normal, reference, box)
    if float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2))) >= SWING_FAINT:
        return False
    return fresh_share(normal, reference, previous, changed_mask, box) < SWING_FRESH


@dataclass(frozen=True)
class Held:
    box: Box
    frames: int  # source frames it has been watched in a row


class SwingOvershoot:
    """Which blobs of a frame are a swinging edge's overshoot, held (not counted); remembers the held ones."""

    def __init__(self, fps: float) -> None:
        self.hold_frames = max(1, round(SWING_HOLD_S * fps))
        self.held: list[Held] = []  # last frame's watched blobs (held, or past the hold and counted)

    def forget(self) -> None:
        self.held = []

    @property
    def holding(self) -> list[Box]:
        """The boxes held on the last frame: their changed pixels are not learnt while held (``_learn``)."""
        return [h.box for h in self.held if h.frames <= self.hold_frames]

    def judge(self, boxes: list[Box], moving: list[Box], busy: BusyMap, normal: np.ndarray, reference: np.ndarray,
              previous: np.ndarray | None, changed_mask: np.ndarray, frames: int = 1) -> list[bool]:
        """Per box: held now? ``moving``: the boxes counted on the frame before; ``previous``: the frame before.

        ``frames``: source frames since the last look (the hold is counted in
        time, as the core's other counters: ``looks.py``).
        """
        verdicts, watched = [], []
        if previous is not None and previous.shape != normal.shape:
            previous = None  # the picture changed size since (a camera switching resolution): no frame before
        for box in boxes:
            count = frames + max((h.frames for h in self.held if _overlap(box, h.box)), default=0)
            watch = (previous is not None and not any(_overlap(box, old) for old in moving)
                     and busy.score(box) >= SWING_SCORE
                     and crept_faint(normal, reference, previous, changed_mask, box))
            verdicts.append(watch and count <= self.hold_frames)
            if watch:
                watched.append(Held(box, count))  # past the hold too: it does not start a new one while it lasts
        self.held = watched
        return verdicts
