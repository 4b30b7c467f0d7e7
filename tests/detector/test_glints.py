"""Glints on water never start an event; a person, bright or not, still does (benchmarks 7c, ``glints.py``).

The tune side's water under the harsh weather started most of its false
events on a blob of two or three faint bright specks that the blob step's
dilation joined just over the minimum area, in a place the busy map calls
calm, drifting a pixel or two a frame for two or three frames (as a walker
overlaps himself). The clip here is that blob alone on a quiet textured
plate: before the glint rule it was motion on 2-3 frames in a row (an
event); with it, none. The people beside it (a plain bright figure, a
figure darker than the ground, a person whose blob breaks into specks while
an event runs) keep their motion.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.glints import is_glint

SIZE = (384, 288)
FPS = 10.0
BEFORE = 60  # frames of the plate alone (the background learnt) before anything appears
SPECK = 8  # full-size pixels: about 3 at the detection size (160 wide), as the tune side's glints
SPECKS = ((200, 200), (214, 210), (203, 221))  # a glint of three specks, joined by the blob step's dilation


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    return 90 + 20 * texture / texture.std()


def glint_clip(lift: float = 50.0, frames: int = 3, drift: int = 3) -> list[np.ndarray]:
    """The plate with sensor noise; from frame BEFORE, three specks ``lift`` gray levels brighter for ``frames``.

    They drift ``drift`` full-size pixels a frame (about one at the detection
    size), so each frame's blob overlaps the last, as the tune side's did.
    """
    plate, rng = _plate(), np.random.default_rng(7)
    clip = []
    for index in range(BEFORE + 30):
        image = plate.copy()
        step = index - BEFORE
        if 0 <= step < frames:
            for x, y in SPECKS:
                image[y:y + SPECK, x + drift * step:x + drift * step + SPECK] += lift
        image += rng.normal(0, 2, image.shape)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def figure_clip(level: float) -> list[np.ndarray]:
    """The plate; from frame BEFORE a plain figure (14 x 40 px, about 0.5 % of the frame) of gray ``level`` stands."""
    plate, rng = _plate(), np.random.default_rng(7)
    clip = []
    for index in range(BEFORE + 30):
        image = plate.copy()
        if index >= BEFORE:
            image[180:220, 200:214] = level
        image += rng.normal(0, 2, image.shape)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def _motion(clip: list[np.ndarray]) -> list[bool]:
    """Per frame from BEFORE on: motion?"""
    detector = create_detector(MotionConfig(), fps=FPS)
    return [detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)).motion for gray in clip][BEFORE:]


def test_a_faint_glint_of_bright_specks_is_never_motion() -> None:
    """Before the rule: motion on its 2-3 frames, two in a row (an event); now on none."""
    for lift in (40.0, 50.0, 60.0):
        assert not any(_motion(glint_clip(lift))), f"a glint {lift:.0f} gray levels bright was motion"


def test_bright_specks_far_over_the_threshold_still_count() -> None:
    """What departs by more than GLINT_EXCESS thresholds is not a faint glint (a lamp's spark, a torch)."""
    assert any(_motion(glint_clip(lift=90.0)))


@pytest.mark.parametrize("level", [200.0, 30.0])
def test_a_plain_figure_brighter_or_darker_than_the_ground_is_seen_from_its_first_frame(level: float) -> None:
    """A solid blob is not specks, whatever its sign: motion from the figure's first frame to the last."""
    assert all(_motion(figure_clip(level)))


def test_the_glint_test_on_single_blobs() -> None:
    """Specks all brighter and faint: a glint; one darker speck of three, or one solid piece: not."""
    reference = np.full((40, 40), 100.0, np.float32)
    changed = np.zeros((40, 40), np.uint8)
    normal = reference.copy()
    for x, y in ((10, 10), (16, 14), (11, 19)):
        changed[y:y + 3, x:x + 3] = 255
        normal[y:y + 3, x:x + 3] += 30.0
    box = (8, 8, 14, 16)
    assert is_glint(normal, reference, changed, box, threshold=15.0, min_area=38.4)
    darker = normal.copy()
    darker[19:22, 11:14] -= 60.0  # one speck darker than the ground: part of a person, not light
    assert not is_glint(darker, reference, changed, box, threshold=15.0, min_area=38.4)
    assert not is_glint(normal, reference, changed, box, threshold=5.0, min_area=38.4)  # far over: not faint
    solid = changed.copy()
    solid[10:22, 10:14] = 255  # one piece of 48 px joining them: a body, not specks
    lit = np.where(solid > 0, 130.0, 100.0).astype(np.float32)
    assert not is_glint(lit, reference, solid, box, threshold=15.0, min_area=38.4)
