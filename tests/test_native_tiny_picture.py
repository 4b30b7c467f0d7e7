"""A picture under 2 pixels wide or high is analysed as a frame by the native detector, as by Python's.

A camera's glitch or a broken file may hold a picture of 1x1 pixels (or one pixel wide or
high). The Python detector analyses it as it is: a black one is a dark frame (dark mode is
entered and left again), and it is recorded (resized to the segment's size, as a stream that
changed size). The native detector cropped it to even sizes, 0x0, which no scaler takes: its
capture loop threw at it, the frame was skipped and counted as dropped, the camera said
``failing`` for 10 s, and a live source was closed and opened again. Now it stretches such a
picture to 2 pixels and analyses it. Both detectors run the same clip here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import QUICKCAM
from tests.fakes.uploader_peer import detector_on_file
from tests.native_build import native_detector

FPS = 25.0  # the raw MJPEG demuxer's rate
FRAMES = 165
TINY = {100: (1, 1), 110: (1, 240), 120: (320, 1)}  # frame number -> (height, width): in the walk's post-roll


def _clip(path: Path) -> None:
    """Motion JPEG at 25 fps: the demo's walker from 1.0 to 2.6 s; black pictures of 1x1, 1x240, 320x1 at 4-4.8 s."""
    demo = DemoSource(320, 240, FPS, realtime=False, walks=(Walk(1.0, 2.6),), period_s=1000.0)
    with open(path, "wb") as out:
        for number in range(FRAMES):
            image = demo.read().image
            if number in TINY:
                image = np.zeros((*TINY[number], 3), np.uint8)
            out.write(cv2.imencode(".jpg", image)[1].tobytes())


@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_picture_under_2_pixels_is_a_dark_frame_analysed_not_a_capture_loop_failure(
        tmp_path: Path, detector: str) -> None:
    _clip(tmp_path / "clip.mjpeg")
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    run = detector_on_file(tmp_path, command, "clip.mjpeg")
    assert run.returncode == 0, run.stderr
    assert "loop failed" not in run.stderr, run.stderr  # native, before: "capture loop failed (runtime_error: no ..."
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "ended" and not camera["fault"], camera
    assert camera["frames"] == FRAMES and camera["dropped"] == 0, camera  # every picture analysed, none skipped
    assert camera["loops"]["capture"]["errors"] == 0, camera["loops"]
    # each black picture is dark: dark mode entered, and left at the next picture of the scene
    entered = [line for line in run.stderr.splitlines() if "entering dark mode" in line]
    left = [line for line in run.stderr.splitlines() if "leaving dark mode" in line]
    assert len(entered) == len(left) == len(TINY), run.stderr
    rows = [json.loads(line) for line in (tmp_path / "outbox" / "produced.jsonl").read_text().splitlines()]
    assert len({row["event"] for row in rows}) == 1 and camera["events"] == 1, rows  # the walk, recorded once


# glibc's checking allocator: it notices a write past a block's end when the block is freed (an abort).
MALLOC_DEBUG = Path("/lib/x86_64-linux-gnu/libc_malloc_debug.so.0")


def test_the_native_detector_scales_odd_sized_pictures_without_writing_past_its_frame(tmp_path: Path) -> None:
    """swscale writes whole SIMD words past a row's end; scaled straight into a frame of exactly w x h, a
    picture whose chroma rows are not a multiple of 16 bytes (a 2x240 or 320x2 one here; a 1366-wide MJPEG
    camera too) was written past the frame's end. The heap was corrupted, and the detector aborted later,
    at random (the test above failed about one run in five: "double free or corruption", exit -6)."""
    sizes = [(h, w) for w in (2, 6, 34, 322) for h in (2, 4, 6)]  # each one converted by swscale (full-range JPEG)
    with open(tmp_path / "clip.mjpeg", "wb") as out:
        for n, (h, w) in enumerate(sizes * 3):
            out.write(cv2.imencode(".jpg", np.full((h, w, 3), 40 + n, np.uint8))[1].tobytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    if MALLOC_DEBUG.exists():  # without it an overrun may pass unseen: the run is still a check, a weaker one
        env |= {"LD_PRELOAD": str(MALLOC_DEBUG), "MALLOC_CHECK_": "3"}
    run = detector_on_file(tmp_path, [str(native_detector())], "clip.mjpeg", env=env)
    assert run.returncode == 0, run.stderr[-3000:]  # before: -6, "free(): invalid pointer"
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["frames"] == len(sizes) * 3 and camera["loops"]["capture"]["errors"] == 0, camera
