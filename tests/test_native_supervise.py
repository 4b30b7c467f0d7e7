"""A native camera loop that throws is restarted, as the Python supervisor restarts one (pipeline/supervise.py).

The fault is a real input, not a hook: a file with one picture of 1x1 pixels in its middle. Its
even size is 0x0, which no scaler takes, so the native capture loop throws at that frame (the
Python detector reads the same picture as a dark frame). The loop is restarted after 0.1 s and
the file goes on after the frame that threw (kept open, that one frame counted as dropped):
meanwhile the camera is ``failing`` with Python's fault words and ``loops`` fields, in the status
file and in the heartbeat, one log line says the failure, and the event running at it is closed
with its final segment. Before, the capture thread ended and the detector exited with status 4
at once; then the restarted loop opened the file again at its first frame, so every event
before the bad frame was recorded again at each pass (a new event id each time) and a file
analysed as fast as possible was never done.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common import protocol
from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector

FAILURE = "runtime_error: no converter from this video's pixel format"
FPS = 25.0  # the raw MJPEG demuxer's rate
BAD_FRAME, FRAMES = 100, 165  # the 1x1 picture at 4 s, after the walk (1.0-2.6 s) and within its post-roll


class _Uploader(UploaderPeer):
    """Credit for hello and status, an ack for every item; keeps each status's camera."""

    def __init__(self, endpoint: str) -> None:
        self.cameras: list[dict] = []
        self.segments: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "status":
            with self.lock:
                self.cameras.append(message.header["cameras"]["cam0"])
        if message.type == "segment":
            self.segments.append(message.header)
        if message.type in ("snapshot", "segment"):
            return protocol.make_header("ack", ref=message.header["id"])
        return credit()


def _clip_with_a_1x1_picture(path: Path) -> None:
    """Motion JPEG at 25 fps: the demo's walker from 1.0 to 2.6 s, one 1x1 picture at 4 s, quiet to 6.6 s."""
    demo = DemoSource(320, 240, FPS, realtime=False, walks=(Walk(1.0, 2.6),), period_s=1000.0)
    with open(path, "wb") as out:
        for number in range(FRAMES):
            image = demo.read().image
            if number == BAD_FRAME:
                image = np.zeros((1, 1, 3), np.uint8)
            out.write(cv2.imencode(".jpg", image)[1].tobytes())


def _run(tmp_path: Path, realtime: bool) -> tuple[subprocess.CompletedProcess, list[dict], list[dict]]:
    """The detector on the clip (``--seconds 15``: the file ends well before); the run, heartbeats, segments."""
    _clip_with_a_1x1_picture(tmp_path / "clip.mjpeg")
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "clip.mjpeg"\nrealtime = {str(realtime).lower()}\n'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 1\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = _Uploader(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "15"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=60)
        with uploader.lock:
            cameras = list(uploader.cameras)
    finally:
        uploader.close()
    return run, cameras, list(uploader.segments)


def _check_one_analysis(tmp_path: Path, run: subprocess.CompletedProcess, segments: list[dict]) -> dict:
    """Exit 0 at the file's end, one failure logged, one event closed at it, every frame but the bad one analysed."""
    assert run.returncode == 0, run.stderr  # it exited 4 when its only camera's thread died
    failed = [line for line in run.stderr.splitlines() if "capture loop failed (" in line]
    assert len(failed) == 1, run.stderr
    assert failed[0].endswith(f'level=error logger=quickcam.native.camera msg="camera cam0: capture loop failed '
                              f'({FAILURE}); restarting it in 0.1 s (failure 1)"'), failed
    assert "camera cam0: the file goes on after the frame that failed (1 frame not analysed)" in run.stderr
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    capture = camera["loops"]["capture"]
    # the file was read once, to its end: the restarted loop went on from the frame after the bad one
    assert camera["state"] == "ended" and capture["errors"] == 1 and capture["finished"], camera
    assert camera["frames"] == FRAMES - 1 and camera["dropped"] == 1, camera
    rows = [json.loads(line) for line in (tmp_path / "outbox" / "produced.jsonl").read_text().splitlines()]
    events = {row["event"] for row in rows}
    assert len(events) == 1, rows  # one walk, one event (it was one event per pass over the file)
    assert camera["events"] == 1, camera
    finals = {header["event"] for header in segments if header["final"]}
    assert finals == events, (finals, rows)
    assert f"camera cam0: capture loop failed during event {rows[0]['event']}; the event is closed" in run.stderr
    assert not [p for p in (tmp_path / "outbox" / ".staging").iterdir()], "an open segment was left in staging"
    return camera


@pytest.mark.realtime  # the heartbeats read while the file plays at its own pace
def test_a_native_loop_that_throws_is_restarted_failing_with_pythons_words_and_the_file_goes_on(
        tmp_path: Path) -> None:
    run, cameras, segments = _run(tmp_path, realtime=True)
    _check_one_analysis(tmp_path, run, segments)
    # the heartbeat after the failure: failing, in supervise.py's words, with its loops' fields
    sent = [c for c in cameras if c["loops"]["capture"]["errors"] and c["loops"]["capture"]["running"]]
    assert sent, cameras
    camera = sent[-1]
    assert camera["state"] == "failing", camera
    assert camera["fault"] == f"capture loop failing ({FAILURE}; 1 failure(s) so far)", camera
    python_fields = set(Loop("capture", lambda loop: None).as_status())
    assert set(camera["loops"]["capture"]) == python_fields, camera["loops"]
    capture = camera["loops"]["capture"]
    assert capture["running"] and not capture["finished"] and capture["last_error"] == FAILURE, capture


def test_a_file_analysed_as_fast_as_possible_whose_loop_throws_is_analysed_once_and_ends(tmp_path: Path) -> None:
    run, _, segments = _run(tmp_path, realtime=False)
    _check_one_analysis(tmp_path, run, segments)


class _CameraWithABadPicture:
    """An MJPEG stream over HTTP on 127.0.0.1: 10 pictures of the demo scene, one of 1x1 pixels, then the end."""

    def __init__(self) -> None:
        demo = DemoSource(320, 240, FPS, realtime=False, walks=(), period_s=1000.0)
        pictures = [demo.read().image for _ in range(10)] + [np.zeros((1, 1, 3), np.uint8)]
        self.data = b"".join(cv2.imencode(".jpg", image)[1].tobytes() for image in pictures)
        self.requests = 0
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the detector closed it
                    self.wfile.write(camera.data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cam.mjpeg"


@pytest.mark.realtime  # the status file read while the loop waits to reopen the stream
def test_a_native_stream_whose_capture_loop_threw_is_lost_with_the_failure_until_it_is_reopened(
        tmp_path: Path) -> None:
    # Restarted, the loop waits to reopen the stream (0.5 s doubling to reopen_max_s) with the stream closed:
    # it said "ok" with no fault there once its 10 s of "failing" were over, blind without saying so.
    camera_server = _CameraWithABadPicture()
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
        camera_server.server.shutdown()
    assert camera_server.requests >= 3 and seen, (camera_server.requests, seen, stderr)
    state, fault = seen[-1]
    assert state == "lost", seen  # before: failing (then ok) while it waited
    assert fault.startswith(f"capture loop failed ({FAILURE}"), seen  # then the reopen pace's wait, if it waits
    # The failure named once, with the count while it is recent (within 10 s of it): it was named twice then,
    # "capture loop failed (X); ...; capture loop failing (X; 1 failure(s) so far)".
    assert all(fault.count(FAILURE) == 1 for _, fault in seen), seen
    counted = re.compile(rf"capture loop failed \({re.escape(FAILURE)}; \d+ failure\(s\) so far\)")
    assert any(counted.match(fault) for _, fault in seen), seen
