"""A stream that stalls for longer than ``max_gop_s`` and then goes on is still passed through, by both detectors.

A camera on a weak network sends nothing for seconds, then the rest of its GOP. By
arrival the GOP was long; by the stream's own clock it was not. The detectors measured
it by arrival only, said "no keyframe for N s ... set the camera's keyframe interval lower"
(the camera's interval was 1 s) and re-encoded the camera from then on, until the detector
restarted. The stream here is MPEG-TS over HTTP from a server on 127.0.0.1, sent at its
own pace with one pause mid-GOP, shorter than the 10 s after which a stream is lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.fakes.http_camera import Answer, HttpCamera
from tests.fakes.uploader_peer import UploaderPeer
from tests.native_build import native_detector

CLIP_S = 7.0
FPS = 10.0
CHUNK_S = 0.1  # the clip is sent in this many seconds' worth of bytes at a time, at its own pace
PAUSE_AFTER_S = 4.45  # mid-GOP (keyframes every 1 s), after FFmpeg's probe at the open (~2 s)
PAUSE_S = 3.0  # longer than max_gop_s (by arrival the GOP is 4 s), shorter than the 10 s that lose a stream
MAX_GOP_S = 2.0


def _paced_with_a_stall(clip: Path) -> HttpCamera:
    data = clip.read_bytes()
    chunks = round(CLIP_S / CHUNK_S)
    step = -(-len(data) // chunks // 188) * 188  # whole TS packets
    pieces = [data[start:start + step] for start in range(0, len(data), step)]
    pause = ((round(PAUSE_AFTER_S / CHUNK_S), PAUSE_S),)
    return HttpCamera(lambda n: Answer(pieces, "video/mp2t", chunk_s=CHUNK_S, hold=True, pauses=pause),
                      path="/cam.ts")


def _frames(status_path: Path) -> int:
    try:
        return json.loads(status_path.read_text())["cameras"]["cam0"]["frames"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):  # not written yet
        return 0


@pytest.mark.realtime  # the stall is a pause on the wall clock
@pytest.mark.slow  # 15-21 s a case: in the slow unit (tests/realtime_group.py)
@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_stream_that_stalls_and_goes_on_is_still_passed_through(tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    write_h264(tmp_path / "cam.ts", CLIP_S, FPS, 1.0, 160, 120, walks=(), container="mpegts")
    camera_server = _paced_with_a_stall(tmp_path / "cam.ts")
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "stream"\npath = "{camera_server.url}"\nfps = {FPS}\nmax_gop_s = {MAX_GOP_S}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    uploader = UploaderPeer(env["QUICKCAM_LINK__ENDPOINT"])
    status_path = tmp_path / "outbox" / "detector-status.json"
    process = subprocess.Popen([*command, "--config", "quickcam.toml"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert camera_server.hanging.wait(60), "the detector never read the clip"
        deadline = time.monotonic() + 15  # the frames after the stall, decoded
        while _frames(status_path) < CLIP_S * FPS - 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        frames = _frames(status_path)
    finally:
        process.kill()
        stderr = process.communicate(timeout=30)[1]
        camera_server.close()
        uploader.close()
    assert frames >= CLIP_S * FPS - 5, (frames, stderr)
    assert "recording by passthrough" in stderr, stderr
    assert "no keyframe for" not in stderr and "re-encoding" not in stderr, stderr
