"""USB cameras: H.264 recorded as it came, MJPEG watched cheaply, and devices that cannot be used named with the fix.

There is no camera here (and no v4l2loopback: a container cannot load kernel
modules), so the camera's elementary stream is fed in real time through a FIFO
and read by the same source with FFmpeg's ``h264`` / ``mjpeg`` demuxer instead
of ``v4l2``: what the v4l2 demuxer hands on for a UVC H.264 or MJPEG camera,
minus the driver's timestamps. Everything after the demuxer is the code a
camera runs: the keyframe probe, the clock, the pre-roll back to a keyframe,
the cuts, the remuxing or re-encoding.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import pytest

from quickcam.common.config import CameraConfig, ConfigError, load_config
from quickcam.detector.doctor import check_camera
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import DemoSource, Walk
from quickcam.detector.usb_source import UsbCamera, driver_clock, increasing
from quickcam.detector.v4l2 import DeviceError, choose_input, device_error, fourcc
from tests.conftest import QUICKCAM, private_endpoint
from tests.detector.fakes import camera_config, header, journal
from tests.fakes.h264 import probe, write_h264

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="USB cameras use V4L2: Linux only"),
              pytest.mark.realtime]  # fed through a FIFO in real time; times checked to 50 ms

FPS, WALK, MAX_S = 10.0, Walk(1.5, 2.5), 12.0
PERIOD_MS = 1000 / FPS


class Feeder:
    """Writes a camera's frames (one elementary-stream unit each) into a FIFO at ``FPS``, as a camera sends them."""

    def __init__(self, fifo: Path, units: list[bytes]) -> None:
        self.fifo, self.units = fifo, units
        self.done = threading.Event()
        self.start_ns = 0  # wall clock when frame 0 was written
        os.mkfifo(fifo)
        self.thread = threading.Thread(target=self._feed, daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        with open(self.fifo, "wb", buffering=0) as pipe:
            self.start_ns, start = time.time_ns(), time.monotonic()
            for number, unit in enumerate(self.units):
                if self.done.wait(max(0.0, start + number / FPS - time.monotonic())):
                    break
                self._send(pipe, unit)
            self.done.wait()  # a camera that stays open: the test ends it
            self._end()

    def _send(self, pipe: Any, unit: Any) -> None:
        pipe.write(unit)

    def _end(self) -> None:
        pass

    def close(self) -> None:
        self.done.set()
        with contextlib.suppress(OSError):  # a reader still waiting for a writer (a reopen) is let go
            os.close(os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK))
        self.thread.join(10)


class ClockedFeeder(Feeder):
    """Sends each packet stamped with the monotonic clock when it is sent, as the UVC driver stamps a frame.

    The packets go in a NUT container (it carries the timestamps), read with the
    ``nut`` demuxer; ``sent_ns`` is each packet's send time on the wall clock.
    """

    def __init__(self, fifo: Path, packets: list[av.Packet], template: Any) -> None:
        self.template, self.output, self.stream = template, None, None
        self.sent_ns: list[int] = []
        super().__init__(fifo, packets)

    def _send(self, pipe: Any, packet: Any) -> None:
        if self.output is None:  # flushed after each packet: it reaches the reader when it is sent
            self.output = av.open(pipe, "w", format="nut", options={"flush_packets": "1"})
            self.stream = self.output.add_stream_from_template(self.template)
            self.stream.time_base = Fraction(1, 1_000_000)
        wall_ns, monotonic_ns = time.time_ns(), time.monotonic_ns()
        packet.stream, packet.time_base = self.stream, self.stream.time_base
        packet.pts = packet.dts = monotonic_ns // 1000
        self.sent_ns.append(wall_ns)
        self.output.mux(packet)

    def _end(self) -> None:
        if self.output is not None:
            self.output.close()


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[list[Feeder]]:
    feeders: list[Feeder] = []
    yield feeders
    for feeder in feeders:
        feeder.close()


def _annex_b(video: Path) -> list[bytes]:
    """The H.264 access units a UVC camera sends: Annex B, parameter sets before each keyframe."""
    with av.open(str(video)) as container:
        to_annex_b = av.BitStreamFilterContext("h264_mp4toannexb", container.streams.video[0])
        return [bytes(unit) for packet in container.demux(video=0) if packet.size
                for unit in to_annex_b.filter(packet)]


def _jpegs(width: int, height: int, frames: int) -> list[bytes]:
    """What an MJPEG webcam sends: one JPEG per frame, most without Huffman tables (the standard ones apply)."""
    demo = DemoSource(width, height, FPS, realtime=False, walks=(WALK,), period_s=1000.0)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, int(FPS))
    return [_without_huffman_tables(bytes(packet)) if number % 2 else bytes(packet) for number in range(frames)
            for packet in encoder.encode(av.VideoFrame.from_ndarray(demo.read().image, format="bgr24"))]


def _without_huffman_tables(jpeg: bytes) -> bytes:
    """The JPEG without its DHT segments, as UVC cameras send MJPEG (the decoder uses the standard tables)."""
    out, at = bytearray(jpeg[:2]), 2
    while at < len(jpeg):
        marker, length = jpeg[at:at + 2], int.from_bytes(jpeg[at + 2:at + 4], "big")
        if marker == b"\xff\xda":  # start of scan: the entropy-coded picture follows
            return bytes(out + jpeg[at:])
        if marker != b"\xff\xc4":
            out += jpeg[at:at + 2 + length]
        at += 2 + length
    raise AssertionError("a JPEG without a scan")


def _record(tmp_path: Path, feeders: list[Feeder], feeder: Feeder, demuxer: str) -> CameraPipeline:
    """Run a camera's pipeline on the fed stream until its event's final segment is stored."""
    outbox_dir = tmp_path / "outbox"
    camera = camera_config(outbox_dir, pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0)
    camera = camera.model_copy(update={"source": "camera", "fps": FPS, "width": 320, "height": 240,
                                       "realtime": True})
    feeders.append(feeder)
    stop = threading.Event()
    pipeline = CameraPipeline(camera, Outbox(outbox_dir), stop,
                              source_factory=lambda cam: UsbCamera(cam, str(feeder.fifo), demuxer))
    pipeline.start()
    deadline = time.monotonic() + MAX_S + 15
    while time.monotonic() < deadline and not any(e["type"] == "segment" and header(outbox_dir, e["id"])["final"]
                                                  for e in journal(outbox_dir)):
        time.sleep(0.1)
    stop.set()
    feeder.close()
    pipeline.join(20)
    assert pipeline.finished
    return pipeline


def _stored(outbox_dir: Path) -> tuple[list[tuple[dict, Path]], list[dict]]:
    entries = journal(outbox_dir)
    segments = [(header(outbox_dir, e["id"]), outbox_dir / f"{e['id']}.bin") for e in entries if e["type"] == "segment"]
    return segments, [header(outbox_dir, e["id"]) for e in entries if e["type"] == "snapshot"]


def _opencv_frames(payload: Path) -> int:
    """Frames OpenCV's own FFmpeg decodes from a stored segment: a second player besides PyAV."""
    capture = cv2.VideoCapture(str(payload))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def _ffprobe_frames(payload: Path) -> int | None:
    if not shutil.which("ffprobe"):  # a second opinion where Debian's ffmpeg is installed
        return None
    counted = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=nb_read_frames", "-of", "csv=p=0", str(payload)],
                             capture_output=True, text=True, timeout=30)
    assert counted.stderr == "", counted.stderr
    return int(counted.stdout)


def test_a_uvc_h264_cameras_packets_are_recorded_as_they_came(tmp_path: Path, fifo: list[Feeder]) -> None:
    video = write_h264(tmp_path / "camera.mp4", MAX_S, FPS, 1.0, 320, 240, walks=(WALK,), bitrate=300_000)
    units = _annex_b(video)
    feeder = Feeder(tmp_path / "video0", units)
    pipeline = _record(tmp_path, fifo, feeder, "h264")
    assert pipeline.recorder is pipeline.passthrough and pipeline.status()["recorder"] == "passthrough"
    segments, snapshots = _stored(tmp_path / "outbox")
    assert segments and segments[-1][0]["final"] and snapshots
    for head, payload in segments:
        assert probe(payload) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        assert _ffprobe_frames(payload) in (None, head["frames"]) and _opencv_frames(payload) == head["frames"]
        assert head["fps"] == FPS and (head["width"], head["height"]) == (320, 240)
        assert head["end_ms"] - head["start_ms"] == pytest.approx((head["frames"] - 1) * PERIOD_MS, abs=1)
    starts = [h["start_ms"] for h, _ in segments]
    ends = [h["end_ms"] for h, _ in segments]
    assert all(b - a == pytest.approx(PERIOD_MS, abs=1) for a, b in zip(ends, starts[1:], strict=False))
    # times are when the frames were sent: every segment starts on a keyframe (one a second from frame 0)
    for start in starts:
        since_s = (start - feeder.start_ns // 1_000_000) / 1000
        assert abs(since_s - round(since_s)) < 0.35, since_s
    onset_ms = snapshots[0]["time_ms"]
    assert onset_ms - segments[0][0]["start_ms"] >= 1000 - PERIOD_MS  # the pre-roll, back to a keyframe
    assert ends[-1] - onset_ms >= 1000  # the walk and the post-roll
    assert -0.3 < (onset_ms - feeder.start_ns // 1_000_000) / 1000 - WALK.start_s < 1.0
    frames = sum(h["frames"] for h, _ in segments)  # the camera's own bytes: its bitrate, no re-encode
    stored_bps = sum(p.stat().st_size for _, p in segments) / (frames / FPS)
    sent_bps = sum(len(u) for u in units) / MAX_S
    assert stored_bps == pytest.approx(sent_bps, rel=0.3), (stored_bps, sent_bps)


def test_an_mjpeg_camera_is_watched_at_reduced_scale_and_its_events_re_encoded(tmp_path: Path,
                                                                               fifo: list[Feeder]) -> None:
    feeder = Feeder(tmp_path / "video0", _jpegs(320, 240, int(MAX_S * FPS)))
    pipeline = _record(tmp_path, fifo, feeder, "mjpeg")
    assert pipeline.recorder is pipeline.record and pipeline.status()["recorder"] == "reencode"
    segments, snapshots = _stored(tmp_path / "outbox")
    assert segments and segments[-1][0]["final"] and snapshots
    for head, payload in segments:
        assert probe(payload) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        assert _ffprobe_frames(payload) in (None, head["frames"]) and _opencv_frames(payload) == head["frames"]
        assert head["end_ms"] - head["start_ms"] == pytest.approx((head["frames"] - 1) * PERIOD_MS, abs=1)
    onset_ms = snapshots[0]["time_ms"]
    assert onset_ms - segments[0][0]["start_ms"] >= 1000 - PERIOD_MS  # the pre-roll (kept as JPEG bytes)
    assert -0.3 < (onset_ms - feeder.start_ns // 1_000_000) / 1000 - WALK.start_s < 1.0


def test_frames_stamped_by_the_driver_on_the_monotonic_clock_keep_their_capture_times(
        tmp_path: Path, fifo: list[Feeder]) -> None:
    """The keyframe probe at open reads a GOP ahead; the times are still when each frame was sent."""
    video = write_h264(tmp_path / "camera.mp4", MAX_S, FPS, 1.0, 320, 240, walks=(WALK,))
    with av.open(str(video)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
        feeder = ClockedFeeder(tmp_path / "video0", packets, container.streams.video[0])
        pipeline = _record(tmp_path, fifo, feeder, "nut")
    assert pipeline.recorder is pipeline.passthrough
    segments, _ = _stored(tmp_path / "outbox")
    assert segments and segments[-1][0]["final"]
    for head, payload in segments:
        assert probe(payload) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        first = min(range(len(feeder.sent_ns)), key=lambda n: abs(feeder.sent_ns[n] // 1_000_000 - head["start_ms"]))
        assert first % round(FPS) == 0  # a keyframe
        assert head["start_ms"] == pytest.approx(feeder.sent_ns[first] / 1e6, abs=50)
        last = first + head["frames"] - 1
        assert last < len(feeder.sent_ns) and head["end_ms"] == pytest.approx(feeder.sent_ns[last] / 1e6, abs=50)


def test_a_device_that_is_not_a_camera_fails_the_detector_with_one_line_naming_the_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update(QUICKCAM_LINK__ENDPOINT=private_endpoint(tmp_path), QUICKCAM_CAMERA__SOURCE="camera",
               QUICKCAM_CAMERA__PATH="/dev/null")
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "2"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "camera cam0: cannot open /dev/null — not a video device; set [camera] index or path" in run.stderr
    assert "Traceback" not in run.stderr


def test_doctor_names_what_is_wrong_with_a_usb_device_and_the_fix() -> None:
    result = check_camera(CameraConfig(source="camera", path="/dev/null"))
    assert not result.ok
    assert (result.detail, result.fix) == ("cannot open /dev/null — not a video device",
                                           "set [camera] index or path to a /dev/video* camera")


def test_a_missing_device_path_is_named(tmp_path: Path) -> None:
    camera = camera_config(tmp_path).model_copy(update={"source": "camera", "path": str(tmp_path / "video9")})
    source = UsbCamera(camera)
    assert not source.open()
    assert source.open_error.startswith(f"cannot open {tmp_path / 'video9'} — no such device; list cameras with")


def test_auto_prefers_h264_then_mjpeg_then_raw_and_a_missing_format_names_what_is_offered() -> None:
    assert choose_input("/dev/video0", ("YUYV", "MJPG", "H264"), "auto") == "h264"
    assert choose_input("/dev/video0", ("YUYV", "MJPG"), "auto") == "mjpeg"
    assert choose_input("/dev/video0", ("YUYV",), "auto") == "raw"
    assert choose_input("/dev/video0", ("JPEG",), "mjpeg") == "mjpeg"
    with pytest.raises(DeviceError, match=r'offers no H264 video \(it offers: YUYV, MJPG\); set \[camera\] '
                                          r'input_format = "mjpeg" \(or "auto"\)'):
        choose_input("/dev/video0", ("YUYV", "MJPG"), "h264")
    with pytest.raises(DeviceError, match="offers no video format; check it with `v4l2-ctl"):
        choose_input("/dev/video1", (), "auto")
    assert fourcc(0x34363248) == "H264" and fourcc(0x47504A4D) == "MJPG"


def test_a_busy_device_is_named_with_how_to_find_who_holds_it() -> None:
    busy = device_error("/dev/video0", OSError(errno.EBUSY, "Device or resource busy"))
    assert busy == ("cannot open /dev/video0 — busy: another program is using the camera (find it with "
                    "`fuser -v /dev/video0`); close it, or give that program another camera")
    assert "'video' group" in device_error("/dev/video0", PermissionError(errno.EACCES, "denied"))


def test_driver_timestamps_on_the_monotonic_or_wall_clock_are_recognised() -> None:
    wall, mono = 1_800_000_000 * 10**9, 5_000 * 10**9
    assert driver_clock(mono - 30_000_000, wall, mono) == "monotonic"  # UVC's default: a frame 30 ms ago
    assert driver_clock(wall - 30_000_000, wall, mono) == "wall"
    assert driver_clock(0, wall, mono) == "none"  # a stream counted from zero


def test_a_stamp_the_driver_repeats_is_moved_just_past_the_last_and_a_real_jump_back_is_kept() -> None:
    frame = 66_666  # ticks of 1 us at 15 fps
    assert increasing(5_000_000, 4_933_334, frame) == 5_000_000  # the next frame
    assert increasing(5_000_000, 5_000_000, frame) == 5_000_001  # the same stamp twice
    assert increasing(4_990_000, 5_000_000, frame) == 5_000_001  # set back by less than a frame
    assert increasing(1_000_000, 5_000_000, frame) == 1_000_000  # a clock that jumped back: the segment ends
    assert increasing(1_000_000, None, frame) == 1_000_000


def test_an_unknown_input_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"camera.input_format: .*'auto', 'h264', 'mjpeg' or 'raw'.*"
                                          r"QUICKCAM_CAMERA__INPUT_FORMAT"):
        load_config(None, {"QUICKCAM_CAMERA__INPUT_FORMAT": "yuyv"})
