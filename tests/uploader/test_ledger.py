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


def test_a_retry_scheduled_before_the_clock_stepped_back_is_due_at_once_not_an_hour_later(tmp_path: Path) -> None:
    # Retry times are on the wall clock (they outlive the process). Before, a clock stepped back an hour held
    # every pending retry for that hour: footage waited in the spool with the back end healthy.
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["local"])
    ledger.add(Item("b", "1" * 64, "segment", "cam0", "ev1", 1, 10, "spool/b.qsc", "f/b.qsc", time.time()), ["local"])
    ledger.mark_retry("a", "local", "503", retry_in=2.0)
    ledger.mark_retry("b", "local", "503", retry_in=2.0)
    assert ledger.due() == [] and 0 < ledger.next_due_in() <= 2.0  # backoff is honoured as ever
    # "a" as written by a clock an hour ahead of the one now (the clock has stepped back by an hour since).
    ledger.db.execute("UPDATE deliveries SET updated_at=updated_at+3600, next_try_at=next_try_at+3600 "
                      "WHERE item_id='a'")
    assert [d.item.id for d in ledger.due()] == ["a"] and ledger.next_due_in() == 0.0
    ledger.mark_retry("a", "local", "503", retry_in=2.0)  # retried and scheduled again, on the clock as it is
    assert ledger.due() == [] and ledger.next_due_in() <= 2.0
    ledger.close()
