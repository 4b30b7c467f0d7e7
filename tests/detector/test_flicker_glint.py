"""A glint on flickering water that stays lit, against a person who walks into the water and stops (7c).

In a flickering light a still blob that continues last frame's motion counts
(a person who arrived moving and now stands: ``test_flicker_stillness.py``).
Over water that let a glint start events: counted on its first frame (the
frame before had no motion, so ``Persistence`` lets a busy place's blob
through), still on its second, it stood on its own one-frame motion. In a
busy place a still blob now counts only once the motion it continues has
lasted ``trigger_frames`` (``SwitchWatch.stood``); a person who walked in
has, and stays seen.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector

SIZE = (384, 288)
FPS = 10.0
WATER = 144  # rows from here down ripple: a busy place
PATCH = (40, 28)  # height, width of the glint / the person: about 1 % of the frame


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    return np.clip(120 + 30 * texture / texture.std(), 0, 255).astype(np.float32)  # gray


def frames(walk_frames: int) -> list[np.ndarray]:
    """The clip: 60 frames before the patch, 30 with it; the light flickers +-2 % all along.

    The lower half is water: for the first 5 s it rocks the reflection by
    up to 2 px a frame (the busy map learns it for a busy place; the
    threshold raised there keeps the rocking itself out), then lies calm.
    ``walk_frames`` 0: a patch (1 % of the frame) lights up on it at once and
    stays still for 3 s, as a glint that stays lit. Else a person walks onto
    it over that many frames, 4 px a frame, and stands there for the rest of the 3 s.
    """
    plate, rng = _plate(), np.random.default_rng(6)
    height, width = PATCH
    clip = []
    for index in range(90):
        image = plate.copy()
        if index < 50:
            dx, dy = rng.integers(-2, 3, 2)
            image[WATER:] = np.roll(plate, (int(dy), int(dx)), (0, 1))[WATER:]
        if index >= 60:
            x = 180 - 4 * max(0, walk_frames - (index - 60))
            image[170:170 + height, x:x + width] = 40
        gain = 1.0 + (0.02 if index % 2 else -0.02)  # the mean moves 4 % between frames: a flicker
        image = image * gain + rng.normal(0, 2, image.shape)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def _motion(walk_frames: int) -> list[bool]:
    """Per frame from the patch's first: motion?"""
    detector = create_detector(MotionConfig(), fps=FPS)
    verdicts = [detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)).motion for gray in frames(walk_frames)]
    return verdicts[60:]


def _onset(motion: list[bool], trigger_frames: int = 2) -> int | None:
    for index in range(len(motion) - trigger_frames + 1):
        if all(motion[index:index + trigger_frames]):
            return index + trigger_frames - 1
    return None


def test_a_glint_that_lights_up_and_stays_on_flickering_water_starts_no_event() -> None:
    motion = _motion(walk_frames=0)
    assert motion[0], "the glint was not seen at all (the test shows nothing)"
    assert _onset(motion) is None, motion


def test_a_person_who_walks_into_flickering_water_and_stands_stays_seen() -> None:
    motion = _motion(walk_frames=6)
    assert all(motion), motion  # from his first frame to the last, 2.4 s of them standing
