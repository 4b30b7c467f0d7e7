"""Who sent what, against a real uploader: de-duplication by origin, one record per detector.

Issue 12 item 2 (ids are unique per detector, not across detectors), item 6
(a frame over the limit is logged, and nacked where it can be answered) and
issue 18 (one connection per detector, warnings only when true).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from quickcam.common import protocol
from quickcam.common.config import load_config
from quickcam.common.cryptofile import Keyring, SymmetricKey, decrypt
from quickcam.detector.doctor import check_uploader_link
from quickcam.uploader.ledger import Item, Ledger
from tests.test_curve import Client, running_uploader
from tests.waiting import wait_until


def _item(camera: str, item_id: str, payload: bytes) -> list[bytes]:
    header = protocol.make_header("snapshot", camera=camera, event="ev-1", width=1, height=1,
                                  content_type="image/jpeg", **protocol.payload_fields(payload))
    header["id"] = item_id  # a native detector counting its ids, as the spec allows
    return protocol.encode(protocol.Message(header, payload))


def _stored(root: Path) -> list[Path]:
    return sorted(p for p in (root / "storage").rglob("*.qsc") if "/logs/" not in str(p))


def test_two_detectors_sending_the_same_id_and_bytes_for_different_cameras_are_both_stored(
    workdir: Path, key: SymmetricKey,
) -> None:
    payload = b"\xff\xd8 the same bytes from two cameras \xff\xd9"
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    with running_uploader(workdir) as up:
        garage, porch = Client(endpoint), Client(endpoint)
        try:
            assert garage.hello(["garage"]).type == "credit" and porch.hello(["porch"]).type == "credit"
            first = garage.request(_item("garage", "cnt-1", payload)).header
            second = porch.request(_item("porch", "cnt-1", payload)).header
            again = porch.request(_item("porch", "cnt-1", payload)).header  # a retransmission
            other = porch.request(_item("porch", "cnt-1", payload + b"!")).header  # id reused: conflict
        finally:
            garage.close()
            porch.close()
        assert first["type"] == "ack" and not first.get("duplicate"), first
        assert second["type"] == "ack" and not second.get("duplicate"), second
        assert again["type"] == "ack" and again["duplicate"] is True
        assert other["type"] == "nack" and other["code"] == "conflict"
        assert wait_until(lambda: len(_stored(workdir)) == 2, 20), _stored(workdir)
        assert "this one is stored as cnt-1." in up.output()
    files = _stored(workdir)
    assert {p.relative_to(workdir / "storage").parts[1] for p in files} == {"garage", "porch"}
    assert len({p.name for p in files}) == 2  # the storage names differ too, not only the folders
    for path in files:
        out = io.BytesIO()
        header = decrypt(io.BytesIO(path.read_bytes()), out, Keyring([key]))
        assert out.getvalue() == payload and header.context.message_id == "cnt-1"


def test_a_ledger_from_before_origins_keeps_its_items_and_their_dedup(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE items (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, kind TEXT NOT NULL, camera TEXT NOT NULL,
            event TEXT NOT NULL, seq INTEGER NOT NULL, size INTEGER NOT NULL, spool_path TEXT NOT NULL,
            remote_key TEXT NOT NULL, received_at REAL NOT NULL, done_at REAL);
        INSERT INTO items VALUES ('old-1', 'aa', 'segment', 'cam0', 'ev', 0, 5, 'spool/old-1.qsc', 'f/x', 1, NULL);
    """)
    db.close()
    ledger = Ledger(path)
    try:
        assert ledger.sha256_of("old-1", "cam0") == "aa"
        assert ledger.key_for("old-1", "cam1").startswith("old-1.")
        ledger.add(Item("n-1", "bb", "snapshot", "cam0", "ev", 0, 5, "s", "r", 2.0, message_id="n-1"), ["local"])
        assert [d.item.id for d in ledger.due()] == ["n-1"]
    finally:
        ledger.close()


def test_repeated_hellos_and_reconnects_are_one_detector_and_a_doctor_check_leaves_no_warning(
    workdir: Path,
) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    hello = protocol.make_header("hello", detector="native", detector_version="1", cameras=["cam0"],
                                 heartbeat_ms=300)
    with running_uploader(workdir) as up:
        first = Client(endpoint)
        for _ in range(4):  # no credit yet in the detector's eyes: it knocks again
            assert first.request(protocol.encode(protocol.Message(hello))).type == "credit"
        first.close()
        config = load_config(None, {"QUICKCAM_LINK__ENDPOINT": endpoint})
        assert check_uploader_link(config, wait_s=10).ok  # a probe: answered, never tracked
        second = Client(endpoint)  # a new connection (new routing id) that skips hello
        try:
            status = protocol.make_header("status", cameras={"cam0": {"state": "ok", "fps": 15.0, "frames": 9,
                                                                      "dropped": 0}}, outbox_depth=0)
            # Heartbeats every 0.3 s on the new connection only, for well over 3 heartbeats of the
            # doctor's hello (2 s by default) and of the first connection's.
            deadline = time.monotonic() + 7
            while time.monotonic() < deadline:
                assert second.request(protocol.encode(protocol.Message(status))).type == "credit"
                time.sleep(0.3)
            detectors = up.status()["detectors"]
        finally:
            second.close()
        log = up.output()
    assert log.count(f"detector native 1 ({protocol.PROTOCOL_VERSION}) connected") == 1, log
    assert "silent" not in log, log
    assert len(detectors) == 1, detectors
    assert detectors[0]["detector"] == "native" and detectors[0]["status"]["cameras"]["cam0"]["frames"] == 9


def test_a_payload_over_the_limit_is_nacked_and_a_monster_frame_is_logged(workdir: Path) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    with running_uploader(workdir, {"QUICKCAM_UPLOADER__MAX_PAYLOAD_MB": "1"}) as up:
        client = Client(endpoint)
        try:
            assert client.hello(["cam0"]).type == "credit"
            over = client.request(_item("cam0", "big-1", b"x" * (1 << 20) + b"x")).header
            assert over["type"] == "nack" and over["code"] == "too_large" and over["ref"] == "big-1"
            client.send(_item("cam0", "huge-1", b"x" * (3 << 20)))  # over max_payload + 1 MiB: ZeroMQ drops it
            assert not client.sock.poll(1500), "a monster frame got an answer"
            up.wait_for("it sent a frame over this uploader's 2097152-byte limit")
        finally:
            client.close()
        assert up.status()["counters"]["nack_too_large"] == 1


def test_with_curve_the_same_id_and_camera_from_two_keys_are_two_items(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    try:
        first = ledger.key_for("cnt-1", "cam0", "KEY-A")
        ledger.add(Item(first, "aa", "segment", "cam0", "ev", 0, 1, "s1", "r1", 1.0, "cnt-1", "KEY-A"), ["local"])
        assert ledger.sha256_of("cnt-1", "cam0", "KEY-A") == "aa"
        assert ledger.sha256_of("cnt-1", "cam0", "KEY-B") is None and ledger.sha256_of("cnt-1", "cam0") is None
        second = ledger.key_for("cnt-1", "cam0", "KEY-B")
        assert first == "cnt-1" and second.startswith("cnt-1.") and len(second) == len("cnt-1.") + 12
        ledger.add(Item(second, "aa", "segment", "cam0", "ev", 0, 1, "s2", "r2", 1.0, "cnt-1", "KEY-B"), ["local"])
        assert sorted(d.item.id for d in ledger.due()) == [first, second]
    finally:
        ledger.close()
