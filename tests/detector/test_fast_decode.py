"""``[camera] fast_decode``: detection's frames decoded without deblocking, snapshots decoded again in full."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from quickcam.detector.av_source import AvSource
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import EndOfSource, Frame, Walk
from tests.detector.fakes import camera_config, header, journal
from tests.fakes.h264 import write_h264

FPS = 15.0
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low bitrate (where deblocking works hardest) and a 2 s GOP (the drift grows until the next keyframe)."""
    path = tmp_path_factory.mktemp("fast_decode") / "walk.mp4"
    return write_h264(path, 4.0, FPS, 2.0, width=640, height=480, walks=(Walk(0.5, 3.5),), bitrate=150_000)


def normal_decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]


def frames_of(path: Path, fast: bool) -> list[Frame]:
    camera = camera_config(path.parent).model_copy(
        update={"source": "file", "path": str(path), "realtime": False, "fps": FPS, "width": 640, "height": 480,
                "fast_decode": fast})
    source = AvSource(camera)
    assert source.open()
    frames = []
    try:
        while True:
            frames.append(source.read())
    except EndOfSource:
        pass
    source.close()
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def test_fast_decode_skips_deblocking_and_a_snapshot_is_decoded_again_in_full(video: Path) -> None:
    reference = normal_decode(video)
    fast = frames_of(video, fast=True)
    assert len(fast) == len(reference) == 60
    late = 29  # the first GOP's last frame: the most drift from frames predicted from unfiltered ones
    assert psnr(fast[late].bgr(), reference[late]) < 60, "the decoder still deblocks: the option did not reach it"
    for index in (0, 7, late, 30, 59):  # keyframes, within a GOP, GOP ends
        assert np.array_equal(fast[index].picture(), reference[index]), index


def test_without_fast_decode_frames_are_decoded_in_full(video: Path) -> None:
    reference = normal_decode(video)
    frames = frames_of(video, fast=False)
    assert frames[29].full is None
    assert np.array_equal(frames[29].bgr(), reference[29]) and np.array_equal(frames[29].picture(), reference[29])


def test_a_cameras_snapshots_are_decoded_in_full_with_fast_decode(tmp_path: Path, video: Path) -> None:
    """Through the real pipeline: every snapshot is the normally decoded frame, not the cheap one."""
    camera = camera_config(tmp_path / "outbox").model_copy(
        update={"source": "file", "path": str(video), "realtime": False, "fps": FPS, "width": 640, "height": 480,
                "fast_decode": True, "start": START})
    pipeline = CameraPipeline(camera, Outbox(tmp_path / "outbox"), threading.Event())
    pipeline.start()
    pipeline.join(60)
    assert pipeline.finished
    reference, cheap = normal_decode(video), [f.bgr() for f in frames_of(video, fast=True)]
    start_ms = int(camera.start.timestamp() * 1000)
    snapshots = [e for e in journal(tmp_path / "outbox") if e["type"] == "snapshot"]
    assert snapshots
    for entry in snapshots:
        index = round((header(tmp_path / "outbox", entry["id"])["time_ms"] - start_ms) * FPS / 1000)
        payload = (tmp_path / "outbox" / f"{entry['id']}.bin").read_bytes()
        picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
        expected = cv2.imdecode(cv2.imencode(".jpg", reference[index], [cv2.IMWRITE_JPEG_QUALITY,
                                                                         camera.recording.snapshot_quality])[1],
                                cv2.IMREAD_COLOR)
        assert np.array_equal(picture, expected), f"snapshot {entry['seq']} (frame {index}) is not the full decode"
        assert not np.array_equal(cheap[index], reference[index]) or index % 30 == 0


def test_idle_keyframes_only_decodes_keyframes_until_detection_wants_every_frame_then_every_frame_exactly(
        video: Path) -> None:
    """While detection is idle only keyframes are decoded; from the packet where it asks for every frame (mid-GOP)
    the decoder catches up on the GOP's skipped packets, so every frame after is the normal decode, bit for bit."""
    camera = camera_config(video.parent).model_copy(
        update={"source": "stream", "path": str(video), "fps": FPS, "width": 640, "height": 480,
                "idle_keyframes_only": True})
    source = AvSource(camera)
    asked = []
    source.every_frame = lambda: len(asked) > 12 or bool(asked.append(1))  # idle for 13 questions, then motion
    assert source.open() and source.idle_keys is not None
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame.bgr())
    source.close()
    reference = normal_decode(video)
    assert np.array_equal(frames[0], reference[0])  # the first keyframe
    rest = frames[1:]
    assert 30 < len(rest) < 59, len(rest)  # a part of the first GOP was skipped, the second GOP decoded in full
    for got, expected in zip(rest, reference[-len(rest):], strict=True):
        assert np.array_equal(got, expected)


def test_idle_keyframes_only_follows_the_detect_stage(tmp_path: Path, video: Path) -> None:
    camera = camera_config(tmp_path / "outbox").model_copy(
        update={"source": "stream", "path": str(video), "idle_keyframes_only": True})
    pipeline = CameraPipeline(camera, Outbox(tmp_path / "outbox"), threading.Event())
    assert pipeline.source.every_frame == pipeline.detect.wants_every_frame
    assert not pipeline.detect.wants_every_frame()  # nothing seen yet: keyframes only
