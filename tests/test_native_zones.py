"""The native detector watches only a camera's zones, as the Python detector does (docs/native.md, "Zones").

The same gray frames go to Python's ``MotionDetector`` with ``zones.build_zone_mask``'s mask
and to ``quickcam-native-detector --motion-trace`` with the same ``[camera.zones]`` in its
config. The zone is the left 30 % minus a small excluded corner; the rest flickers
with heavy noise. Every use of the zone in ``base.py`` is exercised, and each is checked
against Python frame by frame:

- a walker on the right only (outside the zone): no motion from either core;
- a walker on the left: motion from both, with the same areas;
- the noise estimate sampled inside the zone only: the noisy outside would raise the
  threshold (so the same thresholds, frame by frame, prove the sampling);
- a change over 27 % of the frame, all inside the zone (90 % of it): a global change,
  because the zone's area is the denominator (over the whole frame it would not be).

A native core that ignores the zone fails this test: it sees the first walker, its
thresholds follow the noisy half, and the large change is blobs, not a global change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.native_parity import compare, native_trace, python_trace
from quickcam.common.config import MotionConfig, ZonesConfig
from quickcam.detector.sources import Walk
from quickcam.detector.zones import build_zone_mask
from tests.conftest import private_endpoint
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.test_native_motion import assert_cores_agree

WIDTH, HEIGHT, FPS = 320, 240, 10.0
INCLUDE = [[(0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)]]  # the left 30 %
EXCLUDE = [[(0.0, 0.0), (0.1, 0.0), (0.1, 0.1), (0.0, 0.1)]]  # minus its top-left corner
OUTSIDE = range(20, 40)  # a walker on the right, outside
INSIDE = range(50, 70)  # a walker on the left, inside
MOTION = MotionConfig(global_change_fraction=0.45)  # a sheet's pattern changes about half the pixels it covers
LARGE = 80  # from here on a change covers 90 % of the zone (27 % of the frame)


EDGE = int(WIDTH * 0.3)
CHECKS = np.where((np.indices((HEIGHT, WIDTH)) // 8).sum(axis=0) % 2, -35, 35)  # as bright on the whole


def _clip(seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    scene = 40 + 15 * np.sin(xx / 19.0) * np.cos(yy / 13.0)  # dim: the threshold follows the noise

    def frame(index: int) -> np.ndarray:
        image = scene + rng.normal(0, 2, scene.shape)
        image[:, EDGE:] += rng.normal(0, 25, (HEIGHT, WIDTH - EDGE))  # outside: heavy noise
        if index in OUTSIDE:
            x = 180 + 5 * (index - OUTSIDE.start)
            image[100:160, x:x + 24] = 0
        if index in INSIDE:
            x = 10 + 3 * (index - INSIDE.start)
            image[100:160, x:x + 24] = 0
        if index >= LARGE:
            image[:int(HEIGHT * 0.9), :EDGE] += CHECKS[:int(HEIGHT * 0.9), :EDGE]  # a patterned sheet hung up
        return np.clip(image, 0, 255).astype(np.uint8)

    return [frame(i) for i in range(LARGE + 10)]


def test_the_native_detector_watches_only_the_zones_and_judges_them_as_python_does(tmp_path: Path) -> None:
    binary = native_detector()
    frames = _clip()
    zones = ZonesConfig(include=INCLUDE, exclude=EXCLUDE)
    config = tmp_path / "quickcam.toml"
    config.write_text(f"[motion]\nglobal_change_fraction = {MOTION.global_change_fraction}\n"
                      f"[camera.zones]\ninclude = {_toml(INCLUDE)}\nexclude = {_toml(EXCLUDE)}\n")
    python = python_trace(frames, MOTION, FPS, build_zone_mask(zones, WIDTH, HEIGHT))
    native = native_trace(binary, frames, (WIDTH, HEIGHT), FPS, config_path=config)

    # What the clip proves (else agreement would prove little): Python's own verdicts.
    assert not any(v.motion for v in python[OUTSIDE.start:INSIDE.start]), "motion outside the zone is dropped"
    assert sum(v.motion for v in python[INSIDE.start:INSIDE.stop]) >= 12, "motion inside the zone counts"
    assert any(v.global_change for v in python[LARGE:LARGE + 2]), "90 % of the zone is a global change"
    unzoned = python_trace(frames, MOTION, FPS)
    assert sum(v.motion for v in unzoned[OUTSIDE.start:OUTSIDE.stop]) >= 15, "unzoned, the outside walker is motion"
    assert not any(v.global_change for v in unzoned[LARGE:]), "without the zone 27 % is not a global change"
    assert np.median([v.threshold for v in unzoned[10:20]]) > 1.2 * np.median([v.threshold for v in python[10:20]]), (
        "the noisy half outside the zone would raise the threshold")

    assert not any(v.motion for v in native[OUTSIDE.start:INSIDE.start]), "native: motion outside the zone"
    assert_cores_agree(python, native)
    assert [v.global_change for v in python] == [v.global_change for v in native]
    assert all(abs(p.area - n.area) < 0.01 for p, n in zip(python, native, strict=True) if p.global_change), (
        "a global change's area is its share of the zone")


def test_a_zone_mask_image_beside_the_config_file_is_watched_as_python_does(tmp_path: Path) -> None:
    """``mask`` names an image (white = watched), relative to the config file wherever the detector runs."""
    binary = native_detector()
    frames = _clip()[:LARGE]
    image = np.zeros((HEIGHT // 2, WIDTH // 2), np.uint8)  # another size than the picture: scaled
    image[:, :int(WIDTH // 2 * 0.3)] = 255
    (tmp_path / "cfg").mkdir()
    cv2.imwrite(str(tmp_path / "cfg" / "yard-zone-mask.png"), image)
    config = tmp_path / "cfg" / "quickcam.toml"
    config.write_text('[camera.zones]\nmask = "yard-zone-mask.png"\n')
    zones = ZonesConfig(mask=tmp_path / "cfg" / "yard-zone-mask.png")
    python = python_trace(frames, MotionConfig(), FPS, build_zone_mask(zones, WIDTH, HEIGHT))
    native = native_trace(binary, frames, (WIDTH, HEIGHT), FPS, config_path=config)

    assert not any(v.motion for v in python[OUTSIDE.start:INSIDE.start]), "the mask is exercised"
    assert any(v.motion for v in python[INSIDE.start:INSIDE.stop])
    agreement = compare(python, native)
    assert len(agreement.only_python) + len(agreement.only_native) <= 1, (
        f"motion differs at frames {agreement.only_python} (python only), {agreement.only_native} (native only)")
    assert agreement.threshold_share >= 0.99

    (tmp_path / "cfg" / "yard-zone-mask.png").unlink()
    run = subprocess.run([str(binary), "--config", str(config), "--motion-trace", f"{WIDTH}x{HEIGHT}"],
                         input=b"", capture_output=True, timeout=30)
    lines = run.stderr.decode().strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and "yard-zone-mask.png cannot be read" in lines[0], lines


@pytest.mark.parametrize(("zones", "problem"), [
    ('include = [[[0.1, 0.1], [0.9, 0.1]]]', "a polygon needs at least 3 points"),
    ('exclude = [[[0.1, 0.1], [1.5, 0.1], [0.5, 0.9]]]', "each between 0 and 1"),
])
def test_a_bad_zone_is_one_line_naming_the_key(tmp_path: Path, zones: str, problem: str) -> None:
    (tmp_path / "quickcam.toml").write_text(f"[camera.zones]\n{zones}\n")
    run = subprocess.run([str(native_detector()), "--config", str(tmp_path / "quickcam.toml"), "--print-config"],
                         capture_output=True, text=True, timeout=30)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert "camera.zones." in lines[0] and problem in lines[0], lines


def _toml(polygons: list[list[tuple[float, float]]]) -> str:
    return "[" + ", ".join("[" + ", ".join(f"[{x}, {y}]" for x, y in p) + "]" for p in polygons) + "]"


def test_the_native_detector_raises_no_event_for_a_walker_outside_its_zone(tmp_path: Path) -> None:
    """The camera path end to end (camera.cpp makes the mask at the first frame's size): a walker crosses
    the bottom half of a file; watching the top 40 % no event is cut, watching the bottom half one is."""
    clip = write_h264(tmp_path / "clip.mp4", 4.0, fps=10.0, walks=(Walk(1.0, 3.5),))
    runs = {}
    for name, top, bottom in (("outside", 0.0, 0.4), ("inside", 0.5, 1.0)):
        root = tmp_path / name
        root.mkdir()
        (root / "quickcam.toml").write_text(
            f'[camera]\nsource = "file"\npath = "{clip}"\nrealtime = false\n[recording]\nsegment_s = 1.0\n'
            f'[camera.zones]\ninclude = [[[0, {top}], [1, {top}], [1, {bottom}], [0, {bottom}]]]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
        with open(root / "stderr", "w") as log:
            runs[name] = (root, subprocess.Popen([str(native_detector()), "--config", "quickcam.toml"], cwd=root,
                                                 env=env | {"QUICKCAM_LINK__ENDPOINT": private_endpoint(root)},
                                                 stdout=subprocess.DEVNULL, stderr=log))
    def files(name: str) -> int:
        return len(list((runs[name][0] / "outbox").glob("*.hdr")))

    try:
        deadline = time.monotonic() + 30  # generous: a loaded machine
        while time.monotonic() < deadline and not (files("inside") and all(
                "end of file" in (root / "stderr").read_text() for root, _ in runs.values())):
            time.sleep(0.05)
        snapshots = {name: files(name) for name in runs}
        logs = {name: (root / "stderr").read_text() for name, (root, _) in runs.items()}
    finally:
        for _, proc in runs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    assert all("end of file" in text for text in logs.values()), logs
    assert snapshots["outside"] == 0, logs["outside"]
    assert snapshots["inside"] > 0, logs["inside"]
