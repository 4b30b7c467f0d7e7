"""A busy place's own shading: in leaves or a curtain, a smooth and faint change never starts motion.

Traced on the quiet hours' tune seeds (benchmarks section 7c, branch
s8-foliage): the false events in strong wind in leaves and on the real tree
that came with ``lighting.FlickerBand`` start on blobs whose change has the
shape of light: smooth (the log ratio frame / background has little fine
detail: ``looks_like_light``'s step 1) and faint (its departure from 1 under
FAINT, a change of under about a quarter). Leaves turning their lighter
sides to a gust, a branch bent a little, a fold's shading: the place's own
light, not a thing that came. Before the band a flickering light armed the
light context and took them for light; in steady light (or with the band)
they are judged as anything else, and two of them in a row start an event.
Every walker's first blob in those segments was rough or strong (roughness
0.16 and up, departure 0.34 and up); 16 of the 20 false events' were both.

Such a blob is not taken for light (a plain, dim person on a busy curtain
would then be re-learnt into the background: branch s6-curtain lost one):
it only may not *start* motion. It counts when it overlaps a blob counted on
the frame before (a person seen already, whose blob turns smooth for a
frame, stays motion), and while it waits it is not what crept in under a
flicker (``switch_watch.crept_in`` is told about it), so it is not
absorbed either. Quiet places (``BusyMap.score`` under ``PERSIST_SCORE``)
are untouched, as are rough or strong changes anywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.detector.motion.activity import PERSIST_SCORE, BusyMap, _overlap
from quickcam.detector.motion.lighting import LIGHTING_ROUGHNESS, RATIO_OFFSET

FAINT = 0.25  # departure (RMS of the log ratio frame / background) under this: faint (leaves 0.10-0.20, walkers 0.34+)

Box = tuple[int, int, int, int]  # x, y, width, height at the detection size


def faint_shading(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray, box: Box) -> bool:
    """True if the change in ``box`` is smooth and faint: a gain of under about FAINT with no fine detail.

    The same measure as ``lighting.looks_like_light``'s first step (the log
    ratio's fine detail, what a small blur removes, against its departure),
    on the blob's changed pixels.
    """
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return False
    height, width = normal.shape
    x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(width, x + w + 2), min(height, y + h + 2)
    log_ratio = np.log(normal[y0:y1, x0:x1] + RATIO_OFFSET) - np.log(reference[y0:y1, x0:x1] + RATIO_OFFSET)
    inner = (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))
    departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
    if departure >= FAINT:
        return False
    detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
    return detail < LIGHTING_ROUGHNESS * departure


class ShadingHold:
    """Which blobs of a frame are a busy place's shading and may not start motion; remembers them one frame."""

    def __init__(self) -> None:
        self.pending: list[Box] = []  # last frame's held blobs: not "crept in" under a flicker (``crept_in``)

    def forget(self) -> None:
        self.pending = []

    def held(self, boxes: list[Box], moving: list[Box], busy: BusyMap, normal: np.ndarray, reference: np.ndarray,
             changed_mask: np.ndarray) -> list[bool]:
        """Per box (detection-size pixels): held back now? ``moving``: the boxes counted on the frame before.

        A box is held when its place is busy, it overlaps none of ``moving``
        and its change is ``faint_shading``. Then remembers the held boxes.
        """
        verdicts = [busy.score(box) >= PERSIST_SCORE and not any(_overlap(box, old) for old in moving)
                    and faint_shading(normal, reference, changed_mask, box) for box in boxes]
        self.pending = [box for box, hold in zip(boxes, verdicts, strict=True) if hold]
        return verdicts
