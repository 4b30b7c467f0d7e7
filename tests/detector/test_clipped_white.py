"""A person of the target's size walking before a background clipped at white (benchmarks section 7c).

Seen while tracing the quiet hours' walker under TV light (a pair of legs on
stuff.jpg's white lid: not one changed pixel): while a gain is divided out,
``normalise_gain`` leaves out every pixel clipped now *or in the background*,
so a dark figure before a blown-out window or a white wall is not compared at
all while the light changes. Steady light divides no gain out and sees him on
every frame; under a television's light, on 0.98 of the frames before a grey
wall and on 0.16 before white. Known, not fixed: the second test is a strict
``xfail`` that flags the fix when it comes.
"""

from __future__ import annotations

import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector

SIZE = (384, 288)


def _motion_share(light: str, white: int) -> float:
    """Share of the frames with a 0.5 %-of-the-frame dark figure crossing a ``white`` patch that show motion.

    ``light``: "steady", or "tv" (a level 4-30 % above normal, cut every 1.5 s, a 2 % flicker on it).
    """
    rng = np.random.default_rng(3)
    detector = create_detector(MotionConfig(), fps=10.0)
    width, height = SIZE
    plate = np.full((height, width, 3), 140, np.uint8) + rng.integers(0, 20, (height, width, 1), dtype=np.uint8)
    plate[60:220, 100:300] = white  # a window or a white wall
    level, seen = 1.0, []
    for index in range(200):
        if light == "tv" and index % 15 == 0:
            level = float(rng.uniform(1.04, 1.3))
        gain = level * (1 + 0.02 * rng.standard_normal()) if light == "tv" else 1.0
        image = plate.astype(np.float32)
        if index >= 100:  # 14 x 40 px (0.51 % of the frame), 2 px a frame, all the way over the patch
            x = 110 + (index - 100) * 2
            image[150:190, x:x + 14] = 60
        frame = np.clip(image * gain + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        motion = detector.detect(frame).motion
        if index >= 100:
            seen.append(motion)
    return sum(seen) / len(seen)


def test_a_figure_before_white_is_seen_on_every_frame_in_steady_light_and_before_grey_under_a_tv() -> None:
    assert _motion_share("steady", 255) == 1.0
    assert _motion_share("tv", 200) >= 0.9  # under the TV, before a grey that is not clipped: 0.98


@pytest.mark.xfail(strict=True, reason="known: pixels clipped in the background are not compared while a gain "
                                       "is divided out (normalise_gain); 0.16 of the frames today")
def test_a_figure_before_clipped_white_under_a_tv_is_seen_as_before_grey() -> None:
    assert _motion_share("tv", 255) >= 0.9
