"""The storage rules are read when they fall due: at a small ``backlog_after_s`` the ``backlog`` alert came up to
the fixed 5 s step of the ledger reads late (an outside subscriber saw it 10.5 s after the item at 6 s)."""

from __future__ import annotations

import time
from pathlib import Path

from quickcam.common.config import Config
from quickcam.uploader.alerts.service import STORAGE_EVERY_S, AlertService
from quickcam.uploader.alerts.storage_watch import StorageWatch
from quickcam.uploader.ledger import Item, Ledger
from tests.waiting import wait_until

T0 = 1_796_000_000.0


def _row(pending: int, oldest: float, error: str = "") -> dict[str, object]:
    return {"destination": "s3", "pending": pending, "failed": 0, "oldest_pending_s": oldest, "last_error": error}


def test_the_watch_says_when_its_next_alert_can_fall_due() -> None:
    watch = StorageWatch(failing_after_s=60, backlog_after_s=6)
    watch.feed(T0, [_row(0, 0)])
    assert watch.due_in_s == 6  # an item arriving now waits 6 s at the least
    watch.feed(T0 + 1, [_row(2, 4.5)])
    assert watch.due_in_s == 1.5
    alerts, _ = watch.feed(T0 + 2.5, [_row(2, 6.0, "503")])
    assert [a.name for a in alerts] == ["backlog"] and watch.due_in_s == 60  # said; the failure due 60 s on
    watch.feed(T0 + 30, [_row(2, 33.5, "503")])
    assert watch.due_in_s == 32.5


def test_the_backlog_alert_comes_when_it_falls_due_not_at_the_next_fixed_read(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    after_s = 1.5
    config = Config.model_validate({"uploader": {"state_dir": str(tmp_path / "state")},
                                    "alerts": {"backlog_after_s": after_s}})
    service = AlertService(config, {}, tmp_path / "ledger.sqlite3")
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    service.start()
    try:
        assert wait_until(lambda: (tmp_path / "state" / "alerts-status.json").is_file(), 10)  # the first read done
        received = time.time()
        ledger.add(Item("i1", "0" * 64, "segment", "cam", "e1", 0, 10, "spool/i1", "cam/i1", received), ["s3"])
        assert wait_until(lambda: service.counters["raised_backlog"], after_s + STORAGE_EVERY_S + 5)
        late_s = time.time() - received - after_s
    finally:
        service.stop()
        ledger.close()
    assert late_s < 1.5, late_s  # a tick or two, where the fixed step left it up to 5 s late
