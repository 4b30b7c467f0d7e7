"""A native camera loop that throws is restarted, as the Python supervisor restarts one (pipeline/supervise.py).

The fault is a real input, not a hook: a file whose last picture is 1x1 pixels. Its even size
is 0x0, which no scaler takes, so the native capture loop throws at that frame (the Python
detector reads the same picture as a dark frame). The loop is restarted after 0.1 s, the file
opened again and analysed again, and it throws again: meanwhile the camera is ``failing`` with
Python's fault words and ``loops`` fields, in the status file and in the heartbeat, one log line
says the first failure, and every event running at a failure is closed with its final segment.
Before, the capture thread ended and the detector exited with status 4 at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import cv2
import numpy as np

from quickcam.common import protocol
from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector

FAILURE = "runtime_error: no converter from this video's pixel format"


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


def _clip_ending_in_a_1x1_picture(path: Path) -> None:
    """Motion JPEG: 4.5 s of the demo's walker (in from 2 s, so an event runs at the end), then one 1x1 picture."""
    demo = DemoSource(320, 240, 10.0, realtime=False, walks=(Walk(2.0, 5.0),), period_s=1000.0)
    with open(path, "wb") as out:
        for _ in range(45):
            out.write(cv2.imencode(".jpg", demo.read().image)[1].tobytes())
        out.write(cv2.imencode(".jpg", np.zeros((1, 1, 3), np.uint8))[1].tobytes())


def test_a_native_loop_that_throws_is_restarted_failing_with_pythons_words_and_its_events_closed(
        tmp_path: Path) -> None:
    _clip_ending_in_a_1x1_picture(tmp_path / "clip.mjpeg")
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "clip.mjpeg"\nrealtime = false\n'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 1\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = _Uploader(endpoint)
    status_path = tmp_path / "outbox" / "detector-status.json"

    def camera_in_file() -> dict:
        try:
            return json.loads(status_path.read_text())["cameras"]["cam0"]
        except (OSError, ValueError, KeyError):
            return {}

    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "4"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=60)
        # read while it ran: the last status file is written at exit, after the loops ended
        with uploader.lock:
            sent = [c for c in uploader.cameras if c["loops"]["capture"]["errors"] and c["loops"]["capture"]["running"]]
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr  # it exited 4 when its only camera's thread died
    failed = [line for line in run.stderr.splitlines() if "capture loop failed (" in line]
    assert len(failed) == 1, run.stderr  # the first failure; its repeats are counted, not logged (for 60 s)
    assert failed[0].endswith(f'level=error logger=quickcam.native.camera msg="camera cam0: capture loop failed '
                              f'({FAILURE}); restarting it in 0.1 s (failure 1)"'), failed

    # the heartbeat: failing, in supervise.py's words, with its loops' fields
    assert sent, uploader.cameras
    camera = sent[-1]
    assert camera["state"] == "failing", camera
    assert camera["fault"].startswith(f"capture loop failing ({FAILURE}; "), camera
    assert camera["fault"].endswith(" failure(s) so far)"), camera
    python_fields = set(Loop("capture", lambda loop: None).as_status())
    assert set(camera["loops"]["capture"]) == python_fields, camera["loops"]
    capture = camera["loops"]["capture"]
    assert capture["running"] and not capture["finished"] and capture["last_error"] == FAILURE, capture
    # the status file at exit: the loop restarted (more than once) and finished at the stop
    final = camera_in_file()["loops"]["capture"]
    assert final["errors"] >= 2 and final["finished"] and set(final) == python_fields, final

    # every event running at a failure was closed at its last frame, its final segment committed and sent
    rows = [json.loads(line) for line in (tmp_path / "outbox" / "produced.jsonl").read_text().splitlines()]
    events = {row["event"] for row in rows}
    assert len(events) >= 2, rows  # one per analysis of the file
    finals = {header["event"] for header in uploader.segments if header["final"]}
    assert finals == events, (finals, rows)
    assert f"camera cam0: capture loop failed during event {rows[0]['event']}; the event is closed" in run.stderr
    assert not [p for p in (tmp_path / "outbox" / ".staging").iterdir()], "an open segment was left in staging"
