"""Another program holding the ledger locked (``sqlite3`` with ``BEGIN EXCLUSIVE``, a backup tool): said while it lasts.

Both of the uploader's threads write the ledger: the receiver an item's row before its ack, the
shipper each upload's outcome. Their waits for that lock were SQLite's 30 s, without a word. Now,
after a few seconds of it (``ledger.LOCKED_SAY_AFTER_S``; the receiver: its detectors' shortest
heartbeat if that is shorter), each thread says it in one warning a streak, its fault is in the
status file (``quickcam status``, the health check), and one line says when the ledger takes writes
again. What the wait costs differs: the receiver stops waiting there (the item is nacked ``busy``,
and no credit is given until the lock goes: its detectors keep their footage and hear from it every
heartbeat); the shipper waits on (uploads pause).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from quickcam.uploader.ledger import Ledger
from quickcam.uploader.ledger_holder import holder_of

log = logging.getLogger(__name__)


class LedgerLocked:
    """One thread's view of another program's lock on its ledger: ``problem`` while it stands.

    ``who`` names the thread in its lines, ``waits`` says what waits meanwhile, ``counters`` (the receiver's,
    which the shipper's counts in too: ``count_with``) counts each streak as ``ledger_locked``; ``say`` writes the
    status file at once (the thread may be the one that writes it, and it waits in SQLite meanwhile).
    """

    def __init__(self, path: Path, who: str, waits: str, say: Callable[[], None],
                 counters: Counter[str] | None = None) -> None:
        self.path = path
        self.who = who
        self.waits = waits
        self.counters = counters
        self.say = say
        self.problem = ""
        self.meeting: set[str] = set()  # the threads in a streak now: a lock two of them meet is counted once

    def count_with(self, other: LedgerLocked) -> None:
        """Count this thread's streaks with ``other``'s, in its counters: one lock both meet is one streak."""
        self.counters, self.meeting = other.counters, other.meeting

    def waiting(self, waited_s: float) -> None:
        """A write has waited ``waited_s`` for the lock (``Ledger.on_locked``)."""
        if not self.problem:
            holder = holder_of(self.path) or "sqlite3, a backup tool?"
            self.problem = (f"the ledger {self.path} is locked by another program ({holder}); "
                            f"{self.waits} until it lets go")
            if self.counters is not None and not self.meeting:
                self.counters["ledger_locked"] += 1
            self.meeting.add(self.who)
            log.warning("%s: the ledger %s has been locked by another program for %g s (%s); %s until it lets go",
                        self.who, self.path, round(waited_s, 1), holder, self.waits)
        self.say()

    def check(self, ledger: Ledger) -> None:
        """While one stands, whether the lock is gone (a write begun and rolled back, no wait)."""
        if self.problem and ledger.takes_writes():
            self.problem = ""
            self.meeting.discard(self.who)
            log.info("%s: the ledger %s takes writes again", self.who, self.path)
