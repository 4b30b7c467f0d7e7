"""The uploader's own disk (spool and ledger) fills up while footage waits (docs/reliability.md, 17).

The real ``quickcam uploader`` keeps its spool and ledger on a small tmpfs of the
test's (root only, else a skip). Storage refuses (a file stands where its folder
should be) while three snapshots arrive, then the test fills the tmpfs to ENOSPC:
the next ledger update fails with SQLite's ``database or disk is full``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.test_curve import Client, snapshots_to_uploader
from tests.tmpfs import fill, tmpfs
from tests.waiting import wait_until

ITEMS = 3


def _status(pipe: Pipeline) -> dict:
    out = subprocess.run([QUICKCAM, "status", "--json"], cwd=pipe.root, env=pipe.env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _status_text(pipe: Pipeline) -> str:
    return subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30).stdout


def _fault(pipe: Pipeline) -> str:
    """The uploader's status file as the health check reads it (cheaper to poll than ``quickcam status``)."""
    try:
        return str(json.loads((pipe.root / "var" / "state" / "status.json").read_text()).get("fault", ""))
    except (OSError, ValueError):
        return ""


def _stored(pipe: Pipeline) -> int:
    return len([p for p in (pipe.root / "storage").rglob("*.qsc") if "logs" not in p.parts])


@pytest.mark.realtime
def test_a_full_ledger_disk_pauses_uploads_with_a_fault_and_they_resume_when_space_is_back(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "var", "size=80m,mode=0700") as var:  # the spool accepts while 64 MB stay free
        (tmp_path / "storage").write_text("a file where the storage folder should be")  # storage refuses
        pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local",
                        QUICKCAM_STORAGE__LOCAL__PATH="storage/x", QUICKCAM_UPLOADER__STATE_DIR=str(var / "state"),
                        QUICKCAM_UPLOADER__SPOOL_DIR=str(var / "spool"))
        client = None
        try:
            client = snapshots_to_uploader(pipe, ITEMS)
            filler = fill(var)
            # Before, the shipper thread ended at the first failed ledger update: nothing was ever uploaded
            # again until a restart, and nothing said so.
            assert wait_until(lambda: "cannot update the ledger" in _fault(pipe), 20), pipe.output("uploader")[-3000:]
            assert "FAULT: uploads stopped: cannot update the ledger" in _status_text(pipe)
            check = subprocess.run([QUICKCAM, "status", "--healthcheck"], cwd=tmp_path, env=pipe.env,
                                   capture_output=True, text=True, timeout=30)
            assert check.returncode == 1 and "uploads stopped: cannot update the ledger" in check.stderr, check
            assert "free space on its disk" in check.stderr
            (tmp_path / "storage").unlink()  # storage is back, and so is the space
            os.unlink(filler)
            assert wait_until(lambda: (tmp_path / "storage").is_dir() and _stored(pipe) >= ITEMS, 20), \
                pipe.output("uploader")[-3000:]
            assert wait_until(lambda: not _fault(pipe), 10)  # cleared by itself, no restart
            assert _stored(pipe) == ITEMS
            assert wait_until(lambda: sum(r["uploaded"] for r in _status(pipe)["destinations"]) >= ITEMS, 10)
            assert pipe.procs["uploader"].poll() is None  # still running
        finally:
            if client is not None:
                client.close()
            pipe.close()
    log = pipe.output("uploader")
    assert "Traceback" not in log and log.count("shipper: cannot update the ledger") == 1, log[-3000:]
    assert "shipper: the ledger takes updates again" in log


def test_a_spool_disk_out_of_inodes_with_bytes_free_is_said_with_df_i(tmp_path: Path) -> None:
    """Before, every item was nacked `cannot store: No space left on device`, the fix named `check that this user
    may write both, and their disk`, while `df -h` showed the disk with room (bench/outside/spool_inodes.py)."""
    with tmpfs(tmp_path / "var", "size=80m,nr_inodes=64,mode=0700") as var:
        pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", QUICKCAM_STORAGE__LOCAL__PATH="storage",
                        QUICKCAM_UPLOADER__STATE_DIR=str(var / "state"),
                        QUICKCAM_UPLOADER__SPOOL_DIR=str(var / "spool"))
        client = None
        try:
            pipe.start_uploader_listening()
            (var / "filler").mkdir()
            for n in range(64):
                try:
                    (var / "filler" / str(n)).touch()
                except OSError:
                    break
            for made in range(n - 3, n):  # a few left: the status file's writes (a new file each) go on
                (var / "filler" / str(made)).unlink()
            client = Client(pipe.env["QUICKCAM_LINK__ENDPOINT"])
            credit = client.hello(["cam0"]).header
            assert credit["messages"] == 0 and "can make no more files" in credit["reason"], credit
            assert wait_until(lambda: "(df -i)" in _status_text(pipe), 20), _status_text(pipe)
        finally:
            if client is not None:
                client.close()
            pipe.close()
