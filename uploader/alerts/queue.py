"""The durable alert queue: an SQLite file beside the ledger (``state/alerts.sqlite3``).

A file of its own, not a table in the ledger, so that writing an alert never
holds the lock the receiver needs to record footage.

An alert is queued once per target, keyed by (alert key, target), so the same
alert raised twice -- or again after a restart -- is delivered once. Each row
is retried with doubling backoff until it is delivered or ``give_up_after_s``
has passed; then it stays as ``failed`` and ``quickcam status`` shows it.
Snapshots are NOT stored here: ``pictures.py`` keeps them, and only those a
target will attach.
"""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quickcam.common.protocol_schema import error_text
from quickcam.uploader.alerts.model import Alert

ALERTS_DB = "alerts.sqlite3"  # in uploader.state_dir, beside ledger.sqlite3
MAX_RETRY_S = 3600.0  # a bound on any retry delay (alerts.retry_max_s is less), for telling a clock stepped back

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    key         TEXT NOT NULL,            -- de-duplication key (docs/alerts.md)
    target      TEXT NOT NULL,            -- [[alerts.targets]] name
    name        TEXT NOT NULL,            -- motion, detector_silent, ...
    camera      TEXT NOT NULL,
    urgent      INTEGER NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    state       TEXT NOT NULL,            -- pending, sent, failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    sent_at     REAL,
    PRIMARY KEY (key, target)
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts(target, state, next_try_at);
"""


@dataclass(frozen=True)
class QueuedAlert:
    key: str
    target: str
    name: str
    camera: str
    urgent: bool
    title: str
    body: str
    created_at: float
    attempts: int


class AlertQueue:
    """One per thread, like ``Ledger``: each opens its own connection to the same file."""

    def __init__(self, path: Path, max_retry_s: float = MAX_RETRY_S) -> None:
        """``max_retry_s``: no retry is ever scheduled further ahead; one that is, was scheduled before the
        wall clock stepped back, and is due now (else a clock stepped back an hour would hold it that hour)."""
        self.max_retry_s = max_retry_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # an alert lost to a power cut is re-raised by the rules
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, alert: Alert, targets: list[str]) -> list[str]:
        """Queue ``alert`` for each target; returns the targets it was new for."""
        added = []
        with self.db:
            for target in targets:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO alerts (key, target, name, camera, urgent, title, body, created_at, "
                    "state) VALUES (?,?,?,?,?,?,?,?,'pending')",
                    (alert.key, target, alert.name, alert.camera, int(alert.urgent), alert.title, alert.body,
                     alert.time),
                )
                if cur.rowcount:
                    added.append(target)
        return added

    def due(self, target: str, limit: int = 20) -> list[QueuedAlert]:
        """Pending alerts for ``target`` whose time has come: urgent first, then oldest."""
        rows = self.db.execute(
            "SELECT key, target, name, camera, urgent, title, body, created_at, attempts FROM alerts "
            "WHERE target=? AND state='pending' AND (next_try_at <= ? OR next_try_at > ?) "
            "ORDER BY urgent DESC, created_at LIMIT ?",
            (target, time.time(), time.time() + self.max_retry_s, limit),
        ).fetchall()
        return [QueuedAlert(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8]) for r in rows]

    def next_due_in(self, target: str) -> float | None:
        now = time.time()
        row = self.db.execute("SELECT MIN(CASE WHEN next_try_at > ? THEN 0 ELSE next_try_at END) FROM alerts "
                              "WHERE target=? AND state='pending'", (now + self.max_retry_s, target)).fetchone()
        return None if row[0] is None else max(0.0, row[0] - now)

    def mark_sent(self, key: str, target: str) -> None:
        self.db.execute("UPDATE alerts SET state='sent', attempts=attempts+1, last_error='', sent_at=? "
                        "WHERE key=? AND target=?", (time.time(), key, target))

    def mark_retry(self, key: str, target: str, error: str, retry_in: float) -> None:
        self.db.execute("UPDATE alerts SET attempts=attempts+1, last_error=?, next_try_at=? WHERE key=? AND target=?",
                        (error_text(error), time.time() + retry_in, key, target))

    def mark_failed(self, key: str, target: str, error: str) -> None:
        self.db.execute("UPDATE alerts SET state='failed', attempts=attempts+1, last_error=? WHERE key=? AND target=?",
                        (error_text(error), key, target))

    def waiting_targets(self, key: str) -> set[str]:
        """The targets that still have ``key`` to deliver."""
        return {r[0] for r in self.db.execute("SELECT target FROM alerts WHERE key=? AND state='pending'", (key,))}

    def waiting_keys(self, targets: list[str]) -> set[str]:
        """Every key still to be delivered to one of ``targets``."""
        marks = ",".join("?" * len(targets))
        return {r[0] for r in self.db.execute(
            f"SELECT DISTINCT key FROM alerts WHERE state='pending' AND target IN ({marks})", targets)}

    def summary(self) -> list[dict[str, Any]]:
        """Per target: counts by state, the oldest undelivered alert and the last error (``summary_of``)."""
        return summary_of(self.db)


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    """Doubling delay with jitter, so many alerts retried together do not hit a service at once."""
    delay = min(max_s, base_s * (2 ** min(attempts, 30)))
    return delay * random.uniform(0.8, 1.0)


def summary_of(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per target of the alerts store open as ``db``: counts by state, the oldest undelivered alert and the last
    error (``quickcam status`` reads it read-only: uploader/alerts/status_reader.py)."""
    out = []
    for (target,) in db.execute("SELECT DISTINCT target FROM alerts ORDER BY target").fetchall():
        counts = dict(db.execute("SELECT state, COUNT(*) FROM alerts WHERE target=? GROUP BY state",
                                 (target,)).fetchall())
        waiting = db.execute(
            "SELECT name, camera, created_at, last_error FROM alerts WHERE target=? AND state!='sent' "
            "ORDER BY created_at DESC LIMIT 1", (target,)).fetchone()
        out.append({
            "target": target, "pending": counts.get("pending", 0), "failed": counts.get("failed", 0),
            "sent": counts.get("sent", 0),
            "undelivered": f"{waiting[0]} {waiting[1]}".strip() if waiting else "",
            "undelivered_since": waiting[2] if waiting else None,
            "last_error": waiting[3] if waiting else "",
        })
    return out
