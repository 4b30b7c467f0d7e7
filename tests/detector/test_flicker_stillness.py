"""A person who appears while the light flickers and then stands nearly still (benchmarks section 7c).

Tune-side diagnosis of the walkers missed over water in the quiet hours
(``bench/water_walkers.py``): a 3 % light flicker moves the frame's mean by
more than ``LIGHT_JUMP`` between two frames about half the time, so the
stillness rule (``SwitchWatch.still``, meant for what a switched lamp leaves behind) is
armed nearly always; a person who stood still on his second frame was taken
for it, absorbed into the background, and not seen again while he stayed.
Now a switch must also stand out of the flicker's own spread (``FLICKER_K``),
and in a flicker only a still blob that crept in (not last frame's motion) is
absorbed: the weather the flicker-armed rule used to keep out stays out.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector

SIZE = (384, 288)
FPS = 10.0


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    gray = np.clip(120 + 30 * texture / texture.std(), 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _motion(flicker: float, fade_frames: int = 0) -> list[bool]:
    """Per frame after the patch appears: motion? It stays (1 % of the frame) for 3 s; the light flickers.

    ``fade_frames`` 0: a person steps in and stands. Else the patch fades in
    over that many frames without moving, as a shadow's edge or a curtain's
    shading creeps over the threshold.
    """
    plate, rng = _plate(), np.random.default_rng(6)
    detector = create_detector(MotionConfig(), fps=FPS)
    blocks = cv2.resize(rng.normal(0, 40, (8, 6)).astype(np.float32), (28, 40), interpolation=cv2.INTER_NEAREST)
    stain = np.float32([60, 65, 70]) + blocks[..., None]  # a coarse pattern: its ratio to the wall is rough, not light
    motion = []
    for index in range(90):
        image = plate.astype(np.float32)
        if index >= 60:
            patch = image[150:190, 180:208]  # 28 x 40 px: about 1 % of the frame
            if fade_frames:
                image[150:190, 180:208] = patch + min(1.0, (index - 59) / fade_frames) * (stain - patch)
            else:
                image[150:190, 180:208] = (40, 45, 50)
        gain = 1.0 + (flicker if index % 2 else -flicker)  # the mean moves 2 * flicker between frames
        image = image * gain + rng.normal(0, 2, image.shape)
        result = detector.detect(np.clip(image, 0, 255).astype(np.uint8))
        if index >= 60:
            motion.append(result.motion)
    return motion


def _onset(motion: list[bool], trigger_frames: int = 2) -> int | None:
    for index in range(len(motion) - trigger_frames + 1):
        if all(motion[index:index + trigger_frames]):
            return index + trigger_frames - 1
    return None


def test_a_person_who_appears_and_stands_in_steady_light_starts_an_event_at_once() -> None:
    onset = _onset(_motion(0.0))
    assert onset is not None and onset <= 3, onset


def test_a_person_who_appears_and_stands_while_the_light_flickers_starts_an_event_at_once() -> None:
    onset = _onset(_motion(0.02))
    assert onset is not None and onset <= 3, onset


def test_a_still_patch_that_creeps_in_while_the_light_flickers_is_absorbed() -> None:
    """The flicker-armed stillness rule kept such weather out; a switch test alone let it start events."""
    assert _onset(_motion(0.02, fade_frames=20)) is None


def test_a_lamp_switched_in_a_flickering_light_still_arms_the_stillness_rule() -> None:
    """The flicker raises the jump a switch needs, not past a lamp's: the rule after a switch keeps working."""
    plate, rng = _plate().astype(np.float32), np.random.default_rng(7)
    detector = create_detector(MotionConfig(), fps=FPS)
    switched, flickering = [], []
    for index in range(80):
        level = 1.0 if index < 60 else 0.8  # a lamp goes off on frame 60: the mean drops 20 %
        gain = level * (1.0 + 0.02 * float(rng.standard_normal()))  # a 2 % flicker
        detector.detect(np.clip(plate * gain, 0, 255).astype(np.uint8))
        switched.append(detector.switch_watch.switched > 0)
        flickering.append(detector.switch_watch.flickering > 0)
    assert not any(switched[30:60]), "the flicker alone was taken for a switch"
    assert any(flickering[30:60]), "the flicker was not seen (the test's flicker is too weak to test anything)"
    assert all(switched[60:75]), "the lamp going off was not taken for a switch"
