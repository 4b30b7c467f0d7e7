"""A busy place's own shading never starts motion; a person there still does (benchmarks 7c, s8-foliage).

The quiet hours' leaves started false events on blobs whose change has the
shape of light, smooth and faint, in a place the busy map knows (gusts
turning leaves; in steady light, or with the flicker band, nothing took
them for light). The clip: a smooth plate in steady light, a patch of it
made busy by hand in the busy map (as leaves make it), then either a
faint, smooth brightening there (x1.2, a soft edge: too sharp to be light
by its outline, as the leaves' blobs were) or a plain dark person.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.shading import faint_shading

SIZE = (384, 288)
FPS = 10.0
BEFORE = 260  # frames of the plate first: past the busy map's plain-mean start (its rate is steady from 200)
PATCH = (216, 120, 48, 48)  # x, y, width, height (full frame): 20 x 20 pixels at the detection size
BUSY = (slice(40, 80), slice(80, 120))  # the busy map's rows, columns (detection size) made busy: around PATCH


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 6)
    return np.clip(170 + 12 * texture / texture.std(), 0, 255).astype(np.float32)


def _motion(what: str, busy: float = 0.05, frames: int = 4) -> list[bool]:
    """Per frame from the change's first: motion? ``what``: "shading" or "person"; ``busy``: flips a frame there."""
    plate, rng = _plate(), np.random.default_rng(6)
    x, y, w, h = PATCH
    shade = np.zeros(plate.shape, np.float32)
    cv2.rectangle(shade, (x, y), (x + w, y + h), 1.0, -1)
    gain = 1 + 0.2 * cv2.GaussianBlur(shade, (0, 0), 1)
    detector = create_detector(MotionConfig(), fps=FPS)
    verdicts = []
    for index in range(BEFORE + frames):
        image = plate.copy()
        if index >= BEFORE and what == "shading":
            image *= gain
        elif index >= BEFORE:
            image[y:y + h, x:x + w] = 60
        image += rng.normal(0, 1, image.shape).astype(np.float32)
        result = detector.detect(cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
        if index == BEFORE - 5:
            detector.busy.busy[BUSY] = busy  # leaves flip there now and then
        if index >= BEFORE:
            verdicts.append(result.motion)
    return verdicts


def test_a_faint_smooth_change_in_a_busy_place_starts_no_motion() -> None:
    """The leaves' case: before the rule, motion on all 4 frames (an event from the 2nd); now on none."""
    assert _motion("shading") == [False] * 4


def test_the_same_change_in_a_quiet_place_is_still_motion() -> None:
    """Quiet places are untouched: the same brightening where nothing flips is motion from its first frame."""
    assert _motion("shading", busy=0.0) == [True] * 4


def test_a_plain_person_in_the_busy_place_is_motion_from_the_first_frame() -> None:
    """A plain, dark person is smooth too, but strong: seen on his first frame, as before the rule."""
    assert _motion("person") == [True] * 4


def test_faint_shading_tells_a_faint_gain_from_a_strong_one_and_from_a_rough_change() -> None:
    """The measure itself: x1.2 smooth is shading; x2 smooth is not (too strong); texture replaced is not."""
    rng = np.random.default_rng(1)
    reference = cv2.GaussianBlur(rng.uniform(100, 200, (60, 60)).astype(np.float32), (0, 0), 4)
    mask = np.zeros((60, 60), np.uint8)
    mask[20:40, 20:40] = 255
    box = (20, 20, 20, 20)
    faint, strong, rough = reference.copy(), reference.copy(), reference.copy()
    faint[20:40, 20:40] *= 1.2
    strong[20:40, 20:40] *= 2.0
    rough[20:40, 20:40] = rng.uniform(40, 250, (20, 20))
    assert faint_shading(faint, reference, mask, box)
    assert not faint_shading(strong, reference, mask, box)
    assert not faint_shading(rough, reference, mask, box)
