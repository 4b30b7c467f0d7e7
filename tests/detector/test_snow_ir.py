"""Snow (or dust) and rain falling in the IR light of an empty scene (bench/outside/FINDINGS.md, defect 40).

Found by the outside footage check (``bench/outside/footage_check.py``, kind ``snow-ir-empty``): at
mean gray 15 (IR-lit, over ``dark_threshold``) 40 small flakes a second drifting down started an
event within 0.3-4 s that lasted most of the 24 s clip, on every seed (205-208), both detectors.
The pixel threshold there is NOISE_K times the noise floor (~2.2 levels); a flake a fraction of a
pixel at the 160 px detection width still lifts a few pixels over it, ``_contours`` opens and
dilates neighbouring ones into blobs over ``min_area_fraction``, and each counts. Two rules now:
while the picture is full of separate changed specks (``glints.snowing``) a glint need not be
faint, so a blob of a few bright specks never starts motion (``glints.is_glint``); and a blob
that only adds light (a streak of rain, ``glints.adds_light``) after a look with motion must
overlap it, in a quiet place too (``activity.Persistence``): rain falls further in a look than a
streak is long. Big flakes near the lens (one bright round blob falling) are not covered.

The scene is drawn: box_in_scene.png brought to a mean of 15, sensor noise, small bright flakes
(radius 1 px at 320 px wide, +60 gray) falling at 20-55 px/s, 40 a second; nobody in view, or
a plain figure lit brighter than the wall walking in at 2 s (``test_torch_walker``'s).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench.native_parity import native_trace, python_trace
from quickcam.common.config import MotionConfig
from tests.detector.test_torch_walker import ENTERS_S, STILL, H, W, _walker_mask, needs_still
from tests.native_build import native_detector

FPS = 12.0
SECONDS = 12.0


def _plate() -> np.ndarray:
    gray = cv2.imread(str(STILL), cv2.IMREAD_GRAYSCALE)
    plate = cv2.resize(gray, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    return plate * (15.0 / float(plate.mean()))


def _scene(snow: bool, seed: int, walker: bool = False) -> list[np.ndarray]:
    plate = _plate()
    rng = np.random.default_rng(seed)
    flakes: list[list[float]] = []
    frames = []
    for _ in range(int(SECONDS * FPS)):
        image = plate.copy()
        if snow:
            for _ in range(rng.poisson(40 / FPS)):
                flakes.append([rng.uniform(0, W), rng.uniform(-10, H * 0.3), rng.uniform(20, 55)])
            layer = np.zeros((H, W), np.float32)
            for flake in flakes:
                cv2.circle(layer, (int(flake[0]), int(flake[1])), 1, 60.0, -1)
                flake[1] += flake[2] / FPS
            flakes = [f for f in flakes if f[1] < H + 15]
            image += cv2.GaussianBlur(layer, (0, 0), 0.5)
        if walker and len(frames) / FPS >= ENTERS_S:
            image[_walker_mask(len(frames) / FPS) > 0] = 40.0  # lit by the IR: brighter than the wall, as a flake
        image += rng.normal(0, 2.7, image.shape).astype(np.float32)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def _rain(seed: int) -> list[np.ndarray]:
    """From 1 s, one bright streak a look (a raindrop, 12 px long at the detection width), each in the other half."""
    plate = _plate()
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(int(4 * FPS)):
        image = plate.copy()
        if index >= FPS:
            x, y = (rng.uniform(0.1, 0.45) + 0.5 * (index % 2)) * W, rng.uniform(0.1, 0.7) * H
            layer = np.zeros((H, W), np.float32)
            cv2.line(layer, (int(x), int(y)), (int(x) + 1, int(y) + 24), 30.0, 2)
            image += cv2.GaussianBlur(layer, (0, 0), 0.75)
        image += rng.normal(0, 2.7, image.shape).astype(np.float32)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def _event_looks(motion: list[bool]) -> int:
    """Looks with motion on the look before too (two in a row start an event: ``trigger_frames``)."""
    return sum(1 for i in range(1, len(motion)) if motion[i] and motion[i - 1])


@needs_still
def test_the_scene_without_snow_is_quiet() -> None:
    assert _event_looks([v.motion for v in python_trace(_scene(False, 1), MotionConfig(), FPS)]) == 0


@needs_still
@pytest.mark.parametrize("seed", [
    pytest.param(1, marks=pytest.mark.xfail(strict=True, reason="defect 40: flakes falling together join into "
                                            "one piece over GLINT_PIECE (FINDINGS.md)")),
    2, 3])
def test_small_flakes_in_ir_light_start_no_event_in_either_core(seed: int) -> None:
    frames = _scene(True, seed)
    motion = [v.motion for v in python_trace(frames, MotionConfig(), FPS)]
    assert _event_looks(motion) == 0
    assert [v.motion for v in native_trace(native_detector(), frames, (W, H), FPS)] == motion


@needs_still
def test_a_walker_in_the_snow_starts_the_first_event_as_he_comes_in() -> None:
    motion = [v.motion for v in python_trace(_scene(True, 3, walker=True), MotionConfig(), FPS)]
    first = next(i for i in range(1, len(motion)) if motion[i] and motion[i - 1])
    assert round(ENTERS_S * FPS) <= first <= round((ENTERS_S + 0.5) * FPS), first


@needs_still
@pytest.mark.parametrize("seed", [1, 2])
def test_raindrops_that_never_overlap_the_last_look_start_no_event(seed: int) -> None:
    frames = _rain(seed)
    motion = [v.motion for v in python_trace(frames, MotionConfig(), FPS)]
    assert sum(motion) >= FPS, "the streaks must be seen, one look in two"
    assert _event_looks(motion) == 0
    assert [v.motion for v in native_trace(native_detector(), frames, (W, H), FPS)] == motion
