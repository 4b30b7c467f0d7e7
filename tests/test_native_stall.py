"""A camera whose stream stops sending without closing is said ``stalled``, never ``ok``, by both detectors.

The stream is MPEG-TS over HTTP from a server on 127.0.0.1 that sends its clip at the
clip's own pace and then holds the connection open, sending nothing (a camera that hangs,
a network path that drops packets without a reset). The detector's read blocks until the
source's 10 s read timeout; meanwhile its capture loop has not beaten for 3 frame
intervals (at least 1 s) and the camera's status says so: the state, the fault
(``capture loop stalled for X s``), ``loops`` in the status file, and ``quickcam
status``'s line. Once the server lets the connection go, the camera is no longer stalled
and comes back. The native detector had no heartbeat and stayed ``ok`` for those 10 s
(then ``lost``). The Python detector's loops are tested in-process too
(tests/detector/test_supervision.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.uploader.cli import camera_line
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.fakes.http_camera import Answer, HttpCamera
from tests.fakes.uploader_peer import UploaderPeer
from tests.native_build import native_detector

CLIP_S = 2.0
FPS = 25.0
CHUNK_S = 0.1  # the clip is sent in this many seconds' worth of bytes at a time, at its own pace
STALL_SAID_S = 6.0  # from the last byte sent: 1 s of stall + a 2 s status interval + a slow machine's slack


def _paced_then_silent(clip: Path) -> HttpCamera:
    """A camera that serves ``clip`` at its own pace, then sends nothing and keeps the connection until released."""
    data = clip.read_bytes()
    chunks = max(1, round(CLIP_S / CHUNK_S))
    step = -(-len(data) // chunks // 188) * 188  # whole TS packets
    pieces = [data[start:start + step] for start in range(0, len(data), step)]
    return HttpCamera(lambda n: Answer(pieces, "video/mp2t", chunk_s=CHUNK_S, hold=True), path="/cam.ts")


class _Uploader(UploaderPeer):
    """Gives credit to hello and status; keeps the newest camera statuses sent (what the uploader shows)."""

    def __init__(self, endpoint: str) -> None:
        self.cameras: dict = {}
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "status":
            self.cameras = message.header["cameras"]
        return super().answer(peer, message)


def _camera(status_path: Path) -> dict:
    try:
        return json.loads(status_path.read_text())["cameras"]["cam0"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):  # not written yet
        return {}


def _wait_for(status_path: Path, predicate, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        camera = _camera(status_path)
        if predicate(camera) or time.monotonic() > deadline:
            return camera
        time.sleep(0.05)


@pytest.mark.realtime  # how soon the stall is said is asserted against the wall clock
@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_stream_that_stops_sending_without_closing_makes_the_camera_stalled_within_seconds_then_it_recovers(
        tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    # a still scene: the demo without its walker, so nothing but the stall can change the state
    write_h264(tmp_path / "cam.ts", CLIP_S, FPS, 1.0, 160, 120, walks=(), container="mpegts")
    camera_server = _paced_then_silent(tmp_path / "cam.ts")
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "stream"\npath = "{camera_server.url}"\nfps = {FPS}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    env["QUICKCAM_LINK__HEARTBEAT_S"] = "0.5"  # a status on the wire every 0.5 s
    uploader = _Uploader(env["QUICKCAM_LINK__ENDPOINT"])
    status_path = tmp_path / "outbox" / "detector-status.json"
    process = subprocess.Popen([*command, "--config", "quickcam.toml"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert camera_server.hanging.wait(30), "the detector never read the clip"
        hung_at = time.monotonic()
        stalled = _wait_for(status_path, lambda c: c.get("state") == "stalled", STALL_SAID_S)
        said_after_s = time.monotonic() - hung_at
        assert stalled.get("state") == "stalled", stalled
        assert stalled["fault"].startswith("capture loop stalled for "), stalled
        assert stalled["loops"]["capture"]["beat_s_ago"] >= 1.0, stalled["loops"]
        assert stalled["loops"]["capture"]["running"] and stalled["loops"]["capture"]["errors"] == 0
        assert stalled["frames"] > 0  # it had worked: stalled, not "never delivered"
        assert stalled["not_ok_for_s"] >= 0  # the health check's clock runs: blind for 30 s fails it
        line = camera_line("cam0", stalled, time.time())
        assert line.startswith("camera cam0: STALLED (capture loop stalled for "), line
        # the uploader hears it too (docs/protocol.md's camera status), with the loops
        deadline = time.monotonic() + 5
        while uploader.cameras.get("cam0", {}).get("state") != "stalled" and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = uploader.cameras.get("cam0", {})
        assert sent.get("state") == "stalled" and sent["fault"].startswith("capture loop stalled for "), sent
        assert set(sent["loops"]) == set(stalled["loops"]), sent
        # the camera lets the connection go: the read ends, the stream is reopened and delivers again
        camera_server.release.set()
        back = _wait_for(status_path, lambda c: c.get("state") == "ok" and camera_server.requests >= 2, 15)
        assert back.get("state") == "ok" and not back.get("fault"), back
    finally:
        process.kill()
        stderr = process.communicate(timeout=30)[1]
        camera_server.close()
        uploader.close()
    assert "Traceback" not in stderr, stderr
    print(f"{detector}: stalled said {said_after_s:.1f} s after the stream went silent")
