"""This uploader's own writes to its ledger, one at a time: so that its own slow write is never called a lock.

The receiver, the shipper and the main loop (the uploader's own log) each write the ledger through their own
SQLite connection. SQLite's write lock cannot say whose it is, so the receiver, which waits for it at most its
detectors' shortest heartbeat, took the shipper's own commit on a slow disk (an fsync of 250 ms against a
100 ms heartbeat) for another program's lock: a warning, the status file's fault, ``ledger_locked`` counted and
the item nacked ``busy``, though no other program was there. Now the threads of this process take turns here
first, so SQLite's lock is only ever waited for when another program holds it; a wait here is this uploader's
own write, bounded by its disk, told apart by what the thread whose turn it is is doing: still waiting for
SQLite's lock (another program's, then), or writing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from quickcam.uploader.ledger_holder import PROC_LOCKS, holder_of

STEP_S = 0.02  # how often a thread waiting for its turn looks at what the one writing does


class SlowOwnWrite(sqlite3.OperationalError):
    """This uploader's own write to the ledger has taken longer than the caller may wait (a slow or stuck disk)."""


class LockedElsewhere(sqlite3.OperationalError):
    """Another program's lock held up this process's writes for as long as the caller may wait (SQLite's words)."""


class OwnWrites:
    """The turn to write one ledger file within this process, given in the order asked (a thread that writes twice
    in a row, the shipper's outcome and streak, let no other in: a lock's wake-up came after its next take)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changed = threading.Condition()
        self._asked: deque[object] = deque()  # the threads waiting for the turn, first asked first
        self._held = False
        self.holder = ""  # the thread whose turn it is, named in what a wait for it says
        # Monotonic since when the holder waits for SQLite's lock (only another program can hold it then: every
        # writer of this process waits here first); None while it writes (it holds SQLite's lock) or none holds it.
        self.waiting_since: float | None = None

    def take(self, own_wait_s: float, lock_wait_s: float, on_locked: Callable[[float], None] | None,
             say_every_s: float) -> None:
        """Wait for the turn: up to ``own_wait_s`` while threads of ours write (``SlowOwnWrite`` after), and up to
        ``lock_wait_s`` while the one whose turn it is waits for another program's lock (told to ``on_locked`` each
        ``say_every_s`` and at the end, then ``LockedElsewhere``), as ``Ledger`` waits for SQLite's lock."""
        me, started, said = object(), time.monotonic(), 0
        with self._changed:
            self._asked.append(me)
        try:
            while not self._my_turn(me):
                locked_for = self._locked_for(started)
                if locked_for and (locked_for >= lock_wait_s or locked_for >= (said + 1) * say_every_s) \
                        and self._seen_elsewhere():
                    said += 1
                    if on_locked is not None:
                        on_locked(locked_for)
                    if locked_for >= lock_wait_s:
                        raise LockedElsewhere("database is locked")
                elif time.monotonic() - started >= own_wait_s and not (locked_for and self._seen_elsewhere()):
                    raise SlowOwnWrite(f"this uploader's own writes to the ledger ({self.holder} last) kept this "
                                       f"one waiting {time.monotonic() - started:.1f} s (a slow or stuck disk?)")
        except BaseException:
            with self._changed:
                self._asked.remove(me)
                self._changed.notify_all()
            raise

    def _my_turn(self, me: object) -> bool:
        """Take the turn if it is ``me``'s, after a wait of a step at most for it."""
        with self._changed:
            if self._held or self._asked[0] is not me:
                self._changed.wait(STEP_S)
            if self._held or self._asked[0] is not me:
                return False
            self._asked.popleft()
            self._held, self.holder = True, threading.current_thread().name
            self.waiting_since = time.monotonic()  # until ``Ledger`` has begun its write
            return True

    def _locked_for(self, started: float) -> float:
        """How long another program's lock may have held up a wait begun at ``started`` (0: this uploader's own
        write): the thread whose turn it is has been waiting for SQLite's lock, which only another program can hold
        then (or it was not given the CPU: ``_seen_elsewhere`` tells)."""
        since = self.waiting_since
        if not self._held or since is None:
            return 0.0
        now = time.monotonic()
        return min(now - started, now - since)

    def _seen_elsewhere(self) -> bool:
        """Whether Linux's lock table shows another program's lock on the ledger (where there is none: trusted)."""
        return not PROC_LOCKS.exists() or bool(holder_of(self.path))

    def take_now(self) -> bool:
        """The turn if no thread of ours writes or waits for it (a probe: never waits)."""
        with self._changed:
            if self._held or self._asked:
                return False
            self._held, self.holder, self.waiting_since = True, threading.current_thread().name, time.monotonic()
            return True

    def began_writing(self) -> None:
        """The holder has SQLite's lock: a wait for it now is for this uploader's own write."""
        self.waiting_since = None

    def give_back(self) -> None:
        with self._changed:
            self._held, self.waiting_since = False, None
            self._changed.notify_all()

    def held_by_a_writer(self) -> bool:
        """Whether a thread of ours has begun its write: then it, not another program, holds SQLite's lock."""
        with self._changed:
            return self._held and self.waiting_since is None


_TURNS: dict[str, OwnWrites] = {}
_GUARD = threading.Lock()


def own_writes(path: Path) -> OwnWrites:
    """The one ``OwnWrites`` of this process for the ledger at ``path``."""
    key = os.path.realpath(path)
    with _GUARD:
        return _TURNS.setdefault(key, OwnWrites(path))
