"""A native camera loop that throws is restarted, as the Python supervisor restarts one (pipeline/supervise.py).

The fault is a real input, not a hook: video whose pixel format no converter takes (raw
``uyyvyy411``, FourCC ``Y411``, in NUT), so the native capture loop throws at each of its
frames (``runtime_error: no converter from this video's pixel format``). The loop is restarted
after 0.1 s doubling, and a file goes on after the frame that threw (kept open, that frame
counted as dropped): meanwhile the camera is ``failing`` with Python's fault words and
``loops`` fields, in the status file and in the heartbeat, and one log line says the failure.
Before the supervisor, the capture thread ended and the detector exited with status 4 at once;
then the restarted loop opened the file again at its first frame, so a file analysed as fast as
possible was never done. (These tests used a 1x1 picture in the middle of a walk until the
native detector stretched such a picture and analysed it as the Python detector does,
tests/test_native_tiny_picture.py: no picture makes the loop throw in the middle of a file now.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import pytest

from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.sources import DemoSource
from tests.conftest import private_endpoint
from tests.fakes.http_camera import Answer, HttpCamera
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

FAILURE = "runtime_error: no converter from this video's pixel format"
FPS = 25.0
FRAMES = 5  # each throws: restarted after 0.1, 0.2, 0.4, 0.8 and 1.6 s, then the file's end


def _unconvertible(path: Path, frames: int = FRAMES) -> None:
    """Raw uyyvyy411 video (FourCC Y411) in NUT, 320x240 at 25 fps: FFmpeg reads it, no scaler takes it."""
    with av.open(str(path), "w", format="nut") as out:
        stream = out.add_stream("rawvideo", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "uyyvyy411"
        stream.time_base = Fraction(1, int(FPS))
        for number in range(frames):
            packet = av.Packet(bytes([16, 128] * (320 * 240 * 3 // 4)))  # black: luma 16, chroma 128
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, number, number, stream.time_base
            out.mux(packet)


def _run(tmp_path: Path, realtime: bool) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """The detector on the clip (``--seconds 30``: the file ends well before); the run and its heartbeats."""
    _unconvertible(tmp_path / "clip.nut")
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "clip.nut"\nrealtime = {str(realtime).lower()}\n'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 1\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = AckingPeer(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=60)
        with uploader.lock:
            cameras = list(uploader.cameras)
    finally:
        uploader.close()
    return run, cameras


def _check_one_analysis(tmp_path: Path, run: subprocess.CompletedProcess) -> dict:
    """Exit 3 at the file's end (no frame analysed), the failure logged once, each one counted, the file read once."""
    # 3: the camera never delivered a frame, said as such (it exited 4 when its only camera's thread died)
    assert run.returncode == 3 and "camera cam0 never delivered a frame" in run.stderr, run.stderr
    failed = [line for line in run.stderr.splitlines() if "capture loop failed (" in line]
    assert len(failed) == 1, run.stderr  # once per cause; the repeats are counted
    assert failed[0].endswith(f'level=error logger=quickcam.native.camera msg="camera cam0: capture loop failed '
                              f'({FAILURE}); restarting it in 0.1 s (failure 1)"'), failed
    resumed = "camera cam0: the file goes on after the frame that failed (1 frame not analysed)"
    assert run.stderr.count(resumed) == FRAMES, run.stderr
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    capture = camera["loops"]["capture"]
    # the file was read once, to its end: each restarted loop went on from the frame after the one that threw
    assert camera["state"] == "ended" and capture["errors"] == FRAMES and capture["finished"], camera
    assert camera["frames"] == 0 and camera["dropped"] == FRAMES, camera
    assert "end of file clip.nut" in run.stderr, run.stderr
    assert not [p for p in (tmp_path / "outbox" / ".staging").iterdir()], "an open segment was left in staging"
    return camera


@pytest.mark.realtime  # the heartbeats read while the file plays at its own pace
def test_a_native_loop_that_throws_is_restarted_failing_with_pythons_words_and_the_file_goes_on(
        tmp_path: Path) -> None:
    run, cameras = _run(tmp_path, realtime=True)
    _check_one_analysis(tmp_path, run)
    # the heartbeat after a failure: failing, in supervise.py's words, with its loops' fields
    sent = [c for c in cameras if c["loops"]["capture"]["errors"] and c["loops"]["capture"]["running"]]
    assert sent, cameras
    camera = sent[-1]
    errors = camera["loops"]["capture"]["errors"]
    assert camera["state"] == "failing", camera
    assert camera["fault"] == f"capture loop failing ({FAILURE}; {errors} failure(s) so far)", camera
    python_fields = set(Loop("capture", lambda loop: None).as_status())
    assert set(camera["loops"]["capture"]) == python_fields, camera["loops"]
    capture = camera["loops"]["capture"]
    assert capture["running"] and not capture["finished"] and capture["last_error"] == FAILURE, capture


def test_a_file_analysed_as_fast_as_possible_whose_loop_throws_is_analysed_once_and_ends(tmp_path: Path) -> None:
    run, _ = _run(tmp_path, realtime=False)
    _check_one_analysis(tmp_path, run)


def _camera_that_breaks(folder: Path) -> HttpCamera:
    """A camera that sends a Motion JPEG stream of 10 pictures at the first request, unconvertible video after."""
    demo = DemoSource(320, 240, FPS, realtime=False, walks=(), period_s=1000.0)
    good = b"".join(cv2.imencode(".jpg", demo.read().image)[1].tobytes() for _ in range(10))
    _unconvertible(folder / "broken.nut", 50)
    broken = (folder / "broken.nut").read_bytes()
    return HttpCamera(lambda n: Answer([good], "image/jpeg") if n == 1 else Answer([broken], "video/x-nut"))


@pytest.mark.realtime  # the status file read while the loop waits to reopen the stream
def test_a_native_stream_whose_capture_loop_threw_is_lost_with_the_failure_until_it_is_reopened(
        tmp_path: Path) -> None:
    # Restarted, the loop waits to reopen the stream (0.5 s doubling to reopen_max_s) with the stream closed:
    # it said "ok" with no fault there once its 10 s of "failing" were over, blind without saying so.
    camera_server = _camera_that_breaks(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "stream"\npath = "{camera_server.url}"\n'
        f'[link]\nendpoint = "{private_endpoint(tmp_path)}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    status_path = tmp_path / "outbox" / "detector-status.json"
    detector = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "20"],
                                cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    seen: list[tuple[str, str]] = []
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                camera = json.loads(status_path.read_text())["cameras"]["cam0"]
            except (OSError, ValueError, KeyError):
                camera = {}
            if camera.get("loops", {}).get("capture", {}).get("errors"):
                seen.append((camera["state"], camera["fault"]))
                if camera["state"] == "lost" and camera_server.requests >= 3:
                    break
            time.sleep(0.05)
    finally:
        detector.terminate()
        stderr = detector.communicate(timeout=30)[1]
        camera_server.close()
    assert camera_server.requests >= 3 and seen, (camera_server.requests, seen, stderr)
    state, fault = seen[-1]
    assert state == "lost", seen  # before: failing (then ok) while it waited
    assert fault.startswith(f"capture loop failed ({FAILURE}"), seen  # then the reopen pace's wait, if it waits
    # The failure named once, with the count while it is recent (within 10 s of it): it was named twice then,
    # "capture loop failed (X); ...; capture loop failing (X; 1 failure(s) so far)".
    assert all(fault.count(FAILURE) == 1 for _, fault in seen), seen
    counted = re.compile(rf"capture loop failed \({re.escape(FAILURE)}; \d+ failure\(s\) so far\)")
    assert any(counted.match(fault) for _, fault in seen), seen
