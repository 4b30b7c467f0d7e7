"""A native detector whose camera went silent stops at once: its open or read is cut short by the stop.

A camera that goes silent without closing (an RTSP/HTTP server that keeps the connection and
sends nothing, a USB camera that stops delivering, a FIFO nobody writes) held the native capture
thread in FFmpeg's read: the stream's read only until its 10 s timeout, a FIFO's open and read for
ever (FFmpeg's file protocol blocks in open(2) and read(2) without asking its interrupt callback).
At SIGTERM the detector then waited its 2 s for the capture (``kCaptureJoinS``), gave it up, and
left the thread behind (``capture has not ended 2.0 s after the stop``, ``left behind``). Now every
open and read of every source asks the detector's stop (``av_source.cpp``; a FIFO or device node
is read through a polled descriptor, ``polled_input.cpp``): the capture ends within a poll slice,
the running event is closed at its last frame as at any stop, the last status says ``running:
false``, and every segment is stored.

Each case is a silent source in one role: the camera's one stream (``path``), its detection
substream and recorded main stream (``detect_path`` and ``path``, both silent), a USB H.264 camera
through its FIFO seam (``QC_NATIVE_USB_DEMUXER=h264``) that sent a walk and went silent, and one
whose FIFO nobody ever writes (the open itself).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.detector.app import CAPTURE_JOIN_S
from quickcam.detector.sources import Walk
from tests.detector.test_usb_camera import Feeder, _annex_b
from tests.fakes.h264 import write_h264
from tests.fakes.http_camera import Answer, HttpCamera
from tests.native_build import native_detector
from tests.pipeline import Pipeline
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # the stop's time is asserted against the wall clock

CLIP_S = 4.0
FPS = 10.0
CHUNK_S = 0.1
WALK = Walk(1.0, CLIP_S + 1)  # still walking when the camera goes silent: an event runs at the stop


def _paced_then_silent(clip: Path, path: str) -> HttpCamera:
    """Serves ``clip`` (MPEG-TS) at its own pace, then keeps the connection open and sends nothing."""
    data = clip.read_bytes()
    step = -(-len(data) // max(1, round(CLIP_S / CHUNK_S)) // 188) * 188  # whole TS packets
    pieces = [data[start:start + step] for start in range(0, len(data), step)]
    return HttpCamera(lambda n: Answer(pieces, "video/mp2t", chunk_s=CHUNK_S, hold=True), path=path)


def _segments(pipe: Pipeline) -> set[str]:
    return {row["id"] for row in pipe.produced() if row["type"] == "segment"}


@pytest.mark.parametrize("role", ["path", "detect_path", "usb_fifo", "fifo_never_written"])
def test_a_silent_camera_does_not_hold_the_native_stop(tmp_path: Path, role: str) -> None:
    closers = []
    env: dict[str, str] = {}
    if role in ("path", "detect_path"):
        clip = write_h264(tmp_path / "cam.ts", CLIP_S, FPS, 1.0, 320, 240, walks=(WALK,), container="mpegts")
        main = _paced_then_silent(clip, "/main.ts")
        closers.append(main.close)
        camera = {"QUICKCAM_CAMERA__SOURCE": "stream", "QUICKCAM_CAMERA__PATH": main.url}
        silent = [main.hanging]
        if role == "detect_path":
            sub = _paced_then_silent(clip, "/sub.ts")
            closers.append(sub.close)
            camera["QUICKCAM_CAMERA__DETECT_PATH"] = sub.url
            silent.append(sub.hanging)
        went_silent = lambda: all(event.is_set() for event in silent)  # noqa: E731
    else:
        fifo = tmp_path / "video0"
        camera = {"QUICKCAM_CAMERA__SOURCE": "camera", "QUICKCAM_CAMERA__INPUT_FORMAT": "h264",
                  "QUICKCAM_CAMERA__PATH": str(fifo), "QUICKCAM_CAMERA__WIDTH": "320",
                  "QUICKCAM_CAMERA__HEIGHT": "240"}
        env["QC_NATIVE_USB_DEMUXER"] = "h264"
        if role == "usb_fifo":
            video = write_h264(tmp_path / "camera.mp4", CLIP_S, FPS, 1.0, 320, 240, walks=(WALK,))
            feeder = Feeder(fifo, _annex_b(video))  # sends its frames at FPS, then holds the FIFO open, silent
            closers.append(feeder.close)
            went_silent = lambda: feeder.start_ns and time.time_ns() > feeder.start_ns + (CLIP_S + 0.5) * 1e9  # noqa: E731
        else:
            os.mkfifo(fifo)  # nobody ever opens it to write
            opened_at = time.monotonic()
            went_silent = lambda: time.monotonic() > opened_at + 3  # noqa: E731
    pipe = Pipeline(tmp_path, detector=[str(native_detector())], QUICKCAM_CAMERA__FPS=str(FPS),
                    QUICKCAM_RECORDING__SEGMENT_S="1", **camera)
    status_path = tmp_path / "outbox" / "detector-status.json"
    try:
        pipe.start_uploader_listening()
        process = pipe.start("detector", env=env)
        if role == "fifo_never_written":
            assert pipe.wait_for("detector", "watching 1 camera", 30), pipe.output("detector")[-3000:]
        else:
            assert wait_until(lambda: _segments(pipe), 60), pipe.output("detector")[-3000:]
        assert wait_until(went_silent, 60), pipe.output("detector")[-3000:]
        time.sleep(1.0)  # the last frames reach the recorder
        assert process.poll() is None, pipe.output("detector")[-3000:]
        stopped_at = time.monotonic()
        try:
            code = pipe.stop("detector", timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 60 s after SIGTERM:\n{pipe.output('detector')[-3000:]}")
        stop_s = time.monotonic() - stopped_at
        if role != "fifo_never_written":
            assert pipe.wait_drained(30), pipe.output("detector")[-3000:]
        status = json.loads(status_path.read_text())
        pipe.stop("uploader")
    finally:
        pipe.close()
        for close in closers:
            close()
    output = pipe.output("detector")
    stop = output.split("stopping;")[-1]
    print(f"{role}: exited {stop_s:.2f} s after SIGTERM")
    # Before: the capture was given up after 2 s and its thread left behind, still in its read
    assert "capture has not ended" not in output and "left behind" not in output, stop
    assert stop_s < CAPTURE_JOIN_S, (stop_s, stop)
    assert "lost (" not in stop and "cannot open" not in stop and "level=warning" not in stop, stop
    assert status["running"] is False, status
    if role == "fifo_never_written":
        assert code == 3 and "camera cam0 never delivered a frame (its open had not returned after " in stop, stop
        return
    assert code == 0, stop
    # The walk's event, closed at its last frame: every segment its recorder counted committed and stored
    counted = re.search(r"recorded in (\d+) segment\(s\)", stop)
    assert counted and len(_segments(pipe)) == int(counted.group(1)), (len(_segments(pipe)), stop)
    pipe.check_invariant()
