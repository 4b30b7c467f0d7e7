"""The ledger's own file: written back when it is deleted under the running uploader."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from quickcam.common.config import ConfigError
from quickcam.common.protocol_schema import ERROR_TEXT_MAX, error_text
from quickcam.uploader.ledger import Item, Ledger


def test_a_ledger_deleted_under_the_uploader_is_written_back_with_every_pending_upload(tmp_path: Path) -> None:
    # Before, a restart after `rm -rf state/` began with an empty ledger: every spool file not yet uploaded
    # was orphaned, never uploaded and never reported.
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    assert ledger.rescue_if_gone() == ""  # nothing to do while the file is there
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["local"])
    shutil.rmtree(tmp_path / "state")
    ledger.add(Item("b", "1" * 64, "snapshot", "cam0", "ev1", 1, 10, "spool/b.qsc", "f/b.qsc", time.time()), ["local"])
    assert ledger.rescue_if_gone() == "deleted"
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    ledger.close()

    restarted = Ledger(path)  # what the next start of the uploader opens
    assert sorted(d.item.id for d in restarted.due()) == ["a", "b"]  # both still to upload, none forgotten
    assert restarted.sha256_of("b", "cam0") == "1" * 64  # and a re-sent b is acked as a duplicate
    restarted.close()


def test_a_ledger_whose_folder_was_replaced_by_a_file_is_written_back_and_the_file_kept(tmp_path: Path) -> None:
    # `state/` deleted and a file made by its name: before, the check raised NotADirectoryError, which ended the
    # receiver thread and the uploader (a traceback), and the next start failed on the file: every pending
    # upload's row was lost with the folder.
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["local"])
    shutil.rmtree(tmp_path / "state")
    (tmp_path / "state").write_text("someone's")
    said = ledger.rescue_if_gone()
    assert re.fullmatch(r"deleted with its folder, and a file put in the folder's place \(moved to "
                        r"state\.replaced-\d+\)", said), said
    (aside,) = tmp_path.glob("state.replaced-*")
    assert aside.read_text() == "someone's"
    assert ledger.rescue_if_gone() == ""
    ledger.close()
    restarted = Ledger(path)
    assert [d.item.id for d in restarted.due()] == ["a"]  # still to upload, not forgotten
    restarted.close()


@pytest.mark.parametrize("intruder", ["directory", "file"])
def test_a_ledger_replaced_under_the_uploader_is_moved_aside_and_written_back(tmp_path: Path, intruder: str) -> None:
    # Before, only a deleted ledger was noticed: a directory (or an old copy) put in its place hid the same loss
    # (this process went on in the unlinked file, a restart found no ledger), and the next start was a traceback.
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["local"])
    path.unlink()
    if intruder == "directory":
        path.mkdir()
        (path / "note").write_text("someone's")
    else:
        path.write_bytes(b"an old copy")
    said = ledger.rescue_if_gone()
    kind = "a directory" if intruder == "directory" else "another file"
    assert re.fullmatch(rf"replaced by {kind} \(moved to ledger\.sqlite3\.replaced-\d+\)", said), said
    aside = path.parent / said.split("moved to ")[1].rstrip(")")
    if intruder == "directory":  # kept as it was: nothing of someone's is deleted
        assert (aside / "note").read_text() == "someone's"
    else:
        assert aside.read_bytes() == b"an old copy"
    assert ledger.rescue_if_gone() == ""  # the written-back file is the ledger's own now
    ledger.close()
    restarted = Ledger(path)
    assert [d.item.id for d in restarted.due()] == ["a"]  # still to upload, not forgotten
    restarted.close()


@pytest.mark.parametrize(("kind", "said"), [
    ("directory", "the ledger {path} is a directory, not the uploader's database; look inside, then remove it "
                  "(rmdir {path}) and start again: a new ledger is made"),
    ("damaged", "the ledger {path} is damaged (file is not a database); move it aside (mv {path} {path}.damaged) "
                "and start again with a new one"),
])
def test_a_ledger_that_will_not_open_is_one_line_with_the_fix_not_a_traceback(tmp_path: Path, kind: str,
                                                                               said: str) -> None:
    path = tmp_path / "ledger.sqlite3"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"x" * 4096)
    with pytest.raises(ConfigError) as caught:  # the uploader's CLI: one line and exit 2
        Ledger(path)
    assert str(caught.value) == said.format(path=path)


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


def test_an_upload_error_of_100_kb_over_many_lines_is_kept_as_one_bounded_line(tmp_path: Path) -> None:
    # A back end's error may carry a server's whole answer (an HTML page, an XML body). Before, the ledger kept
    # it as it was for every delivery at every retry, and `quickcam status` printed it over as many lines.
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.add(Item("a", "0" * 64, "segment", "cam0", "ev1", 0, 10, "spool/a.qsc", "f/a.qsc", time.time()), ["s3"])
    ledger.add(Item("b", "1" * 64, "segment", "cam0", "ev1", 1, 10, "spool/b.qsc", "f/b.qsc", time.time()), ["s3"])
    page = "HTTP 500 from the server:\n<html>\n" + "<p>internal error</p>\n" * 5000 + "</html>\n"
    ledger.mark_retry("a", "s3", page, retry_in=60.0)
    ledger.mark_failed("b", "s3", page)
    ledger.close()
    reopened = Ledger(tmp_path / "ledger.sqlite3")  # what the next start (and `quickcam status`) reads
    stored = [row[0] for row in reopened.db.execute("SELECT last_error FROM deliveries")]
    assert stored == [error_text(page)] * 2, [len(s) for s in stored]
    assert stored[0].startswith("HTTP 500 from the server: <html> <p>internal error</p> <p>")
    assert len(stored[0].encode()) <= ERROR_TEXT_MAX and stored[0].endswith("\u2026")
    assert reopened.summary()[0]["last_error"] == stored[0]
    reopened.close()
