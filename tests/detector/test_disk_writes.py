"""Writes into an outbox on a full disk: held in memory, never half-committed, written once there is room."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline.disk import FULL, SNAPSHOTS_ONLY, DiskWrites
from tests.detector.fakes import journal
from tests.tmpfs import fill, tmpfs


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "size=4m") as root:
        yield root


def _snapshot(seq: int) -> tuple[dict, bytes]:
    payload = bytes([seq]) * 40_000
    header = protocol.make_header("snapshot", camera="cam0", event="e1", width=4, height=4, seq=seq,
                                  content_type="image/jpeg", **protocol.payload_fields(payload))
    return header, payload


def test_on_a_full_disk_the_first_and_newest_snapshots_are_held_and_written_once_there_is_room(
        tiny_disk: Path) -> None:
    outbox = Outbox(tiny_disk / "outbox")
    disk = DiskWrites("cam0", outbox)
    filler = fill(tiny_disk)

    assert not disk.commit_snapshot(*_snapshot(0))  # the onset: kept whatever follows
    assert not disk.commit_snapshot(*_snapshot(1))
    assert not disk.commit_snapshot(*_snapshot(2))  # replaces snapshot 1 in memory
    assert disk.replaced == 1 and disk.held() == 2 and disk.failed == 1  # the later ones were not even tried
    assert journal(outbox.root) == [] and not list(outbox.root.glob("*.hdr")) and not list(outbox.root.glob("*.bin"))
    disk.segment_failed(OSError(errno.ENOSPC, "No space left on device"), 10, "segment 0 of event e1")
    disk.segment_failed(OSError(errno.ENOSPC, "No space left on device"), 10, "segment 1 of event e1")
    assert disk.rung == SNAPSHOTS_ONLY
    assert disk.fault().startswith("DISK FULL, recording snapshots only, 2 snapshot(s)")
    assert disk.fault().endswith("3 write(s) failed")
    disk.recover()  # still full: nothing changes
    assert disk.rung == SNAPSHOTS_ONLY and disk.held() == 2

    filler.unlink()
    disk._probe_at = 0.0  # the next probe is due now
    disk.recover()
    assert disk.rung == FULL and disk.fault() == "" and disk.held() == 0
    rows = journal(outbox.root)
    assert [(r["type"], r["seq"]) for r in rows] == [("snapshot", 0), ("snapshot", 2)]
    assert outbox.load(rows[1]["id"])[1] == bytes([2]) * 40_000
    assert disk.commit_snapshot(*_snapshot(3))  # and the next one goes straight to disk


def test_an_io_error_takes_the_same_path_and_is_called_a_disk_error(tmp_path: Path) -> None:
    from quickcam.detector.pipeline.disk import REDUCED, disk_error

    try:
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as inner:
            raise RuntimeError("muxing failed") from inner
    except RuntimeError as outer:
        assert disk_error(outer) is not None and disk_error(outer).errno == errno.EIO
    assert disk_error(OSError(errno.ENOENT, "gone")) is None  # not the disk's fault: a bug, not a rung down
    disk = DiskWrites("cam0", Outbox(tmp_path))
    disk.segment_failed(OSError(errno.EIO, "Input/output error"), 5, "segment 0 of event e1")
    assert disk.rung == REDUCED and disk.fault() == "DISK ERROR, recording reduced, 1 write(s) failed"
