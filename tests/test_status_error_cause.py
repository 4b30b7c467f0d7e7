"""``quickcam status`` shows why uploads fail, not only where: the cause first, the long remote path after it.

The uploader's log line said the where first until session 20 (``upload of … failed (attempt 1): file:///…/x.qsc:
OSError: [Errno 30] Read-only file system``): the cause now comes first there too.

Every back end words its errors ``<where>: <cause>``, and status cut the last error at 80 characters: an
fsspec URL (or a local storage folder) deep in dated folders filled them, so "Read-only file system"
never showed (bench/outside/storage_ro.py --fsspec). The real uploader stores on a read-only tmpfs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from quickcam.common.cause_first import cause_first, cause_then_where
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.test_curve import snapshots_to_uploader
from tests.tmpfs import tmpfs
from tests.waiting import wait_until


def _status(pipe: Pipeline) -> str:
    return subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.parametrize("kind", ["fsspec", "local"])
def test_a_read_only_storage_shows_its_cause_in_the_status_row(tmp_path: Path, kind: str) -> None:
    with tmpfs(tmp_path / "storage", "ro,size=1m") as storage:
        where = {"QUICKCAM_STORAGE__LOCAL__KIND": "fsspec", "QUICKCAM_STORAGE__LOCAL__URL": f"file://{storage}"} \
            if kind == "fsspec" else {"QUICKCAM_STORAGE__LOCAL__PATH": str(storage)}
        pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", **where)
        client = None
        try:
            client = snapshots_to_uploader(pipe, 1)
            assert wait_until(lambda: "Read-only file system" in _status(pipe), 30), \
                (_status(pipe), pipe.output("uploader")[-3000:])
            row = next(line for line in _status(pipe).splitlines() if line.startswith("local "))
            assert len(row) <= 60 + 80, row
            said = re.search(r"failed \(attempt \d+\): (\S+Error: \[Errno 30\] )?Read-only file system \(",
                             pipe.output("uploader"))
            assert said, pipe.output("uploader")[-3000:]  # before: the URL or folder first, the cause after it
        finally:
            if client is not None:
                client.close()
            pipe.close()


def test_the_fsspec_error_in_the_log_line_says_its_cause_before_the_url(tmp_path: Path) -> None:
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "webcam_captures").write_text("a file where the footage folder should be\n")
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", QUICKCAM_STORAGE__LOCAL__KIND="fsspec",
                    QUICKCAM_STORAGE__LOCAL__URL=f"file://{tmp_path / 'storage'}")
    client = None
    try:
        client = snapshots_to_uploader(pipe, 1)
        assert pipe.wait_for("uploader", "FAILED for good", 30), pipe.output("uploader")[-3000:]
        line = next(line for line in pipe.output("uploader").splitlines() if "FAILED for good" in line)
        # before: "FAILED for good: file:///…/snapshot-0000-….qsc: NotADirectoryError: [Errno 20] Not a directory"
        assert re.search(r"FAILED for good: \w+Error: \[Errno \d+\] [^(]+ \(file://", line), line
    finally:
        if client is not None:
            client.close()
        pipe.close()


def test_every_back_ends_error_is_cut_with_its_cause_first() -> None:
    # The words each back end gives (uploader/backends): the where first, then ": ", then the cause.
    url = "s3://bucket/quickcam/webcam_captures/cam0/2026-12-07/001a24fd38209661a6e0a794eb/segment-0001-001a.qsc"
    for error, cause in (
        (f"{url}: PermissionError: Access Denied (HTTP 403)", "PermissionError: Access Denied (HTTP 403)"),
        (f"{url}: OSError: [Errno 28] No space left on device", "OSError: [Errno 28] No space left on device"),
        ("Dropbox upload of /quickcam/webcam_captures/cam0/2026-12-07/001a24fd38209661a6e0a794eb/x.qsc: "
         "Dropbox refused it (path/insufficient_space)", "Dropbox refused it (path/insufficient_space)"),
        ("Cloudinary upload of webcam_captures/cam0/2026-12-07/001a24fd38209661a6e0a794eb/snapshot-0001: "
         "credentials rejected (401): Invalid API key", "credentials rejected (401): Invalid API key"),
        ("local storage /mnt/nas/quickcam/webcam_captures/cam0/2026-12-07/001a24fd38209661a6e0a794eb: "
         "Read-only file system", "Read-only file system"),
    ):
        shown = cause_first(error, 80)
        assert shown.startswith(cause) and len(shown) <= 80, shown
    assert cause_first("short: enough", 80) == "short: enough"


def test_a_cause_holding_colons_is_kept_whole_and_an_error_naming_no_where_is_left_as_it_was() -> None:
    # Split at the first ": ": a cause may hold more of them. An OSError's own words (a back end's bug, not
    # wrapped) or an exception's type name no where: they were put last, the file name or the message first.
    assert cause_then_where("Cloudinary upload of cam0/snapshot-0001: credentials rejected (401): Invalid API key") \
        == "credentials rejected (401): Invalid API key (Cloudinary upload of cam0/snapshot-0001)"
    for error in ("[Errno 13] Permission denied: '/var/spool/x.qsc'", "KeyError: 'location'",
                  "botocore.exceptions.ClientError: An error occurred (AccessDenied)"):
        assert cause_then_where(error) == error
        assert cause_first(error + "x" * 100, 60).startswith(error[:50]), cause_first(error + "x" * 100, 60)
