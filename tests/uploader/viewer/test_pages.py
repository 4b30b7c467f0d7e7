"""Timeline paging and filters, the status strip from the uploader's files, ledger hashes, mode 2 keys."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from starlette.testclient import TestClient

from quickcam.common.cryptofile import Keyring, RecipientPrivateKey, SymmetricKey
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.viewer.cli import load_keyring
from quickcam.uploader.viewer.security import Gate
from quickcam.uploader.viewer.state import Viewer
from quickcam.uploader.viewer.store import StoreIndex
from quickcam.uploader.viewer.uplink import UplinkStatus
from quickcam.uploader.viewer.web import build_app
from tests.uploader.viewer.conftest import T0
from tests.uploader.viewer.footage_store import StoredEventFixture, add_event, day_of, make_jpeg, new_id, put_file


def _login(viewer: Viewer) -> TestClient:
    client = TestClient(build_app(viewer), follow_redirects=False)
    assert client.get(f"/?token={viewer.gate.token}").status_code == 303
    return client


def test_timeline_pages_newest_first_and_filters_by_day(client: TestClient, viewer: Viewer, tmp_path: Path,
                                                        store_key: SymmetricKey, clips: list[bytes],
                                                        store: dict[str, StoredEventFixture]) -> None:
    older = add_event(tmp_path / "storage", store_key, T0 - 86_400_000, clips[:1], [make_jpeg()])
    viewer.page_size = 1
    first, second = client.get("/?camera=cam0").text, client.get("/?camera=cam0&page=2").text
    assert store["face"].event_id in first and store["tampered"].event_id not in first
    assert "page 1 of 2" in first and "older" in first
    assert store["tampered"].event_id in second
    assert client.get("/?camera=cam0&page=99").status_code == 200  # clamped to the last page
    assert older.day in first  # offered in the day list, newest day shown first
    other_day = client.get(f"/?camera=cam0&day={older.day}").text
    assert older.event_id in other_day and store["face"].event_id not in other_day


def test_status_strip_and_ledger_hashes_from_the_uploader_on_this_machine(
        viewer: Viewer, tmp_path: Path, store: dict[str, StoredEventFixture]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "status.json").write_text(json.dumps({"time": time.time(), "running": True,
                                                   "endpoint": "tcp://127.0.0.1:5557", "spool_bytes": 2048}))
    ledger = Ledger(state / "ledger.sqlite3")
    event = store["face"]
    for n, (name, data) in enumerate(event.plaintexts.items()):
        item_id = event.files[name].name.split("-")[-1].removesuffix(".qsc")
        digest = hashlib.sha256(data).hexdigest() if n else "0" * 64  # the first one differs
        ledger.add(Item(item_id, digest, name.split("-")[0], "cam0", event.event_id, 0, len(data), "x", "y", 0.0),
                   ["local", "dropbox"])
        ledger.mark_uploaded(item_id, "local", "there")
        ledger.mark_failed(item_id, "dropbox", "Dropbox rejected the credentials")
    ledger.close()
    viewer.uplink = UplinkStatus(state)
    client = _login(viewer)
    page = client.get("/").text
    assert "uploader: running on tcp://127.0.0.1:5557" in page
    assert "dropbox: 0 uploaded, 0 waiting, 4 failed; last error: Dropbox rejected the credentials" in page
    assert "local: 4 uploaded" in page
    event_page = client.get(event.url).text
    assert event_page.count("ledger SHA-256 matches") == 3
    assert "differs from the one the detector sent" in event_page


def test_mode_2_files_open_with_the_recipient_private_key(tmp_path: Path, clips: list[bytes]) -> None:
    private = RecipientPrivateKey.generate()
    event = add_event(tmp_path / "storage", private.public_key(), T0, clips[:2], [make_jpeg()])
    backend = LocalBackend(tmp_path / "storage")
    key_file = tmp_path / "recipient.pem"
    key_file.write_bytes(private.to_pem())
    keyring = load_keyring({}, key_file)
    viewer = Viewer(StoreIndex(backend, "webcam_captures"), backend, keyring, Gate(), "local")
    client = _login(viewer)
    page = client.get(event.url).text
    assert "DAMAGED" not in page and "wrong key" not in page
    assert client.get(event.url + "/video.mp4").status_code == 200


def test_a_file_stored_under_the_name_for_an_id_another_origin_held_is_shown(
        tmp_path: Path, clips: list[bytes]) -> None:
    """docs/protocol.md section 7: the second origin's copy is KIND-SEQ-ID.<12 hex>.qsc. An outside detector
    reusing ids across cameras (allowed: ids are unique per detector and camera origin) had that event 404."""
    key = SymmetricKey.generate()
    event = add_event(tmp_path / "storage", key, T0, clips[:1], [make_jpeg()], camera="twin")
    for name, path in event.files.items():
        path.rename(path.with_name(path.name.replace(".qsc", ".b4df90554161.qsc")))
        event.files[name] = path.with_name(path.name.replace(".qsc", ".b4df90554161.qsc"))
    backend = LocalBackend(tmp_path / "storage")
    viewer = Viewer(StoreIndex(backend, "webcam_captures"), backend, Keyring([key]), Gate(), "local")
    client = _login(viewer)
    page = client.get(event.url)
    assert page.status_code == 200 and "name mismatch" not in page.text and "DAMAGED" not in page.text
    assert client.get(event.url + "/snapshot/0.jpg").status_code == 200
    assert client.get(event.url + "/video.mp4").status_code == 200


def test_key_file_takes_hex_or_a_tokens_env_line(tmp_path: Path) -> None:
    key = SymmetricKey.generate()
    for text in (key.to_hex(), f"ENCRYPTION_KEY={key.to_hex()}\n"):
        path = tmp_path / "key.txt"
        path.write_text(text)
        assert load_keyring({}, path).key_ids == [key.key_id]
    old = SymmetricKey.generate()
    both = load_keyring({"ENCRYPTION_KEY": old.to_hex()}, path)
    assert sorted(both.key_ids) == sorted([key.key_id, old.key_id])
    assert isinstance(both, Keyring)


def test_two_adopted_events_segment_0_left_out_are_each_said(
        viewer: Viewer, tmp_path: Path, store_key: SymmetricKey) -> None:
    # An adopted/ folder holds several events' files, each numbered from 0. Left-out segments were keyed by number:
    # event B's segment 0 replaced event A's, so the page said one "segment 0 left out" for two.
    day = day_of(T0)
    ids = []
    for at, junk in ((T0, b"not a video, event A"), (T0 + 60_000, b"not a video, event B")):
        item_id = new_id(at)
        put_file(tmp_path / "storage", "cam0", day, "adopted", "segment", 0, item_id, junk, store_key, at,
                 "video/mp4")
        ids.append(item_id)
    page = _login(viewer).get(f"/event/cam0/{day}/adopted").text
    said = [line for line in page.splitlines() if " left out" in line]
    assert len(said) == 2, said
    assert f"segment 0 left out ({ids[0]}): not a playable video" in said[0], said  # in time order
    assert f"segment 0 left out ({ids[1]}): not a playable video" in said[1], said


def test_files_adopted_without_their_event_are_said_so_in_time_order_and_not_called_damaged(
        viewer: Viewer, tmp_path: Path, store_key: SymmetricKey, clips: list[bytes]) -> None:
    # Adopted after a lost ledger from spool files that kept no ledger row (uploader/adopt.py): two events' files in
    # one ``adopted`` folder, their ledger rows without the detector's sha256 (mode 2: the uploader cannot decrypt).
    # Before: each row "ledger SHA-256 DIFFERS" and DAMAGED, the segments joined by number (0, 0, 1), no word why.
    day, state = day_of(T0), tmp_path / "state"
    ledger = Ledger(state / "ledger.sqlite3")
    ids = []
    for seq, at in ((0, T0), (1, T0 + 1000), (0, T0 + 60_000)):  # event A's 0 and 1, then event B's 0
        item_id = new_id(at)
        put_file(tmp_path / "storage", "cam0", day, "adopted", "segment", seq, item_id, clips[0], store_key, at,
                 "video/mp4")
        ledger.add(Item(item_id, "", "segment", "cam0", "adopted", seq, len(clips[0]), "x", "y", 0.0), ["local"])
        ids.append(item_id)
    ledger.close()
    viewer.uplink = UplinkStatus(state)
    client = _login(viewer)
    assert "event unknown: adopted after the ledger was lost" in client.get(f"/?camera=cam0&day={day}").text
    page = client.get(f"/event/cam0/{day}/adopted").text
    assert "Event unknown: files adopted from the uploader" in page
    assert page.count("ledger SHA-256 not known (adopted from the spool") == 3, page
    assert "DIFFERS" not in page and "DAMAGED" not in page
    assert page.index(ids[0]) < page.index(ids[1]) < page.index(ids[2])  # in time order
