"""A person who stands on flickering water, appeared at once or walked in: the stood rule must keep him (7c).

In a flickering light a still blob that continues last frame's motion counts
(``SwitchWatch`` and ``crept_in``: a person who arrived moving and now stands).
The held-out quiet hours paid for it with glints on flickering water (quiet
20: 5 -> 10 false events). A rule tried against them (branch s6-detection2,
reverted): in a busy place, a still blob counts only once the motion it
continues has lasted ``trigger_frames``. To the motion core a glint that
lights up and stays lit is this clip with ``walk_frames`` 0, and that rule
lost the person in it, as it lost the tune side's walker 25 over water
(``bench/water_walkers.py``, seeds 1 and 2: he appears at once and stands).
These tests keep both people for the next rule against glints. The last two
run the same people after 25 s of rocking water, once the busy map has
learnt for ``BUSY_S`` (a rule may trust the map only then): a rule that asks a
blob in a busy place to *go* somewhere before it counts (branch s7-sway,
benchmarks 7c: water glints, a curtain's hem and leaves sway about their
place) lost the person who appears and stands there, as every such rule must.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.activity import BUSY_S

SIZE = (384, 288)
FPS = 10.0
WATER = 144  # rows from here down are water: a busy place
PATCH = (40, 28)  # height, width of the person: about 1 % of the frame


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    return np.clip(120 + 30 * texture / texture.std(), 0, 255).astype(np.float32)  # gray


def frames(walk_frames: int, before: int = 60, rocking: int = 50) -> list[np.ndarray]:
    """The clip: ``before`` frames (60) before the patch, 30 with it; the light flickers +-2 % all along.

    The lower half is water: for the first ``rocking`` frames (5 s) it rocks the reflection by
    up to 2 px a frame (the busy map learns it for a busy place; the
    threshold raised there keeps the rocking itself out), then lies calm.
    ``walk_frames`` 0: a person (a patch of 1 % of the frame) appears on it at
    once and stands still for 3 s (a glint that lit up and stays lit looks
    the same). Else he walks onto it over that many frames, 4 px a frame, and
    stands there for the rest of the 3 s.
    """
    plate, rng = _plate(), np.random.default_rng(6)
    height, width = PATCH
    clip = []
    for index in range(before + 30):
        image = plate.copy()
        if index < rocking:
            dx, dy = rng.integers(-2, 3, 2)
            image[WATER:] = np.roll(plate, (int(dy), int(dx)), (0, 1))[WATER:]
        if index >= before:
            x = 180 - 4 * max(0, walk_frames - (index - before))
            image[170:170 + height, x:x + width] = 40
        gain = 1.0 + (0.02 if index % 2 else -0.02)  # the mean moves 4 % between frames: a flicker
        image = image * gain + rng.normal(0, 2, image.shape)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def _motion(walk_frames: int, before: int = 60, rocking: int = 50) -> list[bool]:
    """Per frame from the patch's first: motion?"""
    detector = create_detector(MotionConfig(), fps=FPS)
    verdicts = [detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)).motion
                for gray in frames(walk_frames, before, rocking)]
    assert before < BUSY_S * FPS or detector.busy.seen >= BUSY_S * FPS  # the long clips: the map fully learnt
    return verdicts[before:]


def test_a_person_who_appears_on_flickering_water_and_stands_stays_seen() -> None:
    """Walker 25's case: counted on his first frame only, then still; with the stood branch off, 1 frame of 30."""
    assert all(_motion(walk_frames=0)), "lost once he stood (the stood rule did not count him in a busy place)"


def test_a_person_who_walks_onto_flickering_water_and_stands_stays_seen() -> None:
    """From his first frame to the last, 2.4 s of them standing; with the stood branch off, 7 frames of 30."""
    assert all(_motion(walk_frames=6)), "lost once he stood"


LONG = {"before": 250, "rocking": 240}  # 25 s, the water rocking for 24 of them: past BUSY_S, the map is known


def test_a_person_who_appears_on_long_known_flickering_water_and_stands_stays_seen() -> None:
    """Walker 25's case once the busy map is known; the s7-sway rule (a busy blob must travel before it starts
    motion) saw him on 0 frames of 30."""
    assert all(_motion(walk_frames=0, **LONG)), "lost once he stood on water the busy map knew"


def test_a_person_who_walks_onto_long_known_flickering_water_and_stands_stays_seen() -> None:
    """The same with the walk in: main sees him on every frame (the s7-sway rule from his 4th)."""
    assert all(_motion(walk_frames=6, **LONG)), "lost once he stood on water the busy map knew"
