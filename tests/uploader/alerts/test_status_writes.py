"""A status file the alerts service cannot write is said: one warning a streak, counted, and in ``quickcam status``.

It was logged at debug level only: an operator saw the alerts' last status, however old, as current.
The file is written by ``common/durable.py`` as every other status file: a directory in its way is
moved aside (it refused every write), and the file stays 0600 whatever the umask.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest

from quickcam.common.config import Config
from quickcam.common.health import written_stamp
from quickcam.uploader.alerts.service import STATUS_FILE, AlertService
from quickcam.uploader.cli import alert_lines
from tests.own_logs import own_records
from tests.waiting import wait_until


def _service(tmp_path: Path) -> AlertService:
    """The service with its state folder (its status file, pictures) apart from the ledger's (alerts.sqlite3)."""
    state, db = tmp_path / "state", tmp_path / "db"
    state.mkdir()
    db.mkdir()
    config = Config.model_validate({"uploader": {"state_dir": str(state)}})
    return AlertService(config, {}, db / "ledger.sqlite3")


def test_failed_status_writes_are_one_warning_a_streak_counted_and_shown_by_quickcam_status(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = _service(tmp_path)
    state = tmp_path / "state"
    status = state / STATUS_FILE
    caplog.set_level(logging.DEBUG, logger="quickcam.uploader.alerts.service")
    service.start()  # the rules thread writes the status every second
    try:
        assert wait_until(status.is_file, 10)
        state.rename(tmp_path / "state.away")  # a file where the state folder goes: every write fails
        state.write_text("not a folder")
        assert wait_until(lambda: service.counters["status_write_failures"] >= 3, 10), service.counters
        state.unlink()
        (tmp_path / "state.away").rename(state)
        assert wait_until(lambda: any(r.getMessage().startswith(f"alerts: writing {status} again")
                                 for r in caplog.records), 5)
    finally:
        service.stop()
    # Only this service's: pytest hooks every logger, Apprise's too, and a thread another test's service left
    # sending (stop() waits a bounded time) may still log here.
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and r.name == "quickcam.uploader.alerts.service"
                and not r.threadName.startswith("alert-")]  # this service has no target: no delivery thread
    assert warnings == [f"alerts: cannot write {status} (Not a directory); quickcam status shows the alerts as of "
                        "the last write until it can"], warnings  # once, not every second
    failed = json.loads(status.read_text())["counters"]["status_write_failures"]
    assert failed >= 3
    lines = alert_lines(state, time.time())
    assert f"alerts: {failed} status write(s) failed (each streak logged by the uploader)" in lines, lines


def test_a_directory_in_the_alerts_status_files_way_is_moved_aside_kept_and_the_status_written_private(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It refused every write, for good (the service wrote the file itself, not through common/durable.py):
    ``quickcam status`` said ``STATUS NOT WRITTEN`` while the alerts ran."""
    service = _service(tmp_path)
    state = tmp_path / "state"
    status = state / STATUS_FILE
    status.mkdir()
    (status / "someones-file").write_text("kept")
    caplog.set_level(logging.DEBUG, logger="quickcam.uploader.alerts.service")
    umask = os.umask(0o022)  # a shell's: the file is private all the same
    try:
        service.start()
        assert wait_until(status.is_file, 10), list(state.iterdir())
    finally:
        service.stop()
        os.umask(umask)
    assert stat.S_IMODE(status.stat().st_mode) == 0o600
    assert json.loads(status.read_text())["running"] is False  # the last write, at stop
    [moved] = state.glob(f"{STATUS_FILE}.replaced-*")
    assert (moved / "someones-file").read_text() == "kept"
    said = [r.getMessage() for r in own_records(caplog) if r.levelno >= logging.WARNING]
    assert said == [f"alerts: a directory stood where the status file {status} belongs; moved it to {moved.name} "
                    "(its files kept) and wrote the status again"], said
    assert "status_write_failures" not in json.loads(status.read_text())["counters"]  # moved in the same write
    assert alert_lines(state, time.time()) == [], alert_lines(state, time.time())


def test_quickcam_status_says_when_the_alerts_status_is_no_longer_written(tmp_path: Path) -> None:
    stamp = written_stamp()
    (tmp_path / STATUS_FILE).write_text(json.dumps({
        **stamp, "time": stamp["time"] - 60, "monotonic": stamp["monotonic"] - 60, "interval_s": 1.0,
        "running": True, "problems": [], "mqtt": None, "counters": {}}))
    lines = alert_lines(tmp_path, time.time())
    assert lines == ["alerts: STATUS NOT WRITTEN for 60 s (the uploader is not running, or cannot write "
                     f"{tmp_path / STATUS_FILE}: see its log)"], lines
    fresh = {**written_stamp(), "interval_s": 1.0, "running": True, "problems": [], "mqtt": None, "counters": {}}
    (tmp_path / STATUS_FILE).write_text(json.dumps(fresh))
    assert alert_lines(tmp_path, time.time()) == []
