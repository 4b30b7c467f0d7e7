"""The alerts store read by ``quickcam status``: read only, and never waited on for long.

Status opened it as the uploader does (SQLite's 30 s wait for a lock, and a write of its schema): a program
holding a lock that keeps readers out (``PRAGMA locking_mode = EXCLUSIVE``: a backup tool, ``sqlite3`` left
open) held status for 30 s. Now it waits about a second, and says who holds the lock where the alert targets'
rows would be; the rest of status is shown as usual.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from quickcam.uploader.alerts.queue import AlertQueue, summary_of
from quickcam.uploader.ledger_holder import is_busy, locked_out
from quickcam.uploader.ledger_reader import READ_WAIT_S, read_only


def read_alert_rows(path: Path, wait_s: float = READ_WAIT_S) -> list[dict[str, Any]] | str:
    """``AlertQueue.summary`` of the store at ``path``; after ``wait_s`` on such a lock, why it is not shown."""
    try:
        return read_only(path, summary_of, wait_s)
    except sqlite3.Error as exc:
        if is_busy(exc):
            return f"{locked_out(path, 'alerts store')}; end its transaction or stop that program"
        if "no such table" not in str(exc):
            raise
    alerts = AlertQueue(path)  # one made before its table was: the uploader's open makes it, as before
    try:
        return alerts.summary()
    finally:
        alerts.close()
