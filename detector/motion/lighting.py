"""Light, told apart from motion: exposure and lamps divided out, and the shape of a change of light.

Two functional pieces the motion core (``base.py``) calls on every frame:

- ``normalise_gain``: a camera's exposure change and a lamp's pool of light
  multiply the picture by a smooth gain; it is measured on a coarse grid and
  divided out before anything is compared with the background;
- ``looks_like_light``: a blob that survived that is judged by the shape of
  its change (the log of the ratio frame / background), not by its size.
"""

from __future__ import annotations

import functools
import statistics
from collections import deque
from typing import NamedTuple

import cv2
import numpy as np

GAIN_DEADBAND = 0.02  # brightness ratios closer to 1 than this are left alone
MAX_GAIN = 3.0  # a larger brightness ratio is a light switched, not an exposure change
GAIN_GRID = (3, 4)  # rows, columns of the exposure/lighting gain estimate
SAMPLE = 3  # the gain and noise estimates read every SAMPLE-th pixel of every SAMPLE-th row (medians: plenty)
CLIPPED = 240  # gray levels at or above this are taken as clipped by the sensor
RATIO_OFFSET = 4.0  # added to both sides of frame / background, so near-black pixels do not explode
LIGHTING_SLOPE = 0.25  # plain background: lighting if the log ratio's slopes stay under this share of its departure
LIGHTING_ROUGHNESS = 0.15  # lighting only if the ratio's fine detail is under this share of its departure
LIGHT_GRAIN = 0.05  # in a change of light, fine detail of the log ratio under this is smooth however faint the change
LIGHT_MOVED = 0.05  # a gain cell this far from 1 means the light is changing (exposure, dimmer, lamp)
FLICKER_BAND_K = 4.0  # a flicker explains a gain this many times its frame-to-frame spread from 1 (FlickerBand)
MIN_TEXTURE = 0.012  # background detail (std of log gray, high-pass) above which its texture can decide
TEXTURE_KEPT = 0.5  # textured background: lighting if the ratio's detail is under this share of the texture
KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
SOLID = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))  # fallen pixels surviving this opening (``left_out``)
FALLEN_SHARE = 0.0025  # ... in a piece this share of the frame or more: a body, not a leaf (``left_out``)


def median(values: np.ndarray) -> np.floating:
    """``np.median(values)``, the same value from the same float arithmetic, at about a third of its cost.

    The gain and noise estimates take 14 medians of a few hundred samples a
    frame; ``np.median``'s generic path (axis handling, a NaN check, ``mean``
    of the middle pair) was most of the motion core's time. Values here are
    finite (ratios and differences of finite pictures), so the NaN check has
    nothing to find; the middle pair's mean is their float sum halved, as in
    ``np.mean``.
    """
    flat = values.ravel()
    half = flat.size // 2
    if flat.size == 0 or flat.dtype.kind != "f":
        return np.median(flat)  # empty (nan, with numpy's warning) or not float: numpy's own rules
    if flat.size % 2:
        return np.partition(flat, half)[half]
    middle = np.partition(flat, (half - 1, half))
    return (middle[half - 1] + middle[half]) / 2


def mean(values: np.ndarray) -> float:
    """``float(values.mean())``, the same float from the same arithmetic, without ``ndarray.mean``'s generic path.

    For a float array ``ndarray.mean`` is ``np.add.reduce`` (numpy's pairwise
    sum, in the array's dtype) divided by the count as an ``np.intp``, cast
    back to the dtype: the same three steps here. Its argument handling cost
    more than the sum of the gain estimate's few thousand samples, twice a frame.
    """
    if values.dtype.kind != "f":
        return float(values.mean())  # integers: numpy's rules (a float64 sum)
    total = np.add.reduce(values, axis=None)
    return float(total.dtype.type(total / np.intp(values.size)))


class _Cells(NamedTuple):
    """Where each sample of a sampled picture goes in ``cell_medians``'s table (one layout per shape)."""

    slot: np.ndarray  # per sample, its index in the flattened table: a row per GAIN_GRID cell
    cell: np.ndarray  # per sample, its cell (row-major over GAIN_GRID)
    size: np.ndarray  # per cell, its samples
    table: tuple[int, int]  # the table's shape: cells, the largest cell's samples


@functools.lru_cache(maxsize=8)
def _cells(shape: tuple[int, int]) -> _Cells:
    """The table layout for a sampled picture of ``shape``: the cells are ``normalise_gain``'s GAIN_GRID slices."""
    rows, cols = GAIN_GRID
    height, width = shape
    cell = np.empty(shape, np.intp)
    for r in range(rows):
        for c in range(cols):
            cell[r * height // rows:(r + 1) * height // rows, c * width // cols:(c + 1) * width // cols] = r * cols + c
    size = np.bincount(cell.ravel(), minlength=rows * cols)
    columns = max(1, int(size.max()))
    slot = np.empty(shape, np.intp)
    for index in range(rows * cols):  # each cell's samples in row-major order, from the start of its row
        where = cell == index
        slot[where] = index * columns + np.arange(int(size[index]))
    for array in (slot, cell, size):
        array.setflags(write=False)  # shared by every call for this shape
    return _Cells(slot, cell, size, (rows * cols, columns))


def cell_medians(ratios: np.ndarray, usable: np.ndarray, fallback: float) -> np.ndarray:
    """The GAIN_GRID of medians of ``ratios[usable]`` per cell; ``fallback`` where under a quarter is usable.

    Bit for bit what ``median`` of each cell's usable ratios gives (a median is
    an order statistic, or the middle pair's float sum halved; a sort finds the
    same ones), for about a fifth of the cost: twelve masked gathers and
    partitions a frame were the largest part of the motion core's time. One
    table has a row per cell, its usable ratios in place and +inf elsewhere,
    and one sort of its rows (numpy's vectorised sort; rows of a couple of
    hundred) puts each cell's usable ratios first, in order.
    """
    layout = _cells(ratios.shape)
    rows, cols = GAIN_GRID
    table = np.full(layout.table, np.inf, ratios.dtype)
    table.ravel()[layout.slot[usable]] = ratios[usable]
    table.sort(axis=1)
    count = np.bincount(layout.cell[usable], minlength=rows * cols)
    half = count // 2
    cells = np.arange(rows * cols)
    upper = table[cells, np.minimum(half, layout.table[1] - 1)]
    lower = table[cells, np.maximum(half - 1, 0)]
    middle = np.where(count % 2 == 1, upper, (lower + upper) / 2)
    middle[count == 0] = -np.nan  # np.median of nothing, to the bit (a cell too small to need a quarter of it)
    grid = np.full(rows * cols, fallback, np.float32)
    chosen = count >= layout.size // 4
    grid[chosen] = middle[chosen]
    return grid.reshape(rows, cols)


class FlickerBand:
    """How far from 1 the whole picture's own flicker moves the gain: ``band``, a share.

    An LED or tube beating with the exposure, or auto-exposure hunting, moves
    the whole picture by a couple of per cent at random from frame to frame;
    against the background every gain cell then strays LIGHT_MOVED off 1
    often, and ``light_context`` was armed on most frames (issue 13: a plain,
    dark person who stepped in was taken for light and learnt into the
    background). ``band`` is FLICKER_BAND_K times the spread of the mean
    level's frame-to-frame steps around their own median (1.4826 x their
    median absolute deviation over the last ``frames``: a sigma robust to a
    switch among them), taken before this frame's step joins them, as
    ``switch_watch.SwitchWatch`` measures a switch. Around their median, not
    around 0: a fade or a dimmer steps one way at a steady pace and has no
    spread, so it still arms the context at LIGHT_MOVED. In steady light the
    band is a fraction of LIGHT_MOVED and changes nothing.
    """

    def __init__(self, frames: int) -> None:
        self.band = 0.0
        self._last: float | None = None
        self._steps: deque[float] = deque(maxlen=frames)

    def watch(self, level: float) -> None:
        """Take this frame's mean gray ``level`` (of the picture the gain is measured on)."""
        last, self._last = self._last, level
        if last is None:
            return
        if self._steps:
            trend = statistics.median(self._steps)
            self.band = FLICKER_BAND_K * 1.4826 * statistics.median(abs(step - trend) for step in self._steps)
        self._steps.append((level - last) / max(last, 1.0))


class GainResult(NamedTuple):
    normal: np.ndarray | None  # the frame at the background's exposure; None: a light switched (global change)
    clipped: np.ndarray | None  # pixels that cannot be compared (clipped at white), or None
    moving: bool  # part of the picture is off by LIGHT_MOVED or more, beyond the flicker: the light is changing now


def normalise_gain(gray: np.ndarray, reference: np.ndarray, flicker: float = 0.0) -> GainResult:
    """``gray`` brought to the ``reference``'s exposure, and the pixels that cannot be compared.

    None instead of the frame when the overall brightness changed more than
    MAX_GAIN times: a light switched on or off, a global change whatever
    the pixels say.

    The gain is the median ratio reference/frame in each cell of a coarse
    grid (GAIN_GRID), interpolated smoothly across the frame: a camera's
    exposure change is uniform, a lamp in a corner is not, and both are
    smooth. A cell is far larger than a person at any distance the camera
    is meant for, and a median ignores what covers less than half of it.

    A pixel clipped at white, now or in the reference, no longer scales with
    the exposure: those are left out of the foreground and of learning while
    a gain is divided out (else a brighter room lights up every white wall).
    ``moving`` says a part of the picture is off by LIGHT_MOVED or more: the
    light is changing now. Not a cell that the light's own ``flicker``
    explains (``FlickerBand.band``): within it of 1, and within LIGHT_MOVED
    of the whole picture's gain (a lamp over part of the frame departs from
    the rest, whatever the flicker).
    """
    ref = reference[::SAMPLE, ::SAMPLE]
    cur = gray[::SAMPLE, ::SAMPLE]
    level, now = mean(ref), mean(cur)
    if max(level, now) > 16 and not 1 / MAX_GAIN <= (level + 1) / (now + 1) <= MAX_GAIN:
        return GainResult(None, None, True)
    usable = (cur > 8) & (cur < CLIPPED) & (ref < CLIPPED)
    if np.count_nonzero(usable) < cur.size // 4:
        return GainResult(gray, None, False)  # too dark or too bright to estimate a gain
    ratios = ref / np.maximum(cur, 1.0)
    overall = float(median(ratios[usable]))
    if not 1 / MAX_GAIN <= overall <= MAX_GAIN:
        return GainResult(None, None, True)
    grid = cell_medians(ratios, usable, overall)
    np.clip(grid, 1 / MAX_GAIN, MAX_GAIN, out=grid)
    off = np.abs(grid - 1)
    flickered = (off < np.float32(flicker)) & (np.abs(grid / np.float32(overall) - 1) < LIGHT_MOVED)
    moving = bool(np.any((off >= LIGHT_MOVED) & ~flickered))
    if np.all(off < GAIN_DEADBAND):
        return GainResult(gray, None, moving)
    gain = cv2.resize(grid, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    normal = cv2.multiply(gray, gain)
    clipped = cv2.dilate(((gray >= CLIPPED) | (reference >= CLIPPED)).astype(np.uint8), KERNEL)
    return GainResult(normal, clipped.astype(bool), moving)


def left_out(clipped: np.ndarray, gray: np.ndarray, normal: np.ndarray, reference: np.ndarray, margin: float,
             changed_mask: np.ndarray, light_changed: bool) -> np.ndarray:
    """``normalise_gain``'s ``clipped``, less a body the frame shows before a background clipped white.

    A pixel clipped at white in the background was truly at CLIPPED or over;
    brought to the background's exposure an unchanged one is at CLIPPED or
    over again, or clipped now. One ``margin`` (the pixel threshold) under
    CLIPPED, not clipped now, something dark stands before the white wall or
    blown-out window (*fallen*). Left out, a person before the lid of a
    TV-lit room was not compared at all for his first 9 frames (benchmarks
    7c, seed 61's quiet 14). Comparing every fallen pixel let the fringes and
    tips of leaves swinging over a clipped sky in and started events in wind
    (twice reverted, 7c): on the tune side the pieces of fallen pixels left
    by an opening by SOLID held up to 34 pixels that the foreground kept
    (``changed_mask``, after the busy gate) on seed 29's quiet 10, the
    walker's 67-110. So only a piece with FALLEN_SHARE of the frame or more
    of such pixels is given back: a body, not a leaf. Nor a piece whose kept
    pixels have the shape of light (``looks_like_light``, ``light_changed``
    as for a blob): a curtain's edge swinging softly over the lid, given
    back, was a blob taken for light, and the background re-learnt at once
    (``_absorb``) a frame before main's; its clipped pixels, never learnt
    while a gain is divided out, kept the difference for minutes, and a
    walker by the curtain was re-learnt on his first frame (seed 61's quiet
    19, onset 2 -> 4). Nor a piece touching the frame's edge: the opening
    counts outside the frame as set, so a strip 4 px wide there survives it
    (no strip inside the frame does); the curtain's edge against the frame
    and a branch against a clipped sky at the top were given back that way,
    re-learnt the background or started an event (seed 67's quiet 11,
    onset 1 -> 5; the corpus's walker before trees, 1 false event). Pixels
    clipped now stay left out.
    """
    fallen = (reference >= CLIPPED) & (normal < np.float32(CLIPPED - margin)) & (gray < CLIPPED)
    if not fallen.any():
        return clipped
    solid = cv2.morphologyEx(fallen.astype(np.uint8), cv2.MORPH_OPEN, SOLID)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if count < 2:
        return clipped
    kept = np.bincount(labels[changed_mask > 0], minlength=count)  # per piece, its pixels the foreground kept
    body = [label for label in range(1, count) if kept[label] >= FALLEN_SHARE * solid.size]
    if not body:
        return clipped
    compared = np.zeros(clipped.shape, bool)
    rows, cols = solid.shape
    for label in body:
        x, y, w, h = (int(v) for v in stats[label, :4])
        if x == 0 or y == 0 or x + w == cols or y + h == rows:
            continue  # at the frame's edge: the opening counts outside the frame as set
        piece = labels == label
        box = (x, y, w, h)
        mask = np.where(piece & (changed_mask > 0), np.uint8(255), np.uint8(0))
        if not looks_like_light(normal, reference, mask, box, light_changed):
            compared |= piece
    return clipped & ~compared


def ratio_window(normal: np.ndarray, reference: np.ndarray,
                 box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The background's log and the log ratio frame / background over ``box`` grown by 2 px, and ``box`` in it.

    The margin lets the blur and the slopes of ``looks_like_light`` see past the
    box's edge; ``bench/blob_features.py`` measures the same window.
    """
    x, y, w, h = box
    height, width = normal.shape
    x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(width, x + w + 2), min(height, y + h + 2)
    log_ref = np.log(reference[y0:y1, x0:x1] + RATIO_OFFSET)
    log_ratio = np.log(normal[y0:y1, x0:x1] + RATIO_OFFSET) - log_ref
    return log_ref, log_ratio, (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))


def looks_like_light(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray,
                     box: tuple[int, int, int, int], light_changed: bool) -> bool:
    """True if the change in ``box`` has the shape of light: the background, scaled by a smooth gain.

    Light (a lamp, a door onto a lit corridor, a cloud) multiplies the
    background by a gain that varies slowly across the region, so the log
    of the ratio frame / background is smooth there. In order:

    1. rough ratio (fine detail, what a small blur removes, over
       LIGHTING_ROUGHNESS of its departure from 1): something replaced the
       background, a person. Real walkers measure 0.15-0.4, light under 0.12;
       but while ``light_changed``, a detail under LIGHT_GRAIN is smooth
       whatever the departure (step 2);
    2. smooth, and ``light_changed`` (the caller saw a change of light in
       the last moments: a global change, another lighting blob, a gain
       cell off by LIGHT_MOVED): light. A faint change has a small
       departure, and the ratio of even a smooth shadow keeps a floor of
       fine detail (its soft edge's bends, the noise): a cloud shadow's
       edge creeping over the threshold measured a departure of 0.13-0.23
       and a detail of 0.024-0.036, 15-20 % of it, just rough, and started
       events (benchmarks 7c, tune side). A person replaces the background:
       walkers' first blobs measured 0.17-0.40;
    3. smooth, on a textured background whose texture survives (the
       ratio's detail under TEXTURE_KEPT of the background's): light;
    4. smooth on a plain background (a plain wall, or a uniformly coloured
       object on it): only the outline can tell: light fades out, an
       object's edge is a jump. The ratio's steepest slopes (90th
       percentile, per pixel) are compared with its departure from 1.
    """
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return False
    log_ref, log_ratio, inner = ratio_window(normal, reference, box)
    departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
    detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
    if light_changed and detail < max(LIGHTING_ROUGHNESS * departure, LIGHT_GRAIN):
        return True  # the light just changed, and this is as smooth as light
    if detail >= LIGHTING_ROUGHNESS * departure:
        return False  # the ratio is rough: something replaced the background
    texture = float(np.std((log_ref - cv2.GaussianBlur(log_ref, (0, 0), 1.5))[inner][pick]))
    if texture >= MIN_TEXTURE and detail < TEXTURE_KEPT * texture:
        return True  # the background's texture shows through, scaled
    slope = cv2.magnitude(cv2.Sobel(log_ratio, cv2.CV_32F, 1, 0, ksize=3),
                          cv2.Sobel(log_ratio, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    return float(np.percentile(slope, 90)) < LIGHTING_SLOPE * departure  # plain background: a soft outline
