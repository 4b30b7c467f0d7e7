"""Spool files the ledger does not know are adopted at start, never left in the spool in silence.

The ledger (``state/ledger.sqlite3``) lost while the uploader was stopped with uploads pending, or a
damaged one moved aside as the uploader's own error advises: the encrypted files stayed in ``spool/``
for good, in no status row, no log line, the health check green (bench/outside/FINDINGS.md #1). Now
each is adopted and uploaded; the count is said in the log and in ``quickcam status``. Until session 20
adoption knew only the header: every item went to ``<day>/adopted/``, out of its event, with an empty
sha256 (which ``quickcam view`` then called DIFFERS) and sender. Now the spool keeps each file's ledger
row on it (an extended attribute, ``uploader/spool_record.py``): adopted, it is stored as if the ledger
had never been lost. A spool copied without its attributes still goes to ``adopted/``, said so, with
the sha256 recomputed by decrypting (mode 1).

Real processes: the uploader and a demo detector, the ``local`` destination down (its folder is a
file) while the footage is received, back for the second start.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from quickcam.common.cryptofile import Context, RecipientPrivateKey, SymmetricKey
from quickcam.uploader.adopt import adopt_orphans
from quickcam.uploader.ledger import Ledger
from quickcam.uploader.spool import Spool
from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


def _lose_ledger(state: Path, how: str) -> None:
    if how == "deleted":
        shutil.rmtree(state)
    else:  # garbage, then the fix its error names: mv state/ledger.sqlite3 state/ledger.sqlite3.damaged
        (state / "ledger.sqlite3").write_bytes(os.urandom(4096))
        for extra in state.glob("ledger.sqlite3-*"):
            extra.unlink()
        os.rename(state / "ledger.sqlite3", state / "ledger.sqlite3.damaged")


def _ledger_rows(state: Path) -> dict[str, tuple[str, str]]:
    db = sqlite3.connect(f"file:{state / 'ledger.sqlite3'}?mode=ro", uri=True)
    try:
        return {row[0]: (row[1], row[2]) for row in db.execute("SELECT message_id, sha256, event FROM items")}
    finally:
        db.close()


def _keeps_user_attributes(folder: Path) -> bool:
    """Whether this file system stores ``user.*`` attributes (tmpfs before Linux 6.6 does not)."""
    probe = folder / "xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.quickcam.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def _copied_without_attributes(spool: Path) -> None:
    """The spool restored from a copy that kept no extended attributes (``cp`` without ``--preserve=xattr``)."""
    for path in spool.glob("*.qsc"):
        shutil.copyfile(path, path.with_suffix(".copy"))
        os.replace(path.with_suffix(".copy"), path)


@pytest.mark.parametrize("how", ["deleted", "moved-aside", "deleted, the spool copied"])
def test_spool_files_of_a_lost_ledger_are_adopted_and_uploaded_and_said(tmp_path: Path, how: str) -> None:
    if not how.endswith("copied") and not _keeps_user_attributes(tmp_path):
        pytest.skip("this file system keeps no user.* attributes, so adoption can only use adopted/ (the copied case)")
    (tmp_path / "storage").write_text("a file where the destination's folder should be\n")  # every upload fails
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__STOP_UPLOAD_S="1", **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", "--seconds", "8")
        assert detector.wait(timeout=60) == 0, pipe.output("detector")[-3000:]
        assert wait_until(lambda: not pipe.outbox_items(), 30), pipe.output("detector")[-3000:]
        assert pipe.stop("uploader") == 0
        waiting = {p.name for p in pipe.spool_files()}
        assert len(waiting) >= 2, waiting
        (tmp_path / "spool" / "0000000000000aaaaaaaaaaaaa.qsc").write_bytes(b"not footage\n" * 10)

        _lose_ledger(tmp_path / "state", how.split(",")[0])
        copied = how.endswith("copied")
        if copied:
            _copied_without_attributes(tmp_path / "spool")
        (tmp_path / "storage").unlink()
        (tmp_path / "storage").mkdir()
        pipe.start_uploader_listening()
        # before: the spool files stayed for good, the storage empty
        assert pipe.wait_drained(60, spool=True), (pipe.missing(), pipe.output("uploader")[-3000:])
        pipe.check_invariant()
        assert (tmp_path / "spool" / "damaged" / "0000000000000aaaaaaaaaaaaa.qsc").exists()
        said = f"adopted {len(waiting)} spool file(s) the ledger did not know"
        assert said in pipe.output("uploader"), pipe.output("uploader")[-3000:]
        assert "1 unreadable one(s) moved to spool/damaged/" in pipe.output("uploader")
        status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                timeout=30)
        assert said in status.stdout, status.stdout
        produced = {row["id"]: row for row in pipe.produced()}
        rows = _ledger_rows(tmp_path / "state")
        for item_id, refs in pipe.stored().items():
            event = "adopted" if copied else produced[item_id]["event"]  # before: "adopted" for all
            assert all(f"/{event}/" in ref for ref in refs), (item_id, refs)
        adopted = {item_id: row for item_id, row in rows.items() if item_id in produced}
        assert adopted and all(sha256 == produced[item_id]["sha256"] for item_id, (sha256, _) in adopted.items()), \
            adopted  # before: '' (quickcam view called each DIFFERS on this machine)
        words = f"{len(adopted)} WITHOUT their event id" if copied else \
            f"{len(waiting)} with their event, as stored before"  # (the uploader's own log file too)
        assert words in status.stdout, status.stdout
    finally:
        pipe.close()


@pytest.mark.parametrize("mode", ["symmetric", "recipient"])
def test_a_spool_file_without_its_row_is_adopted_with_the_sha256_the_key_can_recompute(tmp_path: Path,
                                                                                        mode: str) -> None:
    # Before: sha256 '' whatever the key, and the status note did not say which items lacked their event
    key = SymmetricKey.generate() if mode == "symmetric" else RecipientPrivateKey.generate().public_key()
    spool = Spool(tmp_path / "spool", 1 << 30)
    data = os.urandom(1000)
    spool.store("001a2504322a84882012b3dc79", data, key, Context(
        camera_id="cam0", message_id="001a2504322a84882012b3dc79", sequence=2, start_ms=1_765_000_000_000,
        content_type="video/mp4", plaintext_length=len(data)))  # no record: as an older uploader wrote it
    ledger = Ledger(tmp_path / "state" / "ledger.sqlite3")
    try:
        adoption = adopt_orphans(spool, ledger, ["local"], "webcam_captures", key)
        [(sha256, event, remote)] = ledger.db.execute("SELECT sha256, event, remote_key FROM items").fetchall()
    finally:
        ledger.close()
    assert event == "adopted" and remote.startswith("webcam_captures/cam0/2025-12-06/adopted/segment-0002-"), remote
    assert "1 WITHOUT their event id" in adoption.note(), adoption.note()
    if mode == "symmetric":
        assert sha256 == hashlib.sha256(data).hexdigest()
        assert "without the detector's sha256" not in adoption.note()
    else:  # the uploader holds only the public key
        assert sha256 == "" and "1 without the detector's sha256" in adoption.note(), adoption.note()
