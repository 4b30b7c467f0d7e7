"""A video file analysed as fast as possible records exactly what it records in real time.

Two walks close together, so the second event starts while the recorder may
still be writing the first: fast analysis must wait for the recorder
(back-pressure), finish each event before the next, and stamp frames on the
file's own timeline, so both modes give the same events with the same frames.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest

from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import DemoSource, Walk
from tests.detector.fakes import camera_config, header, journal

FPS = 10.0
WALKS = (Walk(1.0, 2.6), Walk(3.8, 5.4))  # the second starts 0.2 s after the first event's post-roll
LENGTH_S = 6.5
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "walks.avi"
    demo = DemoSource(640, 480, FPS, realtime=False, walks=WALKS, period_s=1000.0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for _ in range(int(LENGTH_S * FPS)):
        writer.write(demo.read().image)
    writer.release()
    return path


def _analyse(video: Path, outbox_dir: Path, realtime: bool, start: datetime | None = START) -> list[tuple]:
    """(snapshot time, first and last segment time, frames) per event, in order; and the pipeline's stats."""
    camera = camera_config(outbox_dir, pre_roll_s=0.5, post_roll_s=0.8)
    camera = camera.model_copy(update={"source": "file", "path": str(video), "realtime": realtime, "start": start})
    pipeline = CameraPipeline(camera, Outbox(outbox_dir), threading.Event())
    pipeline.start()
    pipeline.join(60)
    assert pipeline.finished and pipeline.stats.state == "ended"
    status = pipeline.status()
    assert status["dropped_recording"] == 0 and status["not_recorded"] == 0, status
    events: dict[str, dict] = {}
    for row in journal(outbox_dir):
        event = events.setdefault(row["event"], {"snapshot": None, "segments": []})
        if row["type"] == "snapshot" and event["snapshot"] is None:
            event["snapshot"] = row["time_ms"]
        elif row["type"] == "segment":
            event["segments"].append(header(outbox_dir, row["id"]))
    out = []
    for event in events.values():
        segments = sorted(event["segments"], key=lambda h: h["seq"])
        assert segments and segments[-1]["final"] and not any(h["final"] for h in segments[:-1]), segments
        out.append((event["snapshot"], segments[0]["start_ms"], segments[-1]["end_ms"],
                    sum(h["frames"] for h in segments)))
    return sorted(out), status


def test_fast_analysis_gives_the_same_events_and_frames_as_real_time(video: Path, tmp_path: Path) -> None:
    fast, fast_status = _analyse(video, tmp_path / "fast", realtime=False)
    started = time.monotonic()
    real, real_status = _analyse(video, tmp_path / "real", realtime=True)
    assert time.monotonic() - started >= LENGTH_S - 1  # it really was played in real time
    assert len(fast) == 2, fast
    if real_status["dropped"]:  # the machine was too busy to detect every frame live: not comparable
        pytest.skip(f"real-time run skipped {real_status['dropped']} frame(s) for detection on a busy machine")
    assert fast == real
    start_ms = int(START.timestamp() * 1000)
    for (snapshot_ms, first_ms, last_ms, frames), walk in zip(fast, WALKS, strict=True):
        assert walk.start_s <= (snapshot_ms - start_ms) / 1000 <= walk.end_s  # times map onto the video
        assert frames == round((last_ms - first_ms) / 1000 * FPS) + 1  # every frame in between, none twice


def test_without_a_start_a_files_times_come_from_its_mtime(video: Path, tmp_path: Path) -> None:
    mtime = time.time() - 3 * 86400  # filmed three days ago
    os.utime(video, (mtime, mtime))
    events, _ = _analyse(video, tmp_path, realtime=False, start=None)
    first_frame_s = mtime - LENGTH_S
    snapshot_s = events[0][0] / 1000
    assert WALKS[0].start_s - 0.2 <= snapshot_s - first_frame_s <= WALKS[0].end_s, (snapshot_s, first_frame_s)
