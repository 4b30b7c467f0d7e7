"""A picture whose size changes mid-stream, while someone walks, is analysed by both detectors without harm.

A camera may switch resolution (its own night mode, a user in its web page) and a broken file may hold
pictures of another size. The motion core starts its background again at a new detection size; the
native detector kept the previous frame's motion boxes, in the old size's pixels, and held a person's
pixels inside them out of the background in the new picture: rows past the masks were read and
written. It crashed (SIGSEGV, or glibc's abort on a heap it had overwritten) in most runs on this
clip, valgrind showing invalid reads and writes in ``RunningAverageMotion::learn`` every run. The
boxes are clipped to the picture now, as numpy's slices clip them in the Python detector.

No change of size, pixel format (gray, 4:4:4, 4:2:2, 4:1:1 JPEG), or coding (progressive JPEG) made
either detector's loop throw: each is converted or scaled (the native ``sws_getCachedContext`` per
frame, its recorder resizing to the segment's size).

The Python detector's mixture models (``[motion] algorithm = "mog2"`` and ``"knn"``) are restarted at a
new detection size as the running average is (``MotionDetector.detect`` resets the background when the
picture's shape changes): the same clip is analysed by each, the walk recorded as one event.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import QUICKCAM
from tests.fakes.uploader_peer import detector_on_file
from tests.native_build import native_detector

FPS = 25.0  # the raw MJPEG demuxer's rate
FRAMES = 300
SIZES = ((320, 240), (320, 180), (320, 200))  # width, height: from frame 40 each 10 frames the next, in the walk


def _clip(path: Path) -> None:
    """Motion JPEG at 25 fps: the demo's walker from 1.0 to 10.0 s, the picture resized each 0.4 s from 1.6 to 9.6 s."""
    demo = DemoSource(320, 240, FPS, realtime=False, walks=(Walk(1.0, 10.0),), period_s=1000.0)
    with open(path, "wb") as out:
        for number in range(FRAMES):
            image = demo.read().image
            size = SIZES[0] if number < 40 or number >= 240 else SIZES[(number // 10) % len(SIZES)]
            if size != SIZES[0]:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            out.write(cv2.imencode(".jpg", image)[1].tobytes())


@pytest.mark.parametrize(("detector", "algorithm"), [("native", "running_average"), ("python", "running_average"),
                                                     ("python", "mog2"), ("python", "knn")])
def test_a_picture_changing_size_mid_event_is_analysed_and_recorded_without_a_crash(
        tmp_path: Path, detector: str, algorithm: str) -> None:
    _clip(tmp_path / "clip.mjpeg")
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    run = detector_on_file(tmp_path, command, "clip.mjpeg", f'[motion]\nalgorithm = "{algorithm}"\n')
    assert run.returncode == 0, (run.returncode, run.stderr[-3000:])  # native, before: -6 or -11 (5 runs of 6)
    assert "loop failed" not in run.stderr, run.stderr
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "ended" and not camera["fault"], camera
    assert camera["frames"] == FRAMES and camera["dropped"] == 0, camera  # every picture analysed
    assert all(not loop["errors"] for loop in camera["loops"].values()), camera["loops"]
    rows = [json.loads(line) for line in (tmp_path / "outbox" / "produced.jsonl").read_text().splitlines()]
    segments = [row for row in rows if row["type"] == "segment"]
    assert len({row["event"] for row in rows}) == 1 and camera["events"] == 1, rows  # the walk, recorded once
    assert segments and not [p for p in (tmp_path / "outbox" / ".staging").iterdir()], rows  # closed, committed
