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
    return np.clip(120 + 30 * texture / texture.std(), 0, 255).astype(np.float32)


def _motion(walk_frames: int) -> list[bool]:
    """Per frame from the patch's first: motion? The light flickers +-2 % all along.

    The lower half is water the busy map knows for busy (set here as a
    minute of ripples would have taught it: a synthetic ripple that the busy
    map learns is also taken for light or cut by the raised threshold, and
    would test those rules instead). ``walk_frames`` 0: a patch lights up on
    it at once and stays still for 3 s, as a glint that stays lit. Else a
    person walks onto it over that many frames, 4 px a frame, and stands
    there for the rest of the 3 s.
    """
    plate, rng = _plate(), np.random.default_rng(6)
    detector = create_detector(MotionConfig(), fps=FPS)
    height, width = PATCH
    motion = []
    for index in range(90):
        image = plate.copy()
        if index == 59:
            water = detector.busy.busy
            water[water.shape[0] * WATER // SIZE[1]:] = 0.2  # flips per frame: a busy place (``activity.BusyMap``)
        if index >= 60:
            x = 180 - 4 * max(0, walk_frames - (index - 60))
            image[170:170 + height, x:x + width] = 40
        gain = 1.0 + (0.02 if index % 2 else -0.02)  # the mean moves 4 % between frames: a flicker
        image = image * gain + rng.normal(0, 2, image.shape)
        gray = np.clip(image, 0, 255).astype(np.uint8)
        result = detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
        if index >= 60:
            motion.append(result.motion)
    return motion


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
    """Seen from his first frame through his first second standing (he stands from frame 6).

    Later the busy map's reach (the background's range over 5x5 pixels,
    learnt around him) wears a person standing in a busy place away after
    about 2 s, on main too: not this rule's doing, and not tested here.
    """
    motion = _motion(walk_frames=6)
    assert all(motion[:16]), motion
