"""The alert queue when the wall clock steps: retries come when they should, not an hour late."""

from __future__ import annotations

import time
from pathlib import Path

from quickcam.uploader.alerts.model import Alert
from quickcam.uploader.alerts.queue import AlertQueue


def test_an_alert_retry_scheduled_before_the_clock_stepped_back_is_due_at_once(tmp_path: Path) -> None:
    # Before, a clock stepped back an hour held every alert waiting for a retry for that hour.
    queue = AlertQueue(tmp_path / "alerts.sqlite3", max_retry_s=60.0)
    alert = Alert("detector_silent", "detector_silent:cam0:1", "cam0", "Detector silent", "…", time.time())
    assert queue.add(alert, ["phone"]) == ["phone"]
    queue.mark_retry(alert.key, "phone", "HTTP 503", retry_in=30.0)
    assert queue.due("phone") == [] and 0 < queue.next_due_in("phone") <= 30.0  # backoff honoured as ever
    # As scheduled by a clock an hour ahead of the one now: further ahead than any retry is ever scheduled.
    queue.db.execute("UPDATE alerts SET next_try_at=next_try_at+3600")
    assert [row.key for row in queue.due("phone")] == [alert.key] and queue.next_due_in("phone") == 0.0
    queue.close()
