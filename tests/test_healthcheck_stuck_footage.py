"""The health check fails while footage is held back from storage until a person acts (bench/outside #16).

It stayed green while the uploader refused all footage for lack of spool room (the footage waits on
the camera machine, for any length of time), and while uploads failed for good waited in the spool
for ``quickcam retry`` after the destination worked again; ``quickcam status`` said both. Now the
first fails it after ``uploader.refusing_after_s``, the second while it lasts (docs/deploy.md).
The real uploader, and a detector's side of the link speaking to it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.test_curve import snapshots_to_uploader
from tests.waiting import wait_until


def _health(pipe: Pipeline) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "status", "--healthcheck", "uploader"], cwd=pipe.root, env=pipe.env,
                          capture_output=True, text=True, timeout=30)


def _stored(pipe: Pipeline) -> int:
    return len([p for p in (pipe.root / "storage").rglob("snapshot-*.qsc")])


def test_footage_refused_for_lack_of_spool_room_fails_the_health_check_after_its_bound(tmp_path: Path) -> None:
    (tmp_path / "storage").mkdir()
    blocker = tmp_path / "storage" / "webcam_captures"
    blocker.write_text("not a folder")  # storage refuses (retried), so the spool only fills
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", QUICKCAM_UPLOADER__SPOOL_MAX_MB="0.0003",
                    QUICKCAM_UPLOADER__REFUSING_AFTER_S="2")
    client = None
    try:
        client = snapshots_to_uploader(pipe, 1)  # the spool over its 300-byte cap from now on
        assert client.hello(["cam0"]).header["messages"] == 0  # refused: the pause starts
        assert wait_until(lambda: "REFUSING footage" in _health(pipe).stderr, 30), _health(pipe)
        check = _health(pipe)
        assert check.returncode == 1 and "the spool" in check.stderr and "free space there" in check.stderr, check
        blocker.unlink()  # storage back: the spool empties, and the next credit is granted
        assert wait_until(lambda: _stored(pipe) == 1, 30), pipe.output("uploader")[-3000:]
        assert wait_until(lambda: client.hello(["cam0"]).header["messages"] > 0, 30)
        assert wait_until(lambda: _health(pipe).returncode == 0, 30), _health(pipe)
    finally:
        if client is not None:
            client.close()
        pipe.close()


def test_uploads_failed_for_good_fail_the_health_check_until_quickcam_retry_sends_them(tmp_path: Path) -> None:
    (tmp_path / "storage").mkdir()
    blocker = tmp_path / "storage" / "webcam_captures"
    blocker.write_text("not a folder")  # through fsspec a permanent error (NotADirectoryError): failed for good
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", QUICKCAM_STORAGE__LOCAL__KIND="fsspec",
                    QUICKCAM_STORAGE__LOCAL__URL=f"file://{tmp_path / 'storage'}")
    client = None
    try:
        client = snapshots_to_uploader(pipe, 2)
        assert wait_until(lambda: "2 upload(s) to local FAILED for good" in _health(pipe).stderr, 30), \
            (_health(pipe), pipe.output("uploader")[-3000:])
        assert "then run quickcam retry" in _health(pipe).stderr
        blocker.unlink()  # the destination works again: the failed uploads still wait for a person
        assert _health(pipe).returncode == 1
        retry = subprocess.run([QUICKCAM, "retry"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                               timeout=30)
        assert retry.returncode == 0, retry.stderr
        assert wait_until(lambda: _stored(pipe) == 2, 30), pipe.output("uploader")[-3000:]
        assert wait_until(lambda: _health(pipe).returncode == 0, 30), _health(pipe)
    finally:
        if client is not None:
            client.close()
        pipe.close()
