"""Glints: sun or sky caught by ripples, or an insect in IR: faint bright specks that must not start an event.

On rippling water under heavy JPEG and a flickering light (benchmarks
section 7c), most false events start on a blob made of two or three specks
a few pixels across, each faintly over the threshold, that the blob step's
dilation joined into one blob just over the minimum area. The busy map
scores them calm (a glint lights a given pixel too rarely for it to flip
often) and they drift a pixel a frame, overlapping themselves as a walker
does, so neither ``BusyMap`` nor ``Persistence`` can tell them from a person.
What they look like can: every changed pixel is *brighter* than the
background (a glint adds light; a person's blob has darker parts too: the
tune side's walkers over water had 27-90 % of their pixels brighter, a
glint blob 100 %), the changed pixels are specks (none as large as
GLINT_PIECE of the minimum area, filling under GLINT_FILL of the box, its
margin given back where the frame's edge cut it: ``uncut_size``), and
faint (most under GLINT_EXCESS thresholds). A blob that is all of these may
go on an event that runs (it overlaps last frame's motion: a walker whose
blob broke up for a frame) but never start one (``MotionDetector._blobs``):
not on its first frame, and not on the second either, where it would go on a
first frame of motion. An event takes two frames in a row, and on seed 59's
water a glint a little past one limit (a piece of 32 px, a fill of 0.30, half
its pixels at 3 thresholds) counted on its own and the next frame's glint,
overlapping it, made it an event. The second frame is asked only in a calm
(no motion of two looks in a row for ``GLINT_CALM_S``,
``MotionDetector._young_after_calm``): water's events start 34 s and more
after any, and a faint walker who moved again 5.7 s after his last motion
had his second frame taken for a glint.

Only where the place around it is busy (``on_water``): a walker small and far
off (0.17 % of the frame, light clothes on a dark road) is such specks too,
and what tells him from a glint is not in his blob but around it. Glints come
where the water is, and the pond around them flips as a region (the busy
map, capped per pixel at GLINT_REGION_CAP, averaged over the blob's box grown
by GLINT_REGION pixels: 0.010-0.034 flips a frame around the tune side's
glints that started events); a street is calm around the walker (0.002-0.003
there, `water_walkers` seed 11's walker 4, under the same weather).

Or anywhere, if the specks are one round piece (``is_speck``): an insect in
IR. Moths circling the illuminator (the tune side's *IR insects*, benchmarks
section 7c) started every one of their false events on one soft speck, about 5 x 5
changed pixels, all brighter than the wall and faint, that the dilation took
just over the minimum area; their own flight makes the place around them
flip now and then, so ``on_water`` caught some of their blobs and not
others, and an event cut in two by a blob held back became two (16 -> 18).
Walker 4 is specks too, but taller than wide (5-6 wide, 8-10 tall in changed pixels
on the frames his blob crept in); an upright person is, and a lying one is
wider, so one piece whose width and height are within SPECK_ROUND pixels of
each other is not taken for either. A bright speck (a torch, a lamp) is not
faint and still counts.

Except while it snows (``snowing``: SNOW_SPECKS separate changed specks or
more in the picture at once; a quiet night has none, light rain in the IR
light 2-14 a look, snow 70-150): a flake in the IR light is far over the
threshold, so there a glint need not be faint (bench/outside/FINDINGS.md,
defect 40: a drawn snowfall of small flakes, seeds 2 and 3, 29 and 19 looks
that would start or go on an event, now none). The fill and the piece size
still keep a body out: a walker coming in at the picture's edge fills under
GLINT_FILL of his box there (the margin given back), and only his largest
piece over GLINT_PIECE of the minimum area tells him from flakes. So flakes
falling together into one piece that large still count, and a big flake
near the lens (one bright round blob 10-12 px across, filling 0.3 of its
box) is not a glint either: both open.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.detector.motion.activity import BusyMap

GLINT_BRIGHT = 0.95  # a glint: at least this share of the blob's changed pixels brighter than the background
GLINT_FILL = 0.27  # ... its changed pixels fill under this share of its box (specks, not a body)
GLINT_PIECE = 0.8  # ... its largest 8-connected piece is under this share of the minimum area
GLINT_EXCESS = 3.0  # ... and most of them depart from the background by under this many thresholds
GLINT_REGION = 16  # the place around a blob: its box grown by this many detection-size pixels on each side
GLINT_REGION_CAP = 0.08  # flips per frame one pixel adds to the place's mean at most (a strip of leaves at its edge)
GLINT_REGION_BUSY = 0.006  # a glint only where the place flips at least this often (flips per frame): water
SPECK_ROUND = 1  # an insect's speck: one piece whose width and height differ by at most this many pixels
SNOW_SPECKS = 30  # snow or dust in the light: at least this many separate changed specks in the picture at once
BLOB_MARGIN = 2  # the blob step dilates twice by a 3 x 3 cross: a blob's box reaches this far past its changed pixels

Box = tuple[int, int, int, int]  # x, y, width, height at the detection size


def on_water(busy: BusyMap, box: Box) -> bool:
    """True if the place around ``box`` was busy before this frame, as a pond around its glints is."""
    return busy.around(box, GLINT_REGION, GLINT_REGION_CAP) >= GLINT_REGION_BUSY


def is_speck(changed_mask: np.ndarray, box: Box) -> bool:
    """True if the changed pixels in ``box`` are one round piece: an insect's speck, not a figure (module docstring)."""
    x, y, w, h = box
    pick = (changed_mask[y:y + h, x:x + w] > 0).astype(np.uint8)
    pieces, _, stats, _ = cv2.connectedComponentsWithStats(pick, connectivity=8)
    return pieces == 2 and abs(int(stats[1, cv2.CC_STAT_WIDTH]) - int(stats[1, cv2.CC_STAT_HEIGHT])) <= SPECK_ROUND


def uncut_size(box: Box, shape: tuple[int, ...]) -> tuple[int, int]:
    """The width and height of ``box`` with the margin the frame's edge cut off given back: the box a fill is judged by.

    A blob's box reaches BLOB_MARGIN past its changed pixels on every side,
    but not past the frame: a glint on the edge (seed 61 quiet 20, benchmarks
    7c) lost that margin on its cut side and filled 0.29-0.32 of its box of
    8 x 16, 0.23-0.26 of the 10 x 16 it would have had inside the frame.
    """
    x, y, w, h = box
    rows, cols = shape[:2]
    w += BLOB_MARGIN * ((x == 0) + (x + w == cols))
    h += BLOB_MARGIN * ((y == 0) + (y + h == rows))
    return w, h


def snowing(changed_mask: np.ndarray) -> bool:
    """True if the changed pixels make SNOW_SPECKS separate specks or more: flakes all over the picture (docstring)."""
    return cv2.connectedComponents((changed_mask > 0).astype(np.uint8), connectivity=8)[0] - 1 >= SNOW_SPECKS


def adds_light(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray, box: Box) -> bool:
    """True if GLINT_BRIGHT of the changed pixels in ``box`` or more are brighter: it adds light (a drop, a flake)."""
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    count = int(np.count_nonzero(pick))
    return bool(count) and np.count_nonzero(normal[y:y + h, x:x + w][pick] > reference[y:y + h, x:x + w][pick]) \
        >= GLINT_BRIGHT * count


def is_glint(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray, box: Box,
             threshold: float, min_area: float, faint: bool = True) -> bool:
    """True if the changed pixels in ``box`` are a few faint bright specks (see the module's docstring).

    ``faint`` False (``snowing``): the specks need not be faint; a flake in the IR light is far over the threshold."""
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    count = int(np.count_nonzero(pick))
    full_w, full_h = uncut_size(box, changed_mask.shape)
    if not count or count >= GLINT_FILL * full_w * full_h:
        return False
    diff = (normal[y:y + h, x:x + w] - reference[y:y + h, x:x + w])[pick]
    if np.count_nonzero(diff > 0) < GLINT_BRIGHT * count:
        return False
    strong = np.count_nonzero(diff.astype(np.float64) >= GLINT_EXCESS * threshold)  # (as native's double)
    if faint and 2 * strong >= count:
        return False
    pieces, _, stats, _ = cv2.connectedComponentsWithStats(pick.astype(np.uint8), connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max()) < GLINT_PIECE * min_area


