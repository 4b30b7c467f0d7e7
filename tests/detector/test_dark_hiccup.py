"""An encoder's hiccup in a dark room is not a light switched (bench/outside/FINDINGS.md, footage check, session 20).

At a mean gray of 7 the encoder's rate control now and then moves the whole picture's mean by a
fifth of a gray level for a frame: 3 %, ``LIGHT_JUMP``. ``SwitchWatch`` took it for a light switched
and for 2 s a blob that stood still since the frame before was "what the light left behind", and
the whole picture was learnt with it: a dim walker nearly still from one frame to the next, or one
who stopped, was lost (footage check: a walker lost mid-walk; one who stood 16 s never seen, both
detectors). A switch (or a flicker's jump) must now also move the mean by ``LIGHT_JUMP_LEVELS``.

The scene: ``test_torch_walker``'s dark room brought to a mean of 7, a dim figure (gray 4) walks in
for 4 s and stands; one frame 1 s after he stopped is a fifth of a gray level brighter all over.
Before the rule he was lost at that frame, in both cores (checked: the verdicts of 0b08dfc's Python
core end at frame 72, the hiccup's, on each seed).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.native_parity import native_trace, python_trace
from quickcam.common.config import MotionConfig
from quickcam.detector.motion.switch_watch import LIGHT_JUMP, SwitchWatch
from tests.detector.test_torch_walker import ENTERS_S, FPS, STILL, H, W, _walker_mask, needs_still
from tests.native_build import native_detector

SECONDS = 10.0
STOPS_S = 5.0  # he walks in from 1 s and stands from here
HICCUP_S = 6.0  # the frame the encoder makes brighter all over
HICCUP = 0.25  # gray levels: 3.5 % of the room's mean


def _scene(seed: int) -> list[np.ndarray]:
    gray = cv2.imread(str(STILL), cv2.IMREAD_GRAYSCALE)
    plate = cv2.resize(gray, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    plate *= 7.0 / float(plate.mean())
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(int(SECONDS * FPS)):
        t = index / FPS
        image = plate.copy()
        if t >= 1.0:
            image[_walker_mask(ENTERS_S + min(t, STOPS_S) - 1.0) > 0] = 4.0
        if index == round(HICCUP_S * FPS):
            image += HICCUP
        image += rng.normal(0, 1.5, image.shape).astype(np.float32)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def test_a_fifth_of_a_gray_level_in_the_dark_is_not_a_switch() -> None:
    watch = SwitchWatch(24)
    for level in [7.29, 7.30, 7.28, 7.29, 7.30, 7.29]:
        watch.watch(level)
    assert LIGHT_JUMP <= (7.53 - 7.29) / 7.29  # the encoder's step is a "jump" by share alone
    watch.watch(7.53)
    assert not watch.switched and not watch.flickering
    watch.watch(22.0)  # a lamp switched on in that room is one
    assert watch.switched


@needs_still
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_dim_walker_who_stopped_is_held_through_an_encoders_hiccup(seed: int) -> None:
    motion = [v.motion for v in python_trace(_scene(seed), MotionConfig(), FPS)]
    stood = round(STOPS_S * FPS)
    assert any(motion[:stood]), "never seen walking in"
    assert all(motion[stood:]), f"lost while he stood (hiccup at frame {round(HICCUP_S * FPS)}): {motion[stood:]}"


@needs_still
def test_the_native_core_holds_him_through_the_hiccup_as_python_does() -> None:
    frames = _scene(1)
    python = [v.motion for v in python_trace(frames, MotionConfig(), FPS)]
    native = [v.motion for v in native_trace(native_detector(), frames, (W, H), FPS)]
    assert native == python
    assert all(native[round(STOPS_S * FPS):])
