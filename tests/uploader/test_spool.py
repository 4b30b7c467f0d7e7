"""The spool's room rules and its check of a file before upload."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from quickcam.common.cryptofile import Context, SymmetricKey
from quickcam.uploader.spool import Spool
from tests.own_logs import own_records

KEY = SymmetricKey.generate()


def _store(spool: Spool, item_id: str, size: int) -> Path:
    context = Context(camera_id="cam0", message_id=item_id, sequence=0, start_ms=1, content_type="video/mp4",
                      plaintext_length=size)
    return spool.store(item_id, os.urandom(size), KEY, context)


def test_an_empty_spool_takes_an_item_larger_than_its_cap_so_nothing_waits_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    assert spool.room_problem(5000) == ""
    _store(spool, "big", 5000)
    assert "has no room for another 1 KiB item" in spool.room_problem(10)


def test_credit_pauses_once_the_largest_item_seen_would_not_fit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100_000)
    _store(spool, "a", 30_000)
    assert spool.room_problem() == ""  # 30 kB used, 30 kB more fits
    _store(spool, "b", 30_000)
    _store(spool, "c", 10_000)
    problem = spool.room_problem()  # 70 kB used: another 30 kB item would not fit
    # said as what it is: 70 kB of a 100 kB cap is not "full" (an outside client read it so)
    assert "has no room for another 29 KiB item (69 KiB of its 0.0953674 MB cap used)" in problem
    assert spool.room_problem(20_000) == ""  # a small item still does


def test_a_whole_spool_file_passes_and_damaged_ones_are_named_and_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 30)
    whole = _store(spool, "whole", 70_000)
    assert spool.damage(whole, "whole", 70_000) == ""
    assert "holds item 'whole', not 'other'" in spool.damage(whole, "other", 70_000)
    assert "header says 70000 bytes of footage, the ledger 5" in spool.damage(whole, "whole", 5)

    cut = _store(spool, "cut", 70_000)
    with open(cut, "r+b") as handle:
        handle.truncate(cut.stat().st_size - 100)
    assert "cut short or padded" in spool.damage(cut, "cut", 70_000)

    garbage = _store(spool, "garbage", 100)
    garbage.write_bytes(os.urandom(500))
    assert "not an encrypted quickcam file" in spool.damage(garbage, "garbage", 100)

    moved = spool.set_aside(garbage)
    assert moved == tmp_path / "damaged" / "garbage.qsc" and moved.exists() and not garbage.exists()
    assert "set aside earlier as damaged" in spool.damage(garbage, "garbage", 100)
    assert spool.used_bytes() == whole.stat().st_size + cut.stat().st_size  # set-aside files are not waiting


@pytest.mark.parametrize("then", ["nothing", "a file"])
def test_a_spool_folder_deleted_under_the_running_uploader_is_made_again_and_stores_the_next_item(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, then: str,
) -> None:
    # Before the fix every later item was refused with "internal error" (a traceback each) until a restart,
    # while the footage piled up in the detector's outbox. The process-level run is in docs/reliability.md.
    # A file made where the folder was did the same, after the first fix too (mkdir: File exists).
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30)
    _store(spool, "before", 1000)
    shutil.rmtree(tmp_path / "spool")
    if then == "a file":
        (tmp_path / "spool").write_text("someone's")
    assert spool.room_problem(1000) == ""  # the credit check no longer fails on the missing folder
    if then == "a file":  # kept, beside
        (aside,) = tmp_path.glob("spool.replaced-*")
        assert aside.read_text() == "someone's"
        assert f"made it again and moved the file put in its place to {aside.name} (" in caplog.text
    stored = _store(spool, "after", 1000)
    assert stored.exists() and stored.stat().st_size > 1000
    assert (tmp_path / "spool").stat().st_mode & 0o777 == 0o700
    errors = [r.getMessage() for r in own_records(caplog) if r.levelname == "ERROR"]
    assert len(errors) == 1 and "was deleted while the uploader ran; made it again" in errors[0], errors
    assert spool.damage(tmp_path / "spool" / "before.qsc", "before", 1000) == "spool file is missing"


def test_a_spool_whose_folder_cannot_be_made_again_is_a_room_problem_not_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The folder the uploader runs in deleted (its spool relative to it): FileNotFoundError out of the credit check,
    # a nack `internal` with a traceback each time (bench/outside/FINDINGS.md #55, cwd_gone.py).
    install = tmp_path / "install"
    install.mkdir()
    monkeypatch.chdir(install)
    spool = Spool(Path("spool"), max_bytes=1 << 30)
    shutil.rmtree(install)
    problem = spool.room_problem()
    assert problem.startswith("cannot make the spool folder spool again (No such file or directory): was the "
                              "folder it is in deleted?"), problem
