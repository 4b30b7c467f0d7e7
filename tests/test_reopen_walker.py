"""A camera that comes back with someone walking is seen at once, by both detectors.

A live stream on 127.0.0.1 shows a still scene for a few seconds and goes away for ~4 s;
then it sends the demo scene, 20 % darker (the background learnt before is stale), with a
walker, at the clip's own pace. Two ways of going away:

- ``http``: MPEG-TS over HTTP that ends; the reopen's request is answered only ``GAP_S``
  later (a camera that reboots);
- ``rtsp``: GStreamer's RTSP server, killed (the connection drops, reopens are refused)
  and started again ``GAP_S`` later on the same port.

And two walks:

- ``entering``: the walker comes in just after the camera is back and crosses in 2.5 s;
- ``in_view``: he is already in the first frame back, so the background is learnt again
  from a picture that holds him, and he walks off.

Each must be an event sent to the uploader, with its onset snapshot within a few frames
of the walk, and the camera's status ``lost`` while it was away and ``ok`` once back. An
earlier note said a 3 s walk right after such a gap was never an event (the stale
background made the walker look like light every other frame: the trigger's two frames
in a row never came); the in-process guard is ``tests/detector/test_camera.py``. With the
background not started again on the reopen (``restart`` a no-op) both detectors see the
entering walker 17 frames late and the one in view not at all. The Python detector also
skipped for detection most of the frames the stream read while it opened (they come at
once): the walker was seen 9 to 15 frames late (``capture.py``); ``dropped`` is now 0.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from quickcam.common import protocol
from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import QUICKCAM, free_port, private_endpoint
from tests.detector.test_passthrough_rtsp import SERVER as RTSP_SERVER
from tests.detector.test_passthrough_rtsp import SYSTEM_PYTHON, _gst_rtsp_missing
from tests.fakes.h264 import write_h264
from tests.fakes.http_camera import Answer, HttpCamera
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector

FPS = 10.0
WIDTH, HEIGHT = 320, 240
STILL_S = 4.0  # watched before it goes away: the background is learnt
# ... and in one native case long enough for a steady run (the open's probe takes ~2 s of it): reopened at once,
# not after a wait, so the camera is lost with no reopen error while the reopen waits for the camera's answer
STEADY_STILL_S = 13.0
GAP_S = 3.0  # the reopen is answered this long after it is asked (+ the reopen pace's 0.5 s): ~4 s unseen
BACK_S = 6.0  # the clip sent once the camera is back; then it goes away again (and stays)
LIGHT_BACK = 0.8  # the light is not what it was when the camera went away (a cloud, its exposure settling again)
CHUNK_S = 0.1  # the clip is sent this many seconds of it at a time, at its own pace
ONSET_LATE_FRAMES = 3  # the onset snapshot is the trigger's 2nd frame of motion (trigger_frames = 2): + 2 of slack


@dataclass(frozen=True)
class Scene:
    """The clip sent once the camera is back: its walk, the scene's time at its first frame."""

    walk: Walk
    start_s: float

    def walk_frame(self) -> int:
        """The clip's first frame (from 0) with the walker in view and moving: his first frame in the picture,
        or, already in it at the first frame back, the frame after it (that first frame is the new background)."""
        demo = DemoSource(WIDTH, HEIGHT, FPS, realtime=False, walks=(self.walk,), period_s=10_000.0,
                          start_s=self.start_s)
        index = next(i for i in range(1000) if (box := demo.walker_box(demo.scene_time_s(i))) and box[0] + box[2] > 0)
        return max(index, 1)


SCENES = {
    "entering": Scene(Walk(0.3, 2.8), 0.0),  # in view from ~0.4 s, gone at 2.8 s
    "in_view": Scene(Walk(0.0, 2.5), 1.0),  # 40 % across at the first frame back, gone 1.5 s later
}


def _paced(clip: Path) -> list[bytes]:
    """The clip's bytes cut every ``CHUNK_S`` of its packets' times (whole TS packets), to be sent at its pace."""
    data = clip.read_bytes()
    cuts, next_s = [0], CHUNK_S
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is None or packet.pos is None or packet.pos < 0:
                continue
            if float(packet.pts * stream.time_base) - float(stream.start_time * stream.time_base) >= next_s:
                cuts.append(packet.pos // 188 * 188)
                next_s += CHUNK_S
    cuts = sorted(set(cuts)) + [len(data)]
    return [data[a:b] for a, b in pairwise(cuts) if b > a]


def _frame_shown(clip: Path, jpeg: bytes) -> int:
    """Which of ``clip``'s frames (from 0) a snapshot shows: the nearest picture. The detectors' clocks
    after a reopen say when a frame was read, not which one it was (a stream's first frames come at once)."""
    shot = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
    with av.open(str(clip)) as container:
        pictures = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
    shot = cv2.resize(shot, (pictures[0].shape[1], pictures[0].shape[0])).astype(np.float32)
    return int(np.argmin([np.abs(picture.astype(np.float32) - shot).mean() for picture in pictures]))


class _HttpCamera:
    """Still scene; the stream ends; the reopen is answered ``GAP_S`` later with the walker (``back_at``)."""

    def __init__(self, tmp_path: Path, scene: Scene, still_s: float) -> None:
        self.clip = _clips(tmp_path, scene, "mpegts", ".ts", still_s)
        self.still, self.walker = _paced(tmp_path / "still.ts"), _paced(self.clip)
        self.gone_at = self.back_at = 0.0
        self.server = HttpCamera(self._answer, path="/cam.ts")
        self.url = self.server.url

    def _answer(self, number: int) -> Answer:
        if number == 1:
            return Answer(self.still, "video/mp2t", chunk_s=CHUNK_S)
        if number == 2:  # the reopen: the camera answers only once it is back
            self.gone_at = time.time()
            if self.server.closing.wait(GAP_S):
                return Answer([], "video/mp2t")
            self.back_at = time.time()
            return Answer(self.walker, "video/mp2t", chunk_s=CHUNK_S)
        return Answer([], "video/mp2t", hold=True)  # gone again, silent, until the test ends

    def play(self, uploader: _Uploader) -> None:
        """The server plays its part by itself."""

    def close(self) -> None:
        self.server.close()


class _RtspCamera:
    """GStreamer's RTSP server with the still scene, killed once it was watched ``still_s`` (the connection
    drops, reopens are refused), started again ``GAP_S`` later on the same port with the walker."""

    def __init__(self, tmp_path: Path, scene: Scene, still_s: float) -> None:
        missing = _gst_rtsp_missing()
        if missing:
            pytest.skip(missing)
        self.still_s = still_s
        self.still = write_h264(tmp_path / "still.mp4", 60.0, FPS, 1.0, WIDTH, HEIGHT, walks=())
        self.clip = _clips(tmp_path, scene, "mp4", ".mp4", still_s)
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.gone_at = self.back_at = 0.0
        self.server = self._serve(self.still)

    def _serve(self, clip: Path) -> subprocess.Popen:
        server = subprocess.Popen([SYSTEM_PYTHON, str(RTSP_SERVER), str(clip), str(self.port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        return server

    def play(self, uploader: _Uploader) -> None:
        deadline = time.monotonic() + 30
        while not any(s == "ok" for _, s in uploader.states) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(self.still_s)
        self._stop()
        self.gone_at = time.time()
        time.sleep(GAP_S)
        self.server = self._serve(self.clip)
        self.back_at = time.time()

    def _stop(self) -> None:
        self.server.terminate()
        self.server.wait(10)

    def close(self) -> None:
        self._stop()


def _clips(tmp_path: Path, scene: Scene, container: str, suffix: str, still_s: float) -> Path:
    """The still scene (``still`` + suffix, ``still_s`` long) and the walker's clip, whose path is returned."""
    write_h264(tmp_path / f"still{suffix}", still_s, FPS, 1.0, WIDTH, HEIGHT, walks=(), container=container)
    return write_h264(tmp_path / f"walker{suffix}", BACK_S, FPS, 1.0, WIDTH, HEIGHT, walks=(scene.walk,),
                      container=container, start_s=scene.start_s, light=LIGHT_BACK)


class _Uploader(UploaderPeer):
    """Acks snapshots and segments and keeps their headers; keeps cam0's state (and fault) from each status."""

    def __init__(self, endpoint: str) -> None:
        self.items: list[dict] = []
        self.onsets: list[bytes] = []  # each event's onset snapshot (JPEG)
        self.states: list[tuple[float, str]] = []
        self.faults: list[tuple[str, str]] = []  # (state, fault) of each status
        self.dropped = 0  # frames not looked at (skipped for detection)
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type in ("snapshot", "segment"):
            self.items.append(message.header)
            if message.type == "snapshot" and message.header.get("seq", 0) == 0:
                self.onsets.append(message.payload or b"")
            return protocol.make_header("ack", ref=message.header["id"])
        if message.type == "status":
            camera = message.header["cameras"].get("cam0", {})
            self.states.append((time.time(), camera.get("state", "")))
            self.faults.append((camera.get("state", ""), camera.get("fault", "")))
            self.dropped = camera.get("dropped", self.dropped)
        return credit() if message.type in ("hello", "status") else None


# Every walk and detector over HTTP; over RTSP (24 s a run) only the case the RTSP path adds:
# the Python detector's burst of frames read while it opens (57 frames skipped before the fix).
# The native detector's RTSP reopen is the same restart as its HTTP one. The native detector's walker in
# view comes after a steady run (+9 s): its reopen is at once, and before the fix its lost status said ""
# all the while the reopen waited for the camera (the short run's reopen waits first and says so).
CASES = [("http", detector, scene, STEADY_STILL_S if (detector, scene) == ("native", "in_view") else STILL_S)
         for detector in ("native", "python") for scene in sorted(SCENES)] + [("rtsp", "python", "entering", STILL_S)]


@pytest.mark.realtime  # the stream is sent at its own pace and the gap is wall-clock time
@pytest.mark.slow  # 15-21 s a case: in the slow unit (tests/realtime_group.py)
@pytest.mark.parametrize(("transport", "detector", "scene", "still_s"), CASES)
def test_a_walker_right_after_the_camera_comes_back_is_an_event_from_his_first_frames(
        tmp_path: Path, transport: str, detector: str, scene: str, still_s: float) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    camera = (_HttpCamera if transport == "http" else _RtspCamera)(tmp_path, SCENES[scene], still_s)
    (tmp_path / "quickcam.toml").write_text(f'[camera]\nsource = "stream"\npath = "{camera.url}"\nfps = {FPS}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    env["QUICKCAM_LINK__HEARTBEAT_S"] = "0.5"  # a status on the wire every 0.5 s
    uploader = _Uploader(env["QUICKCAM_LINK__ENDPOINT"])
    process = subprocess.Popen([*command, "--config", "quickcam.toml"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        camera.play(uploader)
        deadline = time.monotonic() + still_s + GAP_S + BACK_S + 30
        while not any(i["type"] == "segment" and i["final"] for i in uploader.items) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.kill()
        stderr = process.communicate(timeout=30)[1]
        camera.close()
        uploader.close()
    assert "Traceback" not in stderr and "terminate called" not in stderr, stderr
    assert camera.gone_at and camera.back_at, "the camera never went away, or never came back"
    states = uploader.states
    assert any(s == "lost" for t, s in states if camera.gone_at <= t < camera.back_at), states  # blind, and said so
    # and why, all along: native said "" while the reopen waited for its answer, both between it and the picture
    assert all(fault for state, fault in uploader.faults if state == "lost"), uploader.faults
    # the run was steady (reopened at once) or short (reopened after a wait), as the case means
    assert ("went away soon after it opened" in stderr) == (still_s < STEADY_STILL_S), stderr[-3000:]
    after = [(round(t - camera.back_at, 1), s, f) for (t, s), (_, f) in zip(states, uploader.faults, strict=True)
             if t > camera.back_at]
    assert any(s == "ok" for t, s, _ in after if t > 0.5), after  # back, and said so (what it said if not)
    events = list(dict.fromkeys(i["event"] for i in uploader.items))
    assert len(events) == 1, uploader.items  # the walk, and nothing from the still scene or the gap
    late = _frame_shown(camera.clip, uploader.onsets[0]) - SCENES[scene].walk_frame()
    print(f"{transport} {detector} {scene}: the onset snapshot shows the walk's frame {late:+d}; "
          f"{uploader.dropped} frame(s) skipped for detection")
    assert 0 <= late <= ONSET_LATE_FRAMES, (late, uploader.items)
    assert uploader.dropped == 0  # every frame looked at, those the stream held back while it opened too
    segments = [i for i in uploader.items if i["type"] == "segment"]
    assert segments and segments[-1]["final"], segments
