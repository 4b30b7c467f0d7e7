"""The disk budget policy: over budget, new segments get smaller; nothing already recorded is touched."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from quickcam.common import protocol
from quickcam.common.config import RecordingConfig
from quickcam.detector.encoders import EncoderChoice
from quickcam.detector.outbox import LOW_DISK_BYTES, MIB, Outbox, SegmentFormat, budget_format
from quickcam.detector.pipeline.record import OpenSegment
from quickcam.detector.sources import Frame
from tests.own_logs import own_records

PLENTY = 100 * 1024 * MIB


def test_under_budget_segments_keep_the_cameras_format() -> None:
    full = SegmentFormat(640, 480, 15.0, 2.0)
    assert budget_format(640, 480, 15.0, 2.0, 99 * MIB, 100 * MIB, PLENTY, 1.0) == full
    assert budget_format(640, 480, 15.0, 2.0, 10**12, 0, PLENTY, 1.0) == full  # 0 = no budget


def test_at_the_budget_or_on_a_nearly_full_disk_segments_are_half_size_at_the_reduced_rate() -> None:
    # As many frames per segment as a full one (2 s x 15 fps = 30 frames = 30 s at 1 fps).
    reduced = SegmentFormat(320, 240, 1.0, 30.0, reduced=True)
    assert budget_format(640, 480, 15.0, 2.0, 100 * MIB, 100 * MIB, PLENTY, 1.0) == reduced
    assert budget_format(640, 480, 15.0, 2.0, 0, 100 * MIB, LOW_DISK_BYTES - 1, 1.0) == reduced
    assert budget_format(1281, 721, 0.5, 2.0, 200 * MIB, 100 * MIB, PLENTY, 2.0) == SegmentFormat(
        640, 360, 0.5, 2.0, True)  # never faster than the camera
    assert budget_format(640, 480, 30.0, 10.0, 200 * MIB, 100 * MIB, PLENTY, 1.0).seconds == 60.0  # at most


def _commit_snapshot(box: Outbox, size: int) -> str:
    payload = b"\xff" * size
    header = protocol.make_header("snapshot", camera="cam0", event="e1", width=4, height=4,
                                  content_type="image/jpeg", **protocol.payload_fields(payload))
    box.commit_bytes(header, payload)
    return header["id"]


def test_the_outbox_says_so_loudly_keeps_everything_and_recovers(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.outbox")
    box = Outbox(tmp_path)
    kept = [_commit_snapshot(box, 300_000) for _ in range(3)]
    recording = RecordingConfig(outbox_budget_mb=1.0, over_budget_fps=1.0)
    assert not box.segment_format(640, 480, 15.0, recording).reduced and box.over_budget == ""
    kept.append(_commit_snapshot(box, 300_000))  # 1.2 MB waiting, budget 1 MB
    chosen = box.segment_format(640, 480, 15.0, recording)
    assert chosen == SegmentFormat(320, 240, 1.0, 30.0, reduced=True)
    assert "over the outbox budget of 1 MB; new segments at 1 fps, 320x240" in box.over_budget
    assert "nothing is deleted" in caplog.text and own_records(caplog)[-1].levelname == "ERROR"
    box.segment_format(640, 480, 15.0, recording)
    assert caplog.text.count("over the outbox budget") == 1  # once on entry, then once a minute
    assert [item.id for item in box.pending()] == kept  # nothing deleted
    for item_id in kept[:3]:
        box.remove(item_id)  # acked: the backlog shrinks
    assert not box.segment_format(640, 480, 15.0, recording).reduced and box.over_budget == ""
    assert "back under its budget" in caplog.text


def test_a_reduced_segment_keeps_one_frame_per_period_and_restarts_the_cadence_after_a_hole(
    tmp_path: Path,
) -> None:
    box = Outbox(tmp_path)
    segment = OpenSegment(box, EncoderChoice("cam0", "mp4v"), SegmentFormat(320, 240, 1.0, 30.0, reduced=True))
    image = np.zeros((480, 640, 3), np.uint8)
    period = 1_000_000_000 // 15
    times = [i * period for i in range(46)] + [10_000_000_000 + i * period for i in range(15)]
    for index, time_ns in enumerate(times):
        segment.write(Frame(image=image, time_ns=time_ns, index=index))
    segment.encoder.close()
    # The first frame at or after 0, 1 and 2 s of the first 3 s; after the hole the cadence restarts at 10 s.
    assert segment.frames == 4
    assert segment.end_ns == 10_000_000_000


def test_the_status_stops_saying_over_budget_once_the_backlog_drained_even_with_no_new_segment(
        tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    recording = RecordingConfig(outbox_budget_mb=0.5, over_budget_fps=1.0)
    kept = [_commit_snapshot(box, 300_000) for _ in range(2)]
    assert box.segment_format(640, 480, 15.0, recording).reduced
    assert box.recheck_budget(recording).startswith("0.6 MB waiting")  # still over: still said
    for item_id in kept:
        box.remove(item_id)
    assert box.recheck_budget(recording) == "" and box.over_budget == ""  # no stale OVER BUDGET line
