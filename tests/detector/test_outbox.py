"""The outbox keeps every committed item across crashes and forgets it only on ack."""

from __future__ import annotations

import json
from pathlib import Path

from quickcam.common import protocol
from quickcam.detector.outbox import Outbox


def _snapshot_header(payload: bytes) -> dict:
    return protocol.make_header("snapshot", camera="cam0", event="e1", width=4, height=4,
                                content_type="image/jpeg", **protocol.payload_fields(payload))


def test_committed_items_survive_a_restart_and_come_back_snapshots_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    staged = box.staging_path("seg.mp4")
    staged.write_bytes(b"video")
    seg = protocol.make_header("segment", camera="cam0", event="e1", seq=0, final=True, start_ms=1, end_ms=2,
                               frames=1, fps=15.0, width=4, height=4, container="mp4", codec="h264",
                               content_type="video/mp4", **protocol.payload_fields(b"video"))
    box.commit_file(seg, staged)
    snap = _snapshot_header(b"jpeg")
    box.commit_bytes(snap, b"jpeg")

    reopened = Outbox(tmp_path)
    assert [item.id for item in reopened.pending()] == [snap["id"], seg["id"]]
    header, payload = reopened.load(seg["id"])
    assert header == seg and payload == b"video"
    assert reopened.depth() == (2, 9)


def test_a_crash_mid_write_leaves_nothing_half_sent(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.staging_path("open-segment.mp4").write_bytes(b"partial")
    (tmp_path / "orphan.bin").write_bytes(b"payload without header")
    (tmp_path / "x.hdr.tmp").write_bytes(b"half a header")
    reopened = Outbox(tmp_path)
    assert reopened.pending() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "refused"]


def test_an_unreadable_header_is_set_aside_not_deleted(tmp_path: Path) -> None:
    (tmp_path / "bad.hdr").write_bytes(b"\xc1 not msgpack")
    (tmp_path / "bad.bin").write_bytes(b"footage")
    box = Outbox(tmp_path)
    assert box.pending() == []
    assert (tmp_path / "refused" / "bad.bin").read_bytes() == b"footage"


def test_ack_removes_the_item_and_a_refusal_keeps_it_for_a_person(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    first, second = _snapshot_header(b"a"), _snapshot_header(b"b")
    box.commit_bytes(first, b"a")
    box.commit_bytes(second, b"b")
    box.remove(first["id"])
    box.refuse(second["id"])
    assert box.pending() == []
    assert not (tmp_path / f"{first['id']}.bin").exists()
    assert (tmp_path / "refused" / f"{second['id']}.bin").read_bytes() == b"b"
    journal = [json.loads(line) for line in (tmp_path / "produced.jsonl").read_text().splitlines()]
    assert [row["id"] for row in journal] == [first["id"], second["id"]]


def test_keep_local_copy_moves_acked_footage_instead_of_deleting(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    header = _snapshot_header(b"a")
    box.commit_bytes(header, b"a")
    box.remove(header["id"], keep_copy_in=tmp_path / "sent")
    assert (tmp_path / "sent" / f"{header['id']}.bin").read_bytes() == b"a"


def test_an_outbox_deleted_under_the_detector_is_made_again_and_its_lost_items_are_counted(tmp_path: Path) -> None:
    import shutil

    from quickcam.uploader.cli import detector_line

    box = Outbox(tmp_path / "outbox")
    box.commit_bytes(_snapshot_header(b"jpeg"), b"jpeg")
    shutil.rmtree(tmp_path / "outbox")  # someone's rm -rf, with one item not yet sent
    after = _snapshot_header(b"jpeg2")
    box.commit_bytes(after, b"jpeg2")  # the next write makes the folders again and succeeds
    assert [item.id for item in box.pending()] == [after["id"]]  # the deleted one is no longer tried
    assert box.deleted == 1
    assert all((tmp_path / "outbox" / name).stat().st_mode & 0o777 == 0o700 for name in ("", ".staging", "refused"))
    line = detector_line({"time": 0, "running": False, "outbox": {"items": 1, "bytes": 5, "deleted": 1}}, 0)
    assert "1 deleted from the outbox before they were sent" in line
