"""The native detector with ``[camera] detect_path``: the substream is decoded for detection and snapshots, ``path``
only demuxed and its own packets remuxed into segments (as ``tests/detector/test_passthrough.py`` holds the Python
detector to). Before, the native detector warned ``detect_path`` and detected on ``path``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from quickcam.common import protocol
from quickcam.detector.sources import Walk
from tests.conftest import private_endpoint
from tests.detector.test_passthrough_rtsp import serving
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.test_native_passthrough import KeepingPeer, _packets, _playable, record_with
from tests.waiting import wait_until

FPS = 10.0
WALK = Walk(2.0, 4.0)


class SnapshotPeer(KeepingPeer):
    """Keeps each snapshot's header too."""

    def __init__(self, endpoint: str) -> None:
        self.snapshots: list[dict[str, Any]] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type == "snapshot":
            with self.lock:
                self.snapshots.append(message.header)
        return super().answer(peer, message)


def _run(root: Path, main: Path, sub: Path | str) -> tuple[list[tuple[dict, Path]], list[dict], str, dict]:
    """The native detector on ``main`` (path) and ``sub`` (detect_path), files read as fast as they decode: each
    segment's header and file, the snapshots' headers, the log, the camera's last status."""
    segments, log, camera, peer = record_with(root, main, f'detect_path = "{sub}"\n', 30,
                                              'source = "file"\nrealtime = false', SnapshotPeer)
    assert isinstance(peer, SnapshotPeer)
    return segments, peer.snapshots, log, camera


def test_native_detection_reads_the_substream_and_segments_are_paths_own_packets(tmp_path: Path) -> None:
    """The walker is only in the substream: an event at all means detection read it; its segments are path's
    packets at path's size, its snapshots the substream's pictures (as the Python detector's detect stage)."""
    main = write_h264(tmp_path / "main.mp4", 7.0, FPS, 1.0, width=640, height=480, walks=(), bitrate=400_000)
    sub = write_h264(tmp_path / "sub.mp4", 7.0, FPS, 1.0, width=320, height=240, walks=(WALK,))
    segments, snapshots, log, camera = _run(tmp_path / "run", main, sub)
    _playable(segments)
    source = set(_packets(main))
    for head, path in segments:
        assert (head["width"], head["height"], head["codec"]) == (640, 480, "h264"), head
        assert set(_packets(path)) <= source  # path's own bytes: nothing decoded or re-encoded
    assert sum(h["frames"] for h, _ in segments) >= (WALK.end_s - WALK.start_s + 1.0) * FPS, log
    assert snapshots and all((s["width"], s["height"]) == (320, 240) for s in snapshots)
    assert (camera["width"], camera["height"]) == (320, 240)  # the pictures decoded: the substream's
    assert camera["recorder"] == "passthrough" and "recorded stream" in camera["loops"], camera
    assert "detect_path: a separate detection stream is not implemented" not in log
    assert f"recording {main} by passthrough (h264, keyframes every 1.0 s); detecting on {sub}" in log, log


def test_a_path_that_cannot_be_passed_through_records_the_substream_instead_saying_why(tmp_path: Path) -> None:
    main = write_h264(tmp_path / "main.mp4", 7.0, FPS, 1.0, width=640, height=480, walks=(WALK,), codec="mpeg4")
    sub = write_h264(tmp_path / "sub.mp4", 7.0, FPS, 1.0, width=320, height=240, walks=(WALK,))
    segments, _, log, camera = _run(tmp_path / "run", main, sub)
    assert log.count(f"camera cam0: recording the detection stream {sub} instead (its codec mpeg4 cannot be passed "
                     "through into MP4)") == 1, log
    _playable(segments)
    assert all((h["width"], h["height"]) == (320, 240) for h, _ in segments)  # the substream, re-encoded
    assert camera["recorder"] == "reencode"


def test_a_path_that_does_not_open_is_said_in_the_status_while_the_substream_is_watched(tmp_path: Path) -> None:
    sub = write_h264(tmp_path / "sub.mp4", 7.0, FPS, 1.0, width=320, height=240, walks=(WALK,))
    segments, snapshots, log, camera = _run(tmp_path / "run", tmp_path / "missing.mp4", sub)
    said = f"cannot open the recorded stream {tmp_path / 'missing.mp4'} — no such file; check [camera] path"
    assert f"{said}; events are not recorded" in camera["fault"]
    assert snapshots and not segments  # the event was seen; nothing to record it from
    assert camera["frames"] >= 7 * FPS - 1


RTSP_FPS = 15.0


@pytest.fixture(scope="module")
def rtsp_streams(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The two streams' files (main, sub), made once for both cases: only read by the servers (5-15 s to encode)."""
    folder, length_s = tmp_path_factory.mktemp("detect_path_rtsp"), 30.0
    main = write_h264(folder / "main.mp4", length_s, RTSP_FPS, 1.0, width=640, height=480, walks=(),
                      bitrate=400_000)
    sub = write_h264(folder / "sub.mp4", length_s, RTSP_FPS, 1.0, width=320, height=240, walks=(Walk(2.5, 4.5),))
    return main, sub


@pytest.mark.realtime
@pytest.mark.parametrize("gone", ["main", "sub"])
def test_a_native_rtsp_camera_with_either_stream_gone_says_which(
        tmp_path: Path, rtsp_streams: tuple[Path, Path], gone: str) -> None:
    """Two RTSP streams (GStreamer's server, real time): the walker only in the substream; the event is recorded
    from the main stream's packets at its size. Then one server goes away. The main stream: the camera, still
    watching the substream, is degraded, its fault naming the lost recorded stream. The substream: the camera is
    lost, its fault naming the detection stream, while the main stream is still read (before, the native detector
    detected on the main stream alone: no event at all from this substream's walker)."""
    fps = RTSP_FPS
    main, sub = rtsp_streams
    root = tmp_path / "run"
    root.mkdir()
    endpoint = private_endpoint(root)
    status_path = root / "outbox" / "detector-status.json"

    def camera() -> dict:
        try:
            return json.loads(status_path.read_text())["cameras"]["cam0"]
        except (OSError, ValueError, KeyError):
            return {}

    with serving(main) as (main_url, main_server), serving(sub) as (sub_url, sub_server):
        (root / "quickcam.toml").write_text(
            f'[camera]\nsource = "stream"\nfps = {fps:g}\npath = "{main_url}"\ndetect_path = "{sub_url}"\n'
            'reopen_max_s = 1\n[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\n'
            f'[link]\nendpoint = "{endpoint}"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
        uploader = KeepingPeer(endpoint)
        detector = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "25"],
                                    cwd=root, env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert wait_until(lambda: any(h["final"] for h in list(uploader.segments)), seconds=20)
            server = main_server if gone == "main" else sub_server
            server.terminate()
            server.wait(10)
            said = "recorded stream" if gone == "main" else "detection stream"
            assert wait_until(lambda: said in camera().get("fault", ""), seconds=15)
            seen = camera()
            frames = seen["frames"]
            if gone == "main":
                assert wait_until(lambda: camera().get("frames", 0) > frames + fps, seconds=10)  # still watching
        finally:
            detector.terminate()  # seen what it had to: no need to wait out its --seconds
            _, log = detector.communicate(timeout=40)
            uploader.close()
    assert detector.returncode == 0, log
    assert (seen["width"], seen["height"]) == (320, 240)  # the substream's pictures were decoded
    if gone == "main":
        assert seen["state"] == "degraded", seen
        assert main_url in seen["fault"] and "events are not recorded" in seen["fault"], seen
        assert "recorded stream " + main_url + " lost; reopening" in log, log
    else:
        assert seen["state"] == "lost", seen
        assert f"lost: no frame from the detection stream {sub_url}" in seen["fault"], seen
        assert seen["loops"]["recorded stream"]["running"] and "recorded stream " + main_url + " lost" not in log
    heads = [h for h in uploader.segments if h["final"]]
    assert heads and all((h["width"], h["height"]) == (640, 480) for h in uploader.segments), uploader.segments


def test_a_native_detect_path_without_a_stream_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    """As the Python detector's config refuses it (before, the native one warned and ran the demo scene)."""
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "demo"\ndetect_path = "rtsp://127.0.0.1/sub"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2, run.stdout + run.stderr
    assert 'camera.detect_path: is set, but source = "demo" has no substream: remove detect_path, or use source = ' \
           '"stream" (or "file") with path = the main stream' in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
