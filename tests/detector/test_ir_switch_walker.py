"""Someone who comes in as the camera switches to IR (bench/outside/FINDINGS.md, footage check 3, defect 80).

Found by the outside footage check (``bench/outside/footage_check.py``, kind ``ircut-vignette-arrive``):
at dusk the IR-cut filter moves and the IR LEDs come on; the picture turns grey, 2-3 times brighter,
brighter in the LEDs' cone than at the edges, noisier. A walker coming in as it happened was caught
1.6-3.3 s late by both detectors, and 17-40 % of his time was not recorded. The jump is under
``MAX_GAIN``, so it is no global change: the gain is divided out, and since the background learns the
frames brought to its own exposure, the gain cells stay LIGHT_MOVED off for as long as the light stays
(``moving`` on every frame), and ``light_context`` with them; his smooth blobs were light by the
context alone, and each armed it again. Now a big switch of light up (``SwitchWatch``: the mean lifted
out of its flicker by BIG_SWITCH or more) is taken as a global change is for LIGHT_CONTEXT_S: a blob that
moved since the last frame is not light for its smoothness alone, and light by the context alone does
not arm it again. That brings his onset back (15-17 frames -> 5-6 here, seeds 1-3; 62f28f5 fails the
onset test: 15 and 16 frames), not the rest of his time: after LIGHT_CONTEXT_S the divided gain keeps
the context armed and he is seen on 17-19 of 42 frames in view (41 without the switch): strict xfail.

The scene is drawn: ``box_in_scene.png`` at a mean of 12 in colour-night noise, switched to IR (2.3 x,
brighter in the middle, noisier) as a plain figure at half the room's light steps in from the left.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.native_parity import native_trace, python_trace
from quickcam.common.config import MotionConfig
from tests.detector.test_torch_walker import ENTERS_S, FPS, STILL, H, W, _walker_mask, needs_still, onset_after
from tests.native_build import native_detector

SECONDS = 6.0
SWITCH_S = ENTERS_S - 0.1  # the filter moves as he reaches the edge
IN_VIEW = round((ENTERS_S + 0.5) * FPS)  # the first frame he is in view (half his width in)


def _scene(switch: bool, seed: int) -> list[np.ndarray]:
    """The room at mean 12; from SWITCH_S (``switch``) IR: 2.3 x, a cone 1.5 x in the middle to 0.5 x at the corners."""
    gray = cv2.imread(str(STILL), cv2.IMREAD_GRAYSCALE)
    plate = cv2.resize(gray, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    plate *= 12.0 / float(plate.mean())
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cone = np.clip(1.55 - 1.1 * (((xx - W / 2) / (0.6 * W)) ** 2 + ((yy - H / 2) / (0.6 * H)) ** 2), 0.35, 1.6)
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(int(SECONDS * FPS)):
        t = index / FPS
        image = plate.copy()
        if t >= ENTERS_S:
            image[_walker_mask(t) > 0] = 6.0
        ir = switch and t >= SWITCH_S
        if ir:
            image *= 2.3 * cone
        image += rng.normal(0, 2.5 if ir else 1.5, image.shape).astype(np.float32)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def _onset(motion: list[bool]) -> int | None:
    return onset_after(motion, IN_VIEW)


@needs_still
@pytest.mark.parametrize("seed", [1, 2])
def test_a_walker_without_the_switch_is_seen_within_half_a_second(seed: int) -> None:
    onset = _onset([v.motion for v in python_trace(_scene(False, seed), MotionConfig(), FPS)])
    assert onset is not None and onset <= FPS / 2, f"onset {onset} frames"


@needs_still
@pytest.mark.parametrize("seed", [1, 2])
def test_a_walker_who_comes_in_as_the_camera_switches_to_ir_is_seen_within_half_a_second(seed: int) -> None:
    onset = _onset([v.motion for v in python_trace(_scene(True, seed), MotionConfig(), FPS)])
    assert onset is not None and onset <= FPS / 2, f"onset {onset} frames"


@needs_still
@pytest.mark.xfail(strict=True, reason="defect 80, the rest: the gain divided out for good keeps light_context armed "
                   "(normalise_gain's moving on every frame); his smooth blobs are light by it (17-19 of 42 frames)")
@pytest.mark.parametrize("seed", [1, 2])
def test_he_is_held_while_in_view_after_the_switch(seed: int) -> None:
    motion = [v.motion for v in python_trace(_scene(True, seed), MotionConfig(), FPS)][IN_VIEW:]
    assert sum(motion) >= 0.8 * len(motion), f"seen on {sum(motion)} of {len(motion)} frames in view"


@needs_still
def test_the_native_core_sees_him_as_python_does() -> None:
    frames = _scene(True, 2)
    python = [v.motion for v in python_trace(frames, MotionConfig(), FPS)]
    native = [v.motion for v in native_trace(native_detector(), frames, (W, H), FPS)]
    assert native == python
