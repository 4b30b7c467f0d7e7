"""Uploads pending for a destination renamed or removed in the config go to the configured ones.

They failed for good at the uploader's next start ("destination 'local' is no longer configured"),
`quickcam retry` queued them only to fail again, no fix was named, and the footage was never stored
(bench/outside/FINDINGS.md #11). Now each moves to the configured destinations at start, said in one
line and in `quickcam status`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from quickcam.uploader.ledger import Item, Ledger
from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


def _item(tmp_path: Path, item_id: str) -> Item:
    path = tmp_path / f"{item_id}.qsc"
    path.write_bytes(b"x")
    return Item(item_id, "0" * 64, "snapshot", "cam0", "ev", 0, 1, str(path), f"f/{item_id}.qsc", time.time())


def test_a_removed_destination_leaves_items_stored_elsewhere_done_and_the_rest_to_the_configured_one(
        tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.add(_item(tmp_path, "a"), ["cloud", "old"])
    ledger.add(_item(tmp_path, "b"), ["cloud", "old"])
    ledger.add(_item(tmp_path, "c"), ["old"])
    ledger.mark_uploaded("a", "cloud", "there")
    ledger.mark_failed("c", "old", "destination 'old' is no longer configured")  # what the old code did
    moved, done = ledger.move_to(["cloud"])
    assert moved == {"old": 3}
    assert done == [str(tmp_path / "a.qsc")]  # at cloud already: nothing left to do
    pending = sorted((d.item.id, d.destination) for d in ledger.due())
    assert pending == [("b", "cloud"), ("c", "cloud")]
    assert ledger.move_to(["cloud"]) == ({}, [])
    ledger.close()


def test_uploads_pending_for_a_renamed_destination_are_stored_by_the_new_name(tmp_path: Path) -> None:
    (tmp_path / "storage").write_text("a file where the destination's folder should be\n")  # every upload fails
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__STOP_UPLOAD_S="1", **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", "--seconds", "8")
        assert detector.wait(timeout=60) == 0, pipe.output("detector")[-3000:]
        assert wait_until(lambda: not pipe.outbox_items(), 30), pipe.output("detector")[-3000:]
        assert pipe.stop("uploader") == 0
        assert pipe.spool_files()

        # [storage.local] renamed [storage.nas] (the same folder), the storage back
        pipe.env.update({"QUICKCAM_UPLOADER__DESTINATIONS": "nas", "QUICKCAM_STORAGE__NAS__KIND": "local",
                         "QUICKCAM_STORAGE__NAS__PATH": "storage"})
        (tmp_path / "storage").unlink()
        pipe.start_uploader_listening()
        # before: every one failed for good, "destination 'local' is no longer configured"
        assert pipe.wait_drained(60, spool=True), (pipe.missing(), pipe.output("uploader")[-3000:])
        pipe.check_invariant()
        assert "for destination(s) no longer configured (local) moved to nas" in pipe.output("uploader")
        def status() -> str:
            return subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                  timeout=30).stdout

        # (the restarted uploader's first status write comes a second after it listens: the drain may be quicker)
        assert wait_until(lambda: "moved to nas" in status(), 10), status()
        assert "no longer configured'" not in status()
    finally:
        pipe.close()
