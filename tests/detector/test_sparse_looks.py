"""Sparse looks (``idle_detect_fps``, keyframes only, low power): the motion core's counters count time.

Its counters (the light context, the re-learning after a switch, the
stillness rule's arming, the hold, the person check's clock) were counted in
looks, turned from seconds at the source's rate: looking once every 2 s at a
10 fps camera, each lasted 20 times longer in real time. A plainly dressed
person who came in seconds after the light stepped was still inside the
light's context (2 s meant, 40 s lived) and his smooth change was taken for
light. ``detect`` is now told how many source frames passed since its last
look (``detector/motion/looks.py``); looking at every frame nothing changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig, RecordingConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.base import DARK_SMOOTHING, LIGHT_CONTEXT_S
from quickcam.detector.motion.looks import context_step, smoothing_weight

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "tests/data/vtest.avi"
SIZE = (384, 288)
FPS = 15.0
EVERY = 15  # source frames between two looks: one look a second (idle_detect_fps = 1, or a 1 s GOP keyframes only)

# Its tests share the corpus's composers (below), made once on one worker.
pytestmark = pytest.mark.one_worker


@pytest.fixture(scope="module")
def composer() -> Iterator[Callable[[str], Any]]:
    """The corpus's composer of a split, made once for the module (``bench/detection_corpus.py``).

    A composer took 9-14 s (vtest.avi read and its empty plate made, 5 s; the split's walkers tracked,
    4 s), three times: twice the held-out split's, once the tune split's. Now the video and its plate
    once, each split's walkers once; the clips' frames are the same to the bit.
    """
    sys.path.insert(0, str(REPO / "bench"))
    from detection_corpus import SPLITS, VIDEO, Composer, load_video, plate_of  # noqa: PLC0415 (bench/)

    made: dict[str, Composer] = {}
    loaded: list[Any] = []

    def of(split: str) -> Composer:
        if not loaded:
            frames = load_video(VIDEO)
            loaded.append((frames, plate_of(frames)))
        if split not in made:
            made[split] = Composer(SPLITS[split], loaded=loaded[0])
        return made[split]

    yield of
    made.clear()  # some 250 MB of frames: not kept for the rest of the worker's tests
    loaded.clear()


def _picture(plate: np.ndarray, gain: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    image = plate * gain + rng.normal(0, 1.5, plate.shape)
    return cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def test_a_context_steps_down_by_the_frames_passed_but_holds_until_the_next_look() -> None:
    assert context_step(1, 20) == 1  # every frame looked at: as always
    assert context_step(10, 20) == 10
    assert context_step(20, 20) == 19  # looks as far apart as the context: it still covers the next one
    assert context_step(0, 20) == 1


def test_a_light_context_ends_within_seconds_with_one_look_a_second() -> None:
    """A lamp lights a third of the room for a moment; counted in looks, its context lasted 30 s, not 2 s."""
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    plate = np.clip(110 + 30 * texture / texture.std(), 0, 255).astype(np.float32)
    lamp = np.ones_like(plate)
    lamp[:, : SIZE[0] // 3] = 1.6
    lamp = cv2.GaussianBlur(lamp, (0, 0), 25)
    rng = np.random.default_rng(8)
    detector = create_detector(MotionConfig(), fps=FPS)
    for _ in range(int(3 * FPS)):
        detector.detect(_picture(plate, 1.0, rng))
    detector.detect(_picture(plate, lamp, rng), EVERY)
    assert detector.light_context > 0
    looks = 0
    while detector.light_context and looks < 30:  # one look a second, the lamp off again
        detector.detect(_picture(plate, 1.0, rng), EVERY)
        looks += 1
    assert looks <= LIGHT_CONTEXT_S + 2, looks


@pytest.mark.skipif(not VTEST.exists(), reason="tests/data/vtest.avi missing: scripts/install_test_tools.sh")
@pytest.mark.parametrize(("idle_fps", "at_least"), [(1.0, 4), (0.5, 2)])
def test_plainly_dressed_walkers_after_a_light_step_are_seen_when_looking_seldom_while_idle(
        composer: Callable[[str], Any], idle_fps: float, at_least: int) -> None:
    """The held-out corpus's four walkers in a flat colour, each coming in as the light steps or 1 s after it.

    Every frame looked at: 4/4. With ``idle_detect_fps`` 1 and 0.5 the
    looks-counted core saw 3/4 and 0/4 (benchmarks section 12c).
    """
    from detection_quality import Watcher, score  # noqa: PLC0415 (bench/, on the path: the composer fixture)

    clip = composer("held-out").clip("flat walker and a light step")
    watcher = Watcher(MotionConfig(idle_detect_fps=idle_fps), RecordingConfig())
    index = -1
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
    result = score(watcher.finish(index), clip, pre_roll=20, post_roll=50)
    assert result.people == 4
    assert result.caught >= at_least, (result.caught, result.onsets)
    assert result.false_lighting == result.false_quiet == 0


def test_the_darks_averaging_forgets_as_many_frames_as_passed_since_the_last_look() -> None:
    assert smoothing_weight(DARK_SMOOTHING, 1) == DARK_SMOOTHING  # every frame looked at: as always, to the bit
    assert smoothing_weight(DARK_SMOOTHING, 0) == DARK_SMOOTHING
    assert smoothing_weight(0.5, 5) == 1 - 0.5 ** 5  # a look at 2 fps on a 10 fps camera: the last look keeps 3 %
    assert smoothing_weight(0.1, 2) == pytest.approx(0.19)


@pytest.mark.skipif(not VTEST.exists(), reason="tests/data/vtest.avi missing: scripts/install_test_tools.sh")
def test_walkers_in_the_dark_are_seen_by_the_low_power_governors_floor(composer: Callable[[str], Any]) -> None:
    """The tune corpus's "dark" condition at 2 fps (``bench/low_power_recall.py``'s governor): 5/5, as every frame.

    Averaged per look, each look in the dark was half the one 0.5 s before: the
    walker became two faint ghosts, smooth enough to be taken for light, and one
    of the five was never seen (4/5; every frame looked at: 5/5).
    """
    from detection_quality import Watcher, score  # noqa: PLC0415 (bench/, on the path: the composer fixture)
    from low_power_recall import governor_at  # noqa: PLC0415

    clip = composer("tune").clip("dark")
    watcher = Watcher(MotionConfig(), RecordingConfig(), governor=governor_at(2.0)())
    index = -1
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
    result = score(watcher.finish(index), clip, pre_roll=20, post_roll=50)
    assert result.people == 5
    assert result.caught == 5, (result.caught, result.onsets)
    assert result.false_lighting == result.false_quiet == 0
