"""Motion detection on generated frames and on real footage (vtest.avi)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig, ZonesConfig
from quickcam.detector.motion import ALGORITHMS, create_detector
from quickcam.detector.sources import DemoSource, Walk
from quickcam.detector.zones import build_zone_mask

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "tests/data/vtest.avi"
needs_vtest = pytest.mark.skipif(
    not VTEST.exists(), reason="tests/data/vtest.avi missing: scripts/install_test_tools.sh extracts it from "
    "Debian's opencv-doc (needs apt-get)")


def _demo(**kwargs: object) -> DemoSource:
    return DemoSource(320, 240, 15.0, realtime=False, **kwargs)


def _entering_frame(source: DemoSource) -> int:
    index = 0
    while source.walker_box(source.scene_time_s(index)) is None or source.walker_box(
            source.scene_time_s(index))[0] + source.walker_box(source.scene_time_s(index))[2] <= 0:
        index += 1
    return index


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_generated_walker_is_detected_within_three_frames_of_entering(algorithm: str) -> None:
    source = _demo()
    entering = _entering_frame(source)
    detector = create_detector(MotionConfig(algorithm=algorithm), fps=source.fps)
    first = next(i for i in range(entering + 30) if detector.detect(source.read().image).motion)
    assert entering <= first <= entering + 3


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("gain", [1.6, 0.55])
def test_a_lighting_step_is_not_motion_and_the_background_settles(algorithm: str, gain: float) -> None:
    source = _demo(walks=())
    detector = create_detector(MotionConfig(algorithm=algorithm), fps=source.fps)
    frames = [source.read().image for _ in range(90)]
    results = []
    for index, image in enumerate(frames):
        if index >= 40:
            image = cv2.convertScaleAbs(image, alpha=gain)
        results.append(detector.detect(image))
    assert not any(r.motion for r in results)
    assert not results[-1].global_change  # re-learned, watching again


def test_a_light_switched_off_and_on_is_a_global_change_not_motion() -> None:
    source = _demo(walks=())
    detector = create_detector(MotionConfig(), fps=source.fps)
    results = []
    for index in range(120):
        image = source.read().image
        if 40 <= index < 80:
            image = cv2.convertScaleAbs(image, alpha=0.04)
        results.append(detector.detect(image))
    assert not any(r.motion for r in results)
    assert results[40].global_change and results[80].global_change
    assert results[60].brightness < 10 < results[100].brightness


def test_a_lamp_lighting_one_side_of_the_room_is_not_motion() -> None:
    source = _demo(walks=())
    detector = create_detector(MotionConfig(), fps=source.fps)
    lamp = np.tile(np.linspace(1.0, 1.7, 320, dtype=np.float32), (240, 1))[..., None]
    for index in range(90):
        image = source.read().image
        if index >= 40:
            image = np.clip(image * lamp, 0, 255).astype(np.uint8)
        assert not detector.detect(image).motion, index


def test_zones_suppress_motion_outside_them() -> None:
    # The demo walker crosses the bottom half; watch only the top half.
    top = ZonesConfig(include=[[(0.0, 0.0), (1.0, 0.0), (1.0, 0.35), (0.0, 0.35)]])
    bottom_excluded = ZonesConfig(exclude=[[(0.0, 0.4), (1.0, 0.4), (1.0, 1.0), (0.0, 1.0)]])
    for zones in (top, bottom_excluded):
        source = _demo(walks=(Walk(1.0, 4.0),))
        detector = create_detector(MotionConfig(), fps=15, zone_mask=build_zone_mask(zones, 320, 240))
        assert not any(detector.detect(source.read().image).motion for _ in range(75))
    source = _demo(walks=(Walk(1.0, 4.0),))
    inside = ZonesConfig(include=[[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]])
    detector = create_detector(MotionConfig(), fps=15, zone_mask=build_zone_mask(inside, 320, 240))
    assert any(detector.detect(source.read().image).motion for _ in range(75))


def test_a_mask_image_works_like_a_zone(tmp_path: Path) -> None:
    mask = np.zeros((60, 80), np.uint8)
    mask[:20] = 255  # top third watched
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    zone = build_zone_mask(ZonesConfig(mask=tmp_path / "mask.png"), 320, 240)
    assert zone is not None and zone[:70].all() and not zone[90:].any()
    source = _demo(walks=(Walk(1.0, 4.0),))
    detector = create_detector(MotionConfig(), fps=15, zone_mask=zone)
    assert not any(detector.detect(source.read().image).motion for _ in range(75))


def test_night_sensitivity_applies_only_in_the_dark() -> None:
    detector = create_detector(MotionConfig(dark_pixel_threshold=8), fps=15)
    assert detector.threshold_for(5.0) == 8
    assert detector.threshold_for(100.0) == 25


@pytest.fixture(scope="module")
def vtest_walkers() -> tuple[list[np.ndarray], np.ndarray, list]:
    """vtest.avi, its background plate, and six pedestrians tracked in its first 30 s."""
    if not VTEST.exists():
        pytest.skip("tests/data/vtest.avi missing")
    spec = importlib.util.spec_from_file_location("detection_quality", REPO / "bench/detection_quality.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["detection_quality"] = bench  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    frames = bench.load_video(VTEST)
    plate = np.median(np.stack(frames[::2]), axis=0).astype(np.uint8)
    return frames, plate, bench.walker_tracks(frames[:300], plate)[:6]


@needs_vtest
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_real_walkers_from_vtest_are_detected_within_a_few_frames(algorithm: str, vtest_walkers: tuple) -> None:
    """Each pedestrian, pasted alone on the scene's empty plate, is seen within a few frames."""
    frames, plate, tracks = vtest_walkers
    assert len(tracks) >= 4
    noise = np.empty(plate.shape, np.int16)

    def quiet() -> np.ndarray:
        cv2.randn(noise, 0, 3)
        return np.clip(plate.astype(np.int16) + noise, 0, 255).astype(np.uint8)

    delays = []
    for track in tracks:
        # A wide scene: people cover 0.2-1% of the frame, so it is watched as a user would set it.
        detector = create_detector(MotionConfig(algorithm=algorithm, min_area_fraction=0.002), fps=10)
        assert not any(detector.detect(quiet()).motion for _ in range(40))
        for step, (source_index, mask) in enumerate(zip(track.frames, track.masks, strict=False)):
            image = quiet()
            image[mask] = frames[source_index][mask]
            if detector.detect(image).motion:
                delays.append(step)
                break
    assert len(delays) == len(tracks), "a walker was never detected"
    assert max(delays) <= 5, delays
