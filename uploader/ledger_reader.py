"""The ledger read by another process (``quickcam status``): read only, and never waited on for long.

``quickcam status`` opened the ledger as the uploader does (SQLite's 30 s wait for a lock, then the
uploader's start-up words). A program holding a lock that keeps readers out (``PRAGMA locking_mode =
EXCLUSIVE``: a backup tool, ``sqlite3`` left open) held status for 30 s, which then printed only
"… start the uploader again" and none of what the status files held. Now it waits about a second,
and says who holds the lock where the destinations' rows would be.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from quickcam.uploader.ledger import Ledger, cannot_open, summary_of
from quickcam.uploader.ledger_holder import is_busy, locked_out

READ_WAIT_S = 1.0  # a lock that comes and goes (a short transaction) is waited for this long, no more


T = TypeVar("T")


def read_only(path: Path, query: Callable[[sqlite3.Connection], T], wait_s: float = READ_WAIT_S) -> T:
    """``query`` run on the SQLite file at ``path`` opened read only, waiting ``wait_s`` at most for a lock
    (``sqlite3.Error`` after it: the caller says why); no write, no schema made."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=wait_s, isolation_level=None)
    try:
        return query(db)
    finally:
        db.close()


class LedgerUnreadable(Exception):
    """The ledger could not be read now; the message says why and what to do, for a status line."""


def read_summary(path: Path, wait_s: float = READ_WAIT_S) -> list[dict]:
    """``Ledger.summary`` of the ledger at ``path``, read without writing; ``LedgerUnreadable`` after ``wait_s``."""
    try:
        return read_only(path, summary_of, wait_s)
    except sqlite3.Error as exc:
        if is_busy(exc):
            raise LedgerUnreadable(f"{locked_out(path)}, so the upload counts cannot be read; end its transaction "
                                   "or stop that program") from None
        if "no such table" not in str(exc):
            raise LedgerUnreadable(cannot_open(path, exc)) from None
    ledger = Ledger(path)  # one from before a table was added: the uploader's open makes it, as at its start
    try:
        return ledger.summary()
    finally:
        ledger.close()
