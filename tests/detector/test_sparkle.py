"""Glints on rippling water are not motion; a walker among them, or a tiny walker alone, still is (issue 13).

The rule (``activity.sparkle``) on the motion core itself, on a short
synthetic clip at the detection size: specks of sun on water, joined two by
two into blobs over the minimum area by the dilation, sparkling all over the
frame (tune set, water in harsh weather: the false events this removes).
"""

from __future__ import annotations

import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.activity import sparkle

SIZE = (120, 160)  # the default detection size: the core works on these pixels as given


def _scene() -> np.ndarray:
    rng = np.random.default_rng(5)
    texture = rng.normal(0, 6, SIZE).astype(np.float32)
    return np.clip(100 + texture, 0, 255).astype(np.uint8)


def _glint(image: np.ndarray, x: int, y: int) -> None:
    """A speck of sun: 4 x 4 pixels, bright (after the core's blur and opening: a piece of 12 pixels)."""
    image[y:y + 4, x:x + 4] = np.minimum(255, image[y:y + 4, x:x + 4].astype(np.int16) + 90).astype(np.uint8)


def _motion(extra: int, walker: bool = False) -> list[bool]:
    """Verdicts over 8 frames of a glint pair drifting right, ``extra`` lone glints elsewhere, and maybe a walker."""
    rng = np.random.default_rng(9)
    background = _scene()
    detector = create_detector(MotionConfig(), fps=10.0)
    for _ in range(20):  # learn the scene
        detector.detect(background)
    verdicts = []
    for step in range(8):
        frame = background.copy()
        _glint(frame, 60 + step, 70)  # the pair: two specks the dilation joins into one blob
        _glint(frame, 60 + step, 77)
        for _ in range(extra):  # the rest of the water sparkles: specks far apart
            _glint(frame, int(rng.integers(5, 40)) + 110 * int(rng.integers(0, 2)), int(rng.integers(10, 110)))
        if walker:
            frame[20:34, 20 + 2 * step:26 + 2 * step] = 30  # a small dark walker (0.4 % of the frame)
        verdicts.append(detector.detect(frame).motion)
    return verdicts


def test_a_pair_of_glints_among_other_glints_is_not_motion() -> None:
    assert not any(_motion(extra=4))


def test_a_walker_among_the_glints_is_still_motion_at_once() -> None:
    assert all(_motion(extra=4, walker=True))


def test_a_pair_of_specks_alone_still_counts() -> None:
    """A tiny walker can be specks too (0.16 % of the frame in IR gray, tune split): alone in a quiet frame he counts."""
    assert all(_motion(extra=1))


def _pieces(company: int, second_rows: int = 3) -> tuple[np.ndarray, np.ndarray]:
    pieces = np.zeros(SIZE, np.int32)
    pieces[10:13, 10:13], pieces[16:16 + second_rows, 10:13] = 1, 2  # the pair, in the box
    for n in range(company):
        pieces[50 + 20 * n:53 + 20 * n, 50:53] = 3 + n
    return pieces, np.bincount(pieces.ravel())


def test_sparkle_needs_two_pieces_all_of_them_specks_and_company() -> None:
    box, min_area = (8, 8, 8, 14), 38.4  # 0.4 x 38.4: a speck is under 15.36 pixels
    assert sparkle(*_pieces(company=3), box, min_area)
    assert not sparkle(*_pieces(company=3), (8, 8, 8, 7), min_area)  # one piece in the box
    assert not sparkle(*_pieces(company=2), box, min_area)  # too little company
    assert not sparkle(*_pieces(company=3, second_rows=6), box, min_area)  # its second piece is 18 pixels
