"""The storage folder's marker: a dropped NAS mount (an empty mount point) is refused, a fresh folder is used.

A NAS or USB disk behind ``[storage.local] path`` that dropped left its mount point, an empty
folder on the camera machine's own disk; footage went there and was reported uploaded
(bench/outside/FINDINGS.md #5). The first upload now writes ``.quickcam-storage`` in the folder and
each upload looks for it (``uploader/backends/mount_guard.py``). The same NAS reached through the
``fsspec`` back end's ``file://`` was not guarded until session 20: it is now, and these tests run on both.

The process test stands a renamed folder in for the unmounted disk (``bench/outside/nas_dropped.py``
does it with a real tmpfs mount, as root).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from quickcam.uploader.backends import RetryableError
from quickcam.uploader.backends.fsspec_backend import FsspecBackend
from quickcam.uploader.backends.local import MARKER, LocalBackend
from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until

KINDS = ["local", "fsspec"]


def _backend(kind: str, root: Path) -> LocalBackend | FsspecBackend:
    return LocalBackend(root) if kind == "local" else FsspecBackend(f"file://{root}")


def _file(tmp_path: Path) -> Path:
    source = tmp_path / "item.qsc"
    source.write_bytes(b"ciphertext")
    return source


@pytest.mark.parametrize("kind", KINDS)
def test_a_fresh_empty_folder_is_marked_at_the_first_upload_and_used(tmp_path: Path, kind: str) -> None:
    backend = _backend(kind, tmp_path / "storage")
    (tmp_path / "storage").mkdir()
    backend.upload(_file(tmp_path), "f/a.qsc")
    assert (tmp_path / "storage" / MARKER).is_file() and (tmp_path / "storage" / "f" / "a.qsc").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_the_folder_of_an_older_install_holding_files_is_marked_and_used(tmp_path: Path, kind: str) -> None:
    (tmp_path / "storage" / "f").mkdir(parents=True)
    (tmp_path / "storage" / "f" / "old.qsc").write_bytes(b"x")
    backend = _backend(kind, tmp_path / "storage")
    backend.mount_guard.stored_before = lambda: True
    backend.upload(_file(tmp_path), "f/a.qsc")
    assert (tmp_path / "storage" / MARKER).is_file()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["emptied", "gone"])
def test_a_folder_emptied_after_use_is_refused_until_its_marker_is_made(tmp_path: Path, how: str, kind: str) -> None:
    root = tmp_path / "storage"
    backend = _backend(kind, root)
    backend.upload(_file(tmp_path), "f/a.qsc")
    os.rename(root, tmp_path / "nas-away")
    if how == "emptied":
        root.mkdir()
    with pytest.raises(RetryableError, match=r"^is the disk mounted\? .* touch "):
        backend.upload(_file(tmp_path), "f/b.qsc")
    assert not (root / "f").exists()  # before: written into the empty mount point, reported uploaded
    # A new uploader (restart) knows it from its ledger
    restarted = _backend(kind, root)
    restarted.mount_guard.stored_before = lambda: True
    with pytest.raises(RetryableError, match="is the disk mounted"):
        restarted.upload(_file(tmp_path), "f/b.qsc")
    root.mkdir(exist_ok=True)
    (root / MARKER).touch()  # the fix the error names, for a folder meant to start empty
    backend.upload(_file(tmp_path), "f/b.qsc")
    assert (root / "f" / "b.qsc").is_file()


def test_remote_and_object_stores_have_no_mount_guard(tmp_path: Path) -> None:
    assert FsspecBackend("memory://footage").mount_guard is None  # no mount point on this machine: nothing to ask
    assert FsspecBackend(str(tmp_path)).mount_guard is not None  # a bare path is fsspec's local file system too


@pytest.mark.parametrize("kind", KINDS)
def test_footage_waits_while_the_nas_is_not_mounted_and_goes_there_once_it_is_back(tmp_path: Path, kind: str) -> None:
    storage, away = tmp_path / "storage", tmp_path / "nas"
    where = {"QUICKCAM_STORAGE__LOCAL__KIND": "fsspec", "QUICKCAM_STORAGE__LOCAL__URL": f"file://{storage}"} \
        if kind == "fsspec" else {}
    pipe = Pipeline(tmp_path, **where, **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()
        pipe.start("detector", "--seconds", "9")
        assert wait_until(lambda: len(pipe.stored()) >= 2, 60), pipe.output("uploader")[-3000:]
        os.rename(storage, away)  # the disk drops: the mount point is an empty folder again
        storage.mkdir()
        assert pipe.wait_for("uploader", "is the disk mounted?", 60), pipe.output("uploader")[-3000:]
        status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                timeout=30)
        assert "is the disk mounted?" in status.stdout, status.stdout
        doctor = subprocess.run([QUICKCAM, "doctor"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                timeout=60)
        assert "is the disk mounted?" in doctor.stdout + doctor.stderr, doctor  # its test upload is refused too
        assert pipe.procs["detector"].wait(timeout=60) == 0
        assert list(storage.rglob("*")) == []  # before: the footage went to the machine's own disk
        storage.rmdir()
        os.rename(away, storage)  # mounted again
        assert pipe.wait_drained(60, spool=True), (pipe.missing(), pipe.output("uploader")[-3000:])
        pipe.check_invariant()
    finally:
        pipe.close()


def test_a_storage_folder_replaced_by_a_symlink_loop_is_retried_with_the_fix_named(tmp_path: Path) -> None:
    # `ln -s storage storage` after a `mv` (bench/outside/dest_replaced.py --case loop): the local back end let
    # Python's `Symlink loop from '<path>'` (a RuntimeError) out, said with no fix (FINDINGS #54). (fsspec's
    # file:// meets the marker's `is the disk mounted?` first.)
    root = tmp_path / "storage"
    root.mkdir()
    backend = LocalBackend(root)
    backend.upload(_file(tmp_path), "cam0/a.qsc")
    root.rename(tmp_path / "storage.aside")
    os.symlink("storage", root)
    with pytest.raises(RetryableError) as failed:
        backend.upload(_file(tmp_path), "cam0/b.qsc")
    assert "link" in str(failed.value) and "loop" in str(failed.value).lower(), failed.value
    root.unlink()
    (tmp_path / "storage.aside").rename(root)
    backend.upload(_file(tmp_path), "cam0/b.qsc")
    assert (root / "cam0/b.qsc").read_bytes() == b"ciphertext"
