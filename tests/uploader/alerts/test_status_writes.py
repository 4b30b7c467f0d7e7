"""A status file the alerts service cannot write is said: one warning a streak, counted, and in ``quickcam status``.

It was logged at debug level only: an operator saw the alerts' last status, however old, as current.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from quickcam.common.config import Config
from quickcam.common.health import written_stamp
from quickcam.uploader.alerts.service import STATUS_FILE, AlertService
from quickcam.uploader.cli import alert_lines


def _wait(predicate, seconds: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
    return bool(predicate())


def test_failed_status_writes_are_one_warning_a_streak_counted_and_shown_by_quickcam_status(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = Config.model_validate({"uploader": {"state_dir": str(state)}})
    service = AlertService(config, {}, state / "ledger.sqlite3")
    status = state / STATUS_FILE
    status.mkdir()  # a directory in the file's way: every write fails (the rename onto it)
    (status / "someones-file").write_text("kept")
    caplog.set_level(logging.DEBUG, logger="quickcam.uploader.alerts.service")
    service.start()  # the rules thread writes the status every second
    try:
        assert _wait(lambda: service.counters["status_write_failures"] >= 3, 10), service.counters
        (status / "someones-file").unlink()
        status.rmdir()
        assert _wait(lambda: status.is_file(), 5)
    finally:
        service.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and f"alerts: cannot write {status}" in warnings[0], warnings  # once, not every second
    assert any(r.getMessage().startswith(f"alerts: writing {status} again") for r in caplog.records)
    failed = json.loads(status.read_text())["counters"]["status_write_failures"]
    assert failed >= 3
    lines = alert_lines(state, time.time())
    assert f"alerts: {failed} status write(s) failed (each streak logged by the uploader)" in lines, lines


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
