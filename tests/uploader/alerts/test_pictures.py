"""An alert's picture survives an uploader restart on disk (0600), and is deleted once delivered."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from quickcam.uploader.alerts.pictures import PICTURES_DIR
from quickcam.uploader.alerts.queue import AlertQueue
from tests.fakes.notify_server import NotifyServer
from tests.uploader.alerts.test_delivery import jpeg, make_service, snapshot_header


def test_a_picture_queued_before_a_restart_is_attached_after_it_then_deleted(tmp_path: Path) -> None:
    receiver = NotifyServer()  # not started yet: the first delivery fails (its port is held meanwhile)
    port = receiver.port
    targets = [{"name": "hook", "url_env": "HOOK_URL", "attach_snapshot": True}]
    secrets = {"HOOK_URL": f"json://127.0.0.1:{port}/hook"}
    picture, folder = jpeg(), tmp_path / "state" / PICTURES_DIR
    first = make_service(tmp_path, targets, secrets, retry_base_s=30.0, retry_max_s=30.0)
    first.start()
    try:
        first.observe("stored", snapshot_header("door", "ev1", faces=[[100, 60, 60, 70]]), picture)
        db = AlertQueue(tmp_path / "state" / "alerts.sqlite3")
        deadline = time.monotonic() + 30  # polled: a loaded machine waits longer
        while time.monotonic() < deadline and not (db.summary() and db.summary()[0]["last_error"]):
            time.sleep(0.1)
        db.close()
    finally:
        first.stop()
    [kept] = folder.iterdir()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    receiver.start()
    second = make_service(tmp_path, targets, secrets, retry_base_s=30.0, retry_max_s=30.0)
    db = AlertQueue(tmp_path / "state" / "alerts.sqlite3")
    db.db.execute("UPDATE alerts SET next_try_at=0")  # due now, rather than after the first backoff
    db.close()
    second.start()
    try:
        hook = receiver.wait_for(lambda n: n.title == "Motion on door", timeout=30)
        deadline = time.monotonic() + 30  # polled: a loaded machine waits longer
        while time.monotonic() < deadline and any(folder.iterdir()):
            time.sleep(0.05)
    finally:
        second.stop()
        receiver.stop()
    assert hook.attachments["door-snapshot.jpg"] == picture and "door-face.jpg" in hook.attachments
    assert not any(folder.iterdir())  # delivered: nothing plaintext stays


def test_pictures_for_targets_that_do_not_attach_them_never_touch_the_disk(tmp_path: Path) -> None:
    receiver = NotifyServer().start()
    service = make_service(tmp_path, [{"name": "hook", "url_env": "HOOK_URL"}], {"HOOK_URL": receiver.json_url()})
    service.start()
    try:
        service.observe("stored", snapshot_header("door", "ev1"), jpeg())
        receiver.wait_for(lambda n: n.title == "Motion on door", timeout=30)
    finally:
        service.stop()
        receiver.stop()
    assert not (tmp_path / "state" / PICTURES_DIR).exists()


def test_kept_pictures_stay_under_the_cap_by_dropping_the_oldest(tmp_path: Path) -> None:
    from quickcam.uploader.alerts.model import Alert
    from quickcam.uploader.alerts.pictures import PictureStore

    store = PictureStore(tmp_path, cap_bytes=5000)
    for n in range(3):
        store.put(Alert("motion", f"motion:door:ev{n}", "door", "t", "b", 0.0, snapshot=bytes([n]) * 2000))
        time.sleep(0.01)
    assert store.get("motion:door:ev0") is None and store.evicted == 1
    assert store.get("motion:door:ev2") == (bytes([2]) * 2000, ())
    store.discard("motion:door:ev2")
    store.keep_only(set())
    assert not any((tmp_path / PICTURES_DIR).iterdir())
