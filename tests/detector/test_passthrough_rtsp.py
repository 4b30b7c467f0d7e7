"""Passthrough from a real RTSP server on 127.0.0.1 (GStreamer's gst-rtsp-server, started by the test).

The camera's H.264 comes over RTSP (RTP over TCP) in real time; the event is
recorded from the stream's own packets: every segment decodes from its first
packet, holds the frames its header says, carries the pre-roll, and its bytes
per second are the stream's.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import Walk
from tests.conftest import free_port
from tests.detector.fakes import camera_config, header, journal
from tests.fakes.h264 import probe, write_h264

SERVER = Path(__file__).parents[1] / "fakes" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
FPS, LENGTH_S, WALK = 15.0, 9.0, Walk(2.5, 4.5)
BITRATE = 300_000


def _gst_rtsp_missing() -> str:
    check = ("import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer;"
             "Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in ('qtdemux', 'h264parse', 'rtph264pay'))")
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no system python3 to run GStreamer's RTSP server ({exc})"
    return "" if done.returncode == 0 else ("GStreamer's RTSP server is not installed (scripts/install_test_tools.sh "
                                            "installs gir1.2-gst-rtsp-server-1.0 and its plugins as root)")


@pytest.fixture(scope="module")
def rtsp_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_h264(tmp_path_factory.mktemp("rtsp") / "camera.mp4", LENGTH_S, FPS, 1.0, 320, 240,
                      walks=(WALK,), bitrate=BITRATE)


@contextmanager
def serving(video: Path, audio: bool = False) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``video`` served on ``rtsp://127.0.0.1:PORT/cam``: the URL, and the server (its stdout after ``ready``);
    ``audio``: a live audio track beside it, first in the SDP (many cameras), going on after the clip ends."""
    missing = _gst_rtsp_missing()
    if missing:
        pytest.skip(missing)
    port = free_port()  # held until the test ends: the server binds it beside the holder
    server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(video), str(port)] + (["audio"] if audio else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield f"rtsp://127.0.0.1:{port}/cam", server
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def rtsp_url(rtsp_video: Path) -> Iterator[str]:
    with serving(rtsp_video) as (url, _server):
        yield url


def test_an_rtsp_cameras_packets_are_recorded_as_they_came(rtsp_url: str, rtsp_video: Path, tmp_path: Path) -> None:
    outbox_dir = tmp_path / "outbox"
    camera = camera_config(outbox_dir, pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0)
    camera = camera.model_copy(update={"source": "stream", "path": rtsp_url, "fps": FPS, "width": 320, "height": 240})
    stop = threading.Event()
    pipeline = CameraPipeline(camera, Outbox(outbox_dir), stop)
    pipeline.start()
    deadline = time.monotonic() + LENGTH_S + 20
    while time.monotonic() < deadline and not any(e["type"] == "segment" and header(outbox_dir, e["id"])["final"]
                                                  for e in journal(outbox_dir)):
        time.sleep(0.2)
    stop.set()
    pipeline.join(20)
    assert pipeline.finished
    assert pipeline.recorder is pipeline.passthrough
    entries = journal(outbox_dir)
    segments = [(header(outbox_dir, e["id"]), outbox_dir / f"{e['id']}.bin") for e in entries if e["type"] == "segment"]
    snapshots = [header(outbox_dir, e["id"]) for e in entries if e["type"] == "snapshot"]
    assert segments and segments[-1][0]["final"], entries
    for head, payload in segments:
        assert probe(payload) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        if shutil.which("ffprobe"):  # a second opinion where Debian's ffmpeg is installed
            counted = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                                      "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(payload)],
                                     capture_output=True, text=True, timeout=30)
            assert counted.stderr == "" and int(counted.stdout) == head["frames"]
    onset_ms = snapshots[0]["time_ms"]
    assert onset_ms - segments[0][0]["start_ms"] >= 1000 - 1000 / FPS  # the pre-roll, back to a keyframe
    assert segments[-1][0]["end_ms"] - onset_ms >= 1000  # the walk and the post-roll
    frames = sum(h["frames"] for h, _ in segments)
    stored_bps = sum(p.stat().st_size for _, p in segments) * 8 / (frames / FPS)
    source_bps = rtsp_video.stat().st_size * 8 / LENGTH_S
    assert stored_bps == pytest.approx(source_bps, rel=0.3), (stored_bps, source_bps)


def test_a_cameras_video_that_stops_while_its_audio_goes_on_is_a_lost_camera_not_a_stall(tmp_path: Path) -> None:
    """A camera with an audio track (first in its SDP) whose video stops (its encoder hung; here the clip ends)
    while the audio goes on. The audio kept the connection reading: no read ever timed out, the camera was
    "stalled" for good and never reopened. Only the video is asked for now: the read ends within its timeout
    (``stream_timeout_s``, 4 s here: the 10 s default only made the test wait longer)."""
    from quickcam.detector.av_source import AvSource

    timeout_s = 4
    video = write_h264(tmp_path / "camera.mp4", 6.0, 10.0, 1.0)
    with serving(video, audio=True) as (url, _server):
        camera = camera_config(tmp_path / "outbox").model_copy(update={"source": "stream", "path": url, "fps": 10.0,
                                                                       "stream_timeout_s": timeout_s})
        source = AvSource(camera)
        reads: list[object] = []

        def read_all() -> None:
            try:
                assert source.open()
                while (frame := source.read()) is not None:
                    source.take_packets()
                    reads.append(frame)
            except Exception as exc:  # noqa: BLE001 - a lost stream may raise: it ended, which is what counts
                reads.append(exc)

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        reader.join(6.0 + 2 * timeout_s + 10)
        assert not reader.is_alive(), f"still reading after the video stopped ({len(reads)} frames)"
    source.close()
    assert 50 <= len([r for r in reads if not isinstance(r, Exception)]) <= 60, reads[-1:]
