"""A file analysed as fast as possible that hits a read error goes on where it was: nothing analysed twice.

The capture stage closes a source whose read failed and opens it again (as for a camera). A file
then started again from its first frame: every event before the error was detected and recorded a
second time, as new footage with the same times (duplicates in storage, a second alert). It now
resumes after the last packet it kept (``AvSource._resume``), and the run gives exactly what a run
without the error gives.

The error is a read that fails with EIO (a network share's hiccup) on the demuxer's packets, once,
mid-file; the file, PyAV and FFmpeg are real. The passed-through recording is the one of files
(``record = "auto"``); the re-encoding one reads files through OpenCV, whose failed read ends the file.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quickcam.common.config import CameraConfig
from quickcam.detector.av_source import AvSource
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import Walk
from tests.detector.fakes import camera_config, header, journal
from tests.fakes.h264 import probe, write_h264

FPS = 10.0
FAIL_AT_PACKET = 55  # 5.5 s in: after the first walk's event has ended, before the second walk
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FailsOnce(AvSource):
    """The real source, whose demuxer's read fails once (EIO) at packet ``FAIL_AT_PACKET`` of the file."""

    def __init__(self, config: CameraConfig) -> None:
        super().__init__(config)
        self.failures = 0

    def open(self) -> bool:
        opened = super().open()
        if opened and not self.failures:
            self.demuxer = self._failing(self.demuxer, FAIL_AT_PACKET - len(self.pending))  # the probe's first
        return opened

    def _failing(self, packets: Iterator[Any], at: int) -> Iterator[Any]:
        for number, packet in enumerate(packets):
            if number == at:
                self.failures += 1
                raise OSError(errno.EIO, "Input/output error")
            yield packet


def _analyse(video: Path, outbox_dir: Path, source: type[AvSource]) -> tuple[list[tuple], int, CameraPipeline]:
    """Each segment's (event number, start_ms, end_ms, frames, final) and the number of snapshots."""
    camera = camera_config(outbox_dir, pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0)
    camera = camera.model_copy(update={"source": "file", "path": str(video), "realtime": False, "start": START})
    pipeline = CameraPipeline(camera, Outbox(outbox_dir), threading.Event(), source_factory=source)
    pipeline.start()
    pipeline.join(60)
    assert pipeline.finished and pipeline.stats.state == "ended", pipeline.status()
    events: dict[str, int] = {}
    segments, snapshots = [], 0
    for row in journal(outbox_dir):
        number = events.setdefault(row["event"], len(events))
        if row["type"] == "snapshot":
            snapshots += 1
            continue
        head = header(outbox_dir, row["id"])
        assert probe(outbox_dir / f"{row['id']}.bin")["errors"] == 0
        segments.append((number, head["start_ms"], head["end_ms"], head["frames"], head["final"]))
    return segments, snapshots, pipeline


def test_a_file_read_error_mid_analysis_resumes_after_what_was_read_without_duplicates(tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walks.mp4", 10.0, FPS, 1.0, walks=(Walk(1.0, 3.0), Walk(7.0, 8.5)))
    expected, expected_snapshots, _ = _analyse(video, tmp_path / "plain", AvSource)
    assert len({segment[0] for segment in expected}) == 2  # the two walks, two events

    segments, snapshots, pipeline = _analyse(video, tmp_path / "failing", FailsOnce)
    assert isinstance(pipeline.source, FailsOnce) and pipeline.source.failures == 1  # the error did happen
    assert segments == expected  # before: the file again from its start, its times going back: a third event
    assert snapshots == expected_snapshots
    assert pipeline.status()["not_recorded"] == 0
