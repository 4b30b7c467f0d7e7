"""The ledger's own file: written back when it is deleted under the running uploader."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from quickcam.uploader.ledger import Item, Ledger


def test_a_ledger_deleted_under_the_uploader_is_written_back_with_every_pending_upload(tmp_path: Path) -> None:
    # Before, a restart after `rm -rf state/` began with an empty ledger: every spool file not yet uploaded
    # was orphaned, never uploaded and never reported.
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    assert ledger.rescue_if_deleted() is False  # nothing to do while the file is there
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["local"])
    shutil.rmtree(tmp_path / "state")
    ledger.add(Item("b", "1" * 64, "snapshot", "cam0", "ev1", 1, 10, "spool/b.qsc", "f/b.qsc", time.time()), ["local"])
    assert ledger.rescue_if_deleted() is True
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    ledger.close()

    restarted = Ledger(path)  # what the next start of the uploader opens
    assert sorted(d.item.id for d in restarted.due()) == ["a", "b"]  # both still to upload, none forgotten
    assert restarted.sha256_of("b", "cam0") == "1" * 64  # and a re-sent b is acked as a duplicate
    restarted.close()
