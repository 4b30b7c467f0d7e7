"""A damaged RTSP stream's packets are counted by the Python detector's source, and a healthy one's are not.

The file test (``tests/test_damaged_packets.py``) runs both detectors' processes; this one sends the
damage the way a camera does: GStreamer's RTSP server on 127.0.0.1 passes the packets of an H.264
clip through (``h264parse``, ``rtph264pay``), P-frames 20-29 of it damaged (the middle third of their
bytes inverted; a keyframe every second at 10 fps: the next at frame 30). ``AvSource`` counts the
packets FFmpeg finds damaged from the first keyframe on, and says the streak's end at frame 30.
"""

from __future__ import annotations

import time
from pathlib import Path

from quickcam.detector.av_source import AvSource
from tests.detector.fakes import camera_config
from tests.detector.test_passthrough_rtsp import serving
from tests.fakes.h264 import damage_h264, write_h264

FPS, DAMAGED = 10.0, range(20, 30)
READ_S = 8.0  # the open holds ~2 s; frame 30 goes out 3 s after PLAY


def _read(url: str, tmp_path: Path) -> tuple[int, int]:
    """(packets counted damaged, frames read) once a keyframe after the damage decoded, or after ``READ_S``."""
    camera = camera_config(tmp_path / "outbox").model_copy(update={"source": "stream", "path": url, "fps": FPS})
    source = AvSource(camera)
    frames = 0
    try:
        assert source.open()
        deadline = time.monotonic() + READ_S
        while time.monotonic() < deadline and frames < 35:
            assert source.read() is not None
            source.take_packets()
            frames += 1
    finally:
        source.close()
    return source.damaged.count, frames


def test_a_damaged_rtsp_streams_packets_are_counted_and_a_healthy_ones_are_not(tmp_path: Path) -> None:
    clean = write_h264(tmp_path / "clean.mp4", 4.0, FPS, 1.0)
    damaged = damage_h264(clean, tmp_path / "damaged.mp4", DAMAGED)
    with serving(damaged) as (url, _server):
        counted, frames = _read(url, tmp_path)
    assert frames == 35 and 5 <= counted <= len(DAMAGED), (counted, frames)
    with serving(clean) as (url, _server):
        counted, frames = _read(url, tmp_path)
    assert frames == 35 and counted == 0, (counted, frames)
