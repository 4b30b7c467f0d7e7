"""Snapshots given up while the disk refuses writes: counted, logged once per outage, shown by ``quickcam status``.

Of each event only the onset and the newest snapshot are held in memory while the
disk is full; every one in between is dropped. One log line per dropped snapshot
flooded the log (a snapshot a second for as long as the disk stayed full), and
``quickcam status`` did not show the count at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline.disk import FULL, DiskWrites
from quickcam.uploader.cli import camera_line
from tests.detector.fakes import journal
from tests.tmpfs import fill, tmpfs


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "size=4m") as root:
        yield root


def _snapshot(event: str, seq: int) -> tuple[dict, bytes]:
    payload = bytes([seq]) * 20_000
    header = protocol.make_header("snapshot", camera="cam0", event=event, width=4, height=4, seq=seq,
                                  content_type="image/jpeg", **protocol.payload_fields(payload))
    return header, payload


def _drop_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is dropped" in r.getMessage()]


def test_snapshots_dropped_on_a_full_disk_are_counted_logged_once_per_outage_and_shown_in_status(
        tiny_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    outbox = Outbox(tiny_disk / "outbox")
    disk = DiskWrites("cam0", outbox)
    filler = fill(tiny_disk)

    for seq in range(10):  # onset 0, newest 9: the eight between are dropped
        assert not disk.commit_snapshot(*_snapshot("e1", seq))
    assert disk.replaced == 8 and disk.held() == 2
    assert len(_drop_lines(caplog)) == 1, _drop_lines(caplog)  # once, not once per snapshot
    assert "snapshot 1 of event e1 was never written" in _drop_lines(caplog)[0]
    assert "8 snapshot(s) dropped" in disk.fault()
    line = camera_line("cam0", {"state": "degraded", "fault": disk.fault(), "snapshots_replaced": disk.replaced}, 0)
    assert "8 snapshot(s) dropped" in line

    filler.unlink()
    disk._probe_at = 0.0  # the next probe is due now
    disk.recover()
    assert disk.rung == FULL and disk.held() == 0 and disk.fault() == ""
    assert [r["seq"] for r in journal(outbox.root)] == [0, 9]
    assert "8 snapshot(s) had been dropped meanwhile" in caplog.text
    line = camera_line("cam0", {"state": "ok", "snapshots_replaced": disk.replaced}, 0)
    assert line.endswith("; since start: 8 snapshot(s) dropped (the disk refused them; each event's first and "
                         "newest kept)")  # still visible once the disk is back

    filler = fill(tiny_disk)  # a second outage is logged again, and counted from zero in the fault
    for seq in range(3):
        assert not disk.commit_snapshot(*_snapshot("e2", seq))
    assert disk.replaced == 9 and len(_drop_lines(caplog)) == 2
    assert "1 snapshot(s) dropped" in disk.fault()
