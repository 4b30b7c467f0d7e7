"""An insect in IR never starts an event; a small far walker still does (benchmarks 7c, ``glints.is_speck``).

The tune side's *IR insects* (``bench/quiet_artefacts.py``: three bugs
circling the illuminator, soft and out of focus, 6 px a frame, turning at
random) started 16 false events in 4 minutes at main, every one on a blob
that is a single round speck, 5 x 5 changed pixels at the detection size,
all brighter than the wall and faint, that the blob step's dilation took just
over the minimum area. Their own flight makes the place around them
flip now and then, so the water-glint rule (only where the place is busy)
caught some of their blobs and not others, cut events in two and took them
to 18. The smallest walker that must stay caught (``water_walkers`` seed 11,
walker 4: 0.17 % of the frame, light clothes on a dark street) is such specks
too, but taller than wide (5-6 x 8-10). The clips here: a faint round
speck crossing a calm gray wall fast, turning each frame (at main an event:
three frames of motion in a row; now none), and a faint tall speck walking
slowly (motion from its first frame: a glint rule blind to the shape would
hold that first frame back).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.glints import is_speck
from tests.detector.test_glints import BEFORE, FPS, _plate

LENGTH = 12  # frames the speck is in the picture


def speck_clip(lift: float, tall: bool = False) -> list[np.ndarray]:
    """A dim gray wall with IR-like noise; from BEFORE, a soft speck ``lift`` gray levels bright at its centre.

    Round (an insect: a disc of radius 5 full-size pixels, blurred as out of
    focus) crossing 6 px a frame and turning half a radian each way in turn;
    or ``tall`` (a walker far off: an upright ellipse 3 x 9 px) going 2 px a
    frame in a straight line.
    """
    plate, rng = _plate() * 0.6, np.random.default_rng(7)
    x, y, heading = 150.0, 120.0, 0.3
    step, turn = (2.0, 0.0) if tall else (6.0, 0.5)
    clip = []
    for index in range(BEFORE + 30):
        image = plate.copy()
        k = index - BEFORE
        if 0 <= k < LENGTH:
            layer = np.zeros(image.shape, np.float32)
            if tall:
                cv2.ellipse(layer, (int(x), int(y)), (3, 9), 0, 0, 360, 1.0, -1)
            else:
                cv2.circle(layer, (int(x), int(y)), 5, 1.0, -1)
            image += cv2.GaussianBlur(layer, (0, 0), 1.5) * lift
            heading += turn if k % 2 else -turn
            x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        image += rng.normal(0, 6, image.shape)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def _motion(clip: list[np.ndarray]) -> list[bool]:
    """Per frame from BEFORE on: motion?"""
    detector = create_detector(MotionConfig(), fps=FPS)
    return [detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)).motion for gray in clip][BEFORE:]


def test_a_faint_round_speck_crossing_fast_is_never_an_event() -> None:
    """At main: motion on its first three frames (an event); now never two frames in a row (none at all here)."""
    for lift in (42.0, 44.0, 46.0):
        seen = _motion(speck_clip(lift))
        assert not any(a and b for a, b in zip(seen, seen[1:], strict=False)), (
            f"an insect {lift:.0f} gray levels bright, two frames of motion in a row: {seen[:LENGTH]}")


def test_a_faint_tall_speck_far_off_is_motion_from_its_first_frame() -> None:
    """A walker far off is taller than wide: his first blob (glint-shaped, crept in) counts."""
    seen = _motion(speck_clip(40.0, tall=True))
    assert all(seen[:LENGTH]), f"a tall faint speck, motion per frame: {seen[:LENGTH]}"


def test_the_speck_test_on_single_blobs() -> None:
    """One piece within a pixel of round: a speck; taller, wider, or two pieces: not."""
    changed = np.zeros((40, 40), np.uint8)
    box = (5, 5, 20, 20)
    changed[10:15, 10:15] = 255  # 5 x 5
    assert is_speck(changed, box)
    changed[15, 10:15] = 255  # 5 wide, 6 tall: within a pixel
    assert is_speck(changed, box)
    changed[16:18, 10:15] = 255  # 5 x 8: upright, a figure
    assert not is_speck(changed, box)
    changed[:] = 0
    changed[10:15, 10:18] = 255  # 8 x 5: lying
    assert not is_speck(changed, box)
    changed[:] = 0
    changed[10:15, 10:15] = 255
    changed[20:23, 20:23] = 255  # two pieces: specks, not one speck
    assert not is_speck(changed, box)
