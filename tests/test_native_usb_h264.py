"""The native detector's UVC H.264 camera (``input_format = "h264"``): its packets recorded as they came.

No camera here (and no v4l2loopback in a container), so, as the Python detector's tests
(``tests/detector/test_usb_camera.py``), the camera's elementary stream is fed in real time
through a FIFO and read with FFmpeg's ``h264`` demuxer instead of ``v4l2``: the native test seam
``QC_NATIVE_USB_DEMUXER=h264`` (sources.cpp's ``usb_h264``). Everything after the demuxer is
what a camera runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.detector.test_usb_camera import FPS, MAX_S, PERIOD_MS, WALK, Feeder, _annex_b
from tests.fakes.h264 import write_h264
from tests.test_native_fast_decode import SnapshotKeeper
from tests.test_native_passthrough import _packets, _playable, record_with

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="USB cameras use V4L2: Linux only"),
              pytest.mark.realtime]


def test_a_native_uvc_h264_cameras_packets_are_recorded_as_they_came(tmp_path: Path) -> None:
    """Before, ``input_format = "h264"`` was read through OpenCV and encoded again (no such device here: nothing)."""
    video = write_h264(tmp_path / "camera.mp4", MAX_S, FPS, 1.0, 320, 240, walks=(WALK,), bitrate=300_000)
    feeder = Feeder(tmp_path / "video0", _annex_b(video))
    try:
        segments, log, camera, peer = record_with(
            tmp_path / "run", tmp_path / "video0", "", MAX_S - 6,  # stopped while the camera still sends
            f'source = "camera"\ninput_format = "h264"\nfps = {FPS:g}\nwidth = 320\nheight = 240', SnapshotKeeper,
            {"QC_NATIVE_USB_DEMUXER": "h264"})
    finally:
        feeder.close()
    assert camera["recorder"] == "passthrough" and camera["events"] == 1, (camera, log)
    assert "recording by passthrough (h264" in log and "level=warning" not in log and "level=error" not in log, log
    assert isinstance(peer, SnapshotKeeper) and peer.snapshots, log
    _playable(segments)
    for head, _ in segments:
        assert head["codec"] == "h264" and head["fps"] == FPS and (head["width"], head["height"]) == (320, 240)
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    assert all(b - a == pytest.approx(PERIOD_MS, abs=1) for a, b in zip(ends, starts[1:], strict=False))
    # the camera's own packets, contiguous, from a keyframe (one a second) through the walk; a keyframe's carries
    # the parameter sets the camera sends before it (Annex B, in-band), its picture the same bytes
    source = _packets(video)
    recorded = [packet for _, path in segments for packet in _packets(path)]
    first = source.index(recorded[1]) - 1
    assert len(recorded) <= len(source) - first
    for number, packet in enumerate(recorded):
        came = source[first + number]
        assert packet == came or (number == 0 or (first + number) % round(FPS) == 0) and packet.endswith(came[-200:]), \
            f"packet {first + number} is not the camera's as it came"
    assert first % round(FPS) == 0 and first <= WALK.start_s * FPS and first + len(recorded) >= WALK.end_s * FPS
