"""Another program holding the ledger locked (``sqlite3`` with ``BEGIN EXCLUSIVE``, a backup tool): said while it lasts.

An item is acked only once its ledger row is written, and that write waits for the lock, up to
SQLite's 30 s (``ledger.BUSY_TIMEOUT_S``), then the item is nacked ``busy`` and its detector sends it
again. That wait said nothing for 30 s. Now, after a few seconds of it, one warning a streak, the
fault in the status file (``quickcam status``, the health check) and one line when it takes writes
again; the footage waits in the detectors' outboxes meanwhile.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from quickcam.uploader.ledger import BUSY_TIMEOUT_S, Ledger

log = logging.getLogger(__name__)


class LedgerLocked:
    """The receiver's view of another program's lock on its ledger: ``problem`` while it stands."""

    def __init__(self, path: Path, counters: Counter[str], say: Callable[[], None]) -> None:
        self.path = path
        self.counters = counters
        self.say = say  # writes the status file now: the receiver's own loop waits in SQLite meanwhile
        self.problem = ""

    def waiting(self, waited_s: float) -> None:
        """A write has waited ``waited_s`` for the lock and waits on (``Ledger.on_locked``)."""
        first = not self.problem
        self.problem = (f"the ledger {self.path} has been locked by another program for {waited_s:.0f} s "
                        "(sqlite3, a backup tool?); new footage waits in the detectors' outboxes until it lets go")
        if first:
            self.counters["ledger_locked"] += 1
            log.warning("receiver: %s; waiting (up to %.0f s an item, then it is nacked busy and sent again)",
                        self.problem, BUSY_TIMEOUT_S)
        self.say()

    def check(self, ledger: Ledger) -> None:
        """While one stands, whether the lock is gone (a write begun and rolled back, no wait)."""
        if self.problem and ledger.takes_writes():
            self.problem = ""
            log.info("receiver: the ledger %s takes writes again", self.path)
