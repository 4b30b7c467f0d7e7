"""The ledger: an SQLite record of every item the uploader accepted and where it went.

It is what makes storage exactly-once. An item is known by its *origin*
(docs/protocol.md, section 7): the sender's identity (its CURVE public key, or
``""`` on a link without CURVE), the camera and the message id. An origin is
stored once; a repeat with the same sha256 is re-acknowledged, a repeat with a
different sha256 is a conflict. Two origins that share a message id (two
detectors counting ``cnt-1``, ``cnt-2``…) are two items: the first keeps the
message id as its ledger key, spool file and storage name, a later one gets
the id plus ``.`` and 12 hex digits of its origin, so nothing collides.
It survives restarts (WAL, synchronous=FULL), so pending uploads resume.
Each thread opens its own ``Ledger`` on the same file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from quickcam.common.config import ConfigError
from quickcam.common.durable import move_aside
from quickcam.common.open_files import out_of_files
from quickcam.common.protocol_schema import error_text
from quickcam.uploader.ledger_holder import holder_of
from quickcam.uploader.own_writes import own_writes

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another program's lock on the ledger before it fails
LOCKED_SAY_AFTER_S = 3.0  # ... told to ``on_locked`` this often meanwhile, so the wait is said while it lasts
LOCK_WAIT_SLACK_S = 0.01

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- snapshot, segment, log
    camera      TEXT NOT NULL,
    event       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    size        INTEGER NOT NULL,         -- plaintext bytes
    spool_path  TEXT NOT NULL,
    remote_key  TEXT NOT NULL,
    received_at REAL NOT NULL,
    done_at     REAL,
    sender      TEXT NOT NULL DEFAULT '', -- CURVE public key (z85) of the detector, '' without CURVE
    message_id  TEXT NOT NULL DEFAULT ''  -- the id in the message; items.id is the ledger's own key
);
CREATE TABLE IF NOT EXISTS deliveries (
    item_id     TEXT NOT NULL REFERENCES items(id),
    destination TEXT NOT NULL,
    state       TEXT NOT NULL,            -- pending, uploaded, failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    location    TEXT NOT NULL DEFAULT '',
    next_try_at REAL NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (item_id, destination)
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, next_try_at);
CREATE TABLE IF NOT EXISTS failing (
    destination TEXT PRIMARY KEY,         -- a destination failing since its last success
    since       REAL NOT NULL,            -- wall clock of the first failure of the streak
    error       TEXT NOT NULL DEFAULT ''  -- the newest failure's words
);
"""
# Ledgers written before items had an origin: every row came from message_id = id.
MIGRATE = """
ALTER TABLE items ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
UPDATE items SET message_id = id;
"""
ORIGIN_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS items_origin ON items(sender, camera, message_id)"
DAMAGED_SPOOL_FILE = "damaged spool file"  # a failure set aside for good: `quickcam retry` cannot send it
CLOCK_SLACK_S = 1.0  # a row updated further in the future than this: the wall clock stepped back since
ITEM_COLUMNS = ("id, sha256, kind, camera, event, seq, size, spool_path, remote_key, received_at, "
                "message_id, sender")


def cannot_open(path: Path, exc: Exception, then: str = "start the uploader again") -> str:
    """Why the ledger at ``path`` does not open, and the fix (one line: the uploader's start ends on it; ``then``:
    what to do once a lock is gone, for another command that opens it, ``quickcam retry``)."""
    if out_of_files():  # SQLite's "unable to open database file" read as a permissions problem
        return f"cannot open the ledger {path}: {out_of_files()}"
    if isinstance(exc, sqlite3.OperationalError) and (exc.sqlite_errorcode or 0) & 0xFF == sqlite3.SQLITE_BUSY:
        holder = holder_of(path) or "sqlite3, a backup tool?"
        return (f"the ledger {path} is locked by another program ({holder}) that keeps even readers out (PRAGMA "
                f"locking_mode = EXCLUSIVE); end its transaction or stop that program, then {then}")
    if path.is_dir():
        return (f"the ledger {path} is a directory, not the uploader's database; look inside, then remove it "
                f"(rmdir {path}) and start again: a new ledger is made")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return (f"the ledger {path} is damaged ({exc}); move it aside (mv {path} {path}.damaged) and start again "
                "with a new one")
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) == errno.ENOSPC:
        # A fresh ledger on a full disk: nothing could be accepted or kept, so the start ends on the fix
        return (f"cannot make the ledger {path}: its disk is full; free space on it (df {path.parent}) and start "
                "again")
    return f"cannot open the ledger {path} ({exc}); check that this user may write it and its folder"


@dataclass(frozen=True)
class Item:
    id: str
    sha256: str
    kind: str
    camera: str
    event: str
    seq: int
    size: int
    spool_path: str
    remote_key: str
    received_at: float
    message_id: str = ""  # the id the detector sent; "" = the same as ``id``
    sender: str = ""  # the detector's CURVE public key, "" without CURVE


@dataclass(frozen=True)
class Delivery:
    item: Item
    destination: str
    attempts: int


class Ledger:
    def __init__(self, path: Path, open_wait_s: float = BUSY_TIMEOUT_S, then: str = "start the uploader again") -> None:
        """``open_wait_s``: how long to wait for a lock that keeps readers out (the uploader's start: a few seconds,
        then one line naming the program; SQLite's 30 s said nothing, then blamed the file's permissions); ``then``:
        what that line says to do once the lock is gone."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=open_wait_s, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # an ack promises durability
            self.db.executescript(SCHEMA)
            if "message_id" not in self._item_columns():
                with self.db:
                    self.db.execute("BEGIN IMMEDIATE")
                    if "message_id" not in self._item_columns():  # another thread may have just done it
                        for statement in MIGRATE.strip().split(";\n"):
                            self.db.execute(statement)
            self.db.execute(ORIGIN_INDEX)
            self._busy_timeout(BUSY_TIMEOUT_S)
            st = os.stat(path)
        except (sqlite3.Error, OSError) as exc:  # a traceback was the uploader's last word
            raise ConfigError(cannot_open(path, exc, then)) from None
        self._file = (st.st_dev, st.st_ino)  # which file is ours: one put in its place is not
        # Told, with the seconds waited so far, each LOCKED_SAY_AFTER_S that a write waits for a lock another
        # program holds (sqlite3's BEGIN EXCLUSIVE, a backup tool): SQLite's wait said nothing for 30 s.
        self.on_locked: Callable[[float], None] | None = None
        # How long a write waits for that lock before it fails (with ``on_locked`` set): the receiver's one slice
        # (shorter than its detectors' heartbeat), so that it answers them meanwhile; the shipper's for ever (it has
        # no one to answer); a slice is never longer than this.
        self.lock_wait_s = BUSY_TIMEOUT_S
        # How long a write waits for this uploader's own write in another thread (a slow disk, not a lock: never
        # said as one; uploader/own_writes.py): the receiver's LOCKED_SAY_AFTER_S, the shipper's for ever.
        self.own_wait_s = BUSY_TIMEOUT_S
        self._own = own_writes(path)

    def _item_columns(self) -> set[str]:
        return {row[1] for row in self.db.execute("PRAGMA table_info(items)")}

    def close(self) -> None:
        self.db.close()

    def rescue_if_gone(self) -> str:
        """If the ledger's file was deleted or replaced under the running uploader, write it back and say what
        happened to it ("deleted", "replaced by a directory (moved to ...)"); "" while it is in place.

        An open SQLite file lives on after ``rm -rf state/``: this process goes on using
        it, but a restart would start from an empty ledger and every spool file not yet
        uploaded would be orphaned, never uploaded and never reported. The open copy is
        written back to ``path`` (SQLite's online backup: a consistent snapshot); rows
        that change after it are only the uploads done meanwhile, which a restart repeats
        under the same names. Something else put at ``path`` (a directory, another file)
        hid the same loss, and the next start failed on it: it is moved aside, kept; so is a file put where
        the ledger's folder was (``state/`` deleted, then a file made by that name).
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            what = "deleted"
        except NotADirectoryError:  # its folder deleted and a file made in its place: the ledger's folder comes first
            in_the_way = next(p for p in self.path.parents if os.path.lexists(p))
            aside = move_aside(in_the_way)
            what = f"deleted with its folder, and a file put in the folder's place (moved to {aside.name})"
        else:
            if (st.st_dev, st.st_ino) == self._file:
                return ""
            aside = move_aside(self.path)
            what = (f"replaced by {'a directory' if stat.S_ISDIR(st.st_mode) else 'another file'} "
                    f"(moved to {aside.name})")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        copy = sqlite3.connect(self.path)
        try:
            self.db.backup(copy)
        finally:
            copy.close()
        written = os.stat(self.path)
        self._file = (written.st_dev, written.st_ino)
        return what

    def sha256_of(self, message_id: str, camera: str, sender: str = "") -> str | None:
        """The sha256 stored for this origin (sender, camera, message id), or None if it is new."""
        row = self.db.execute("SELECT sha256 FROM items WHERE sender=? AND camera=? AND message_id=?",
                              (sender, camera, message_id)).fetchone()
        return row[0] if row else None

    def key_for(self, message_id: str, camera: str, sender: str = "") -> str:
        """The ledger key (spool file and storage name) for a new origin: unique, stable once stored."""
        taken = self.db.execute("SELECT 1 FROM items WHERE id=?", (message_id,)).fetchone()
        if not taken:
            return message_id
        tag = hashlib.sha256(f"{sender}\n{camera}".encode()).hexdigest()[:12]
        return f"{message_id}.{tag}"

    def add(self, item: Item, destinations: list[str]) -> None:
        now = time.time()
        with self._writing():
            self.db.execute(
                f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (item.id, item.sha256, item.kind, item.camera, item.event, item.seq, item.size,
                 item.spool_path, item.remote_key, item.received_at, item.message_id or item.id,
                 item.sender),
            )
            self.db.executemany(
                "INSERT INTO deliveries (item_id, destination, state, updated_at) VALUES (?,?,'pending',?)",
                [(item.id, dest, now) for dest in destinations],
            )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction, committed at the end (rolled back on an error): this process's turn first (its
        other threads' writes), then SQLite's lock (another program's), waited for in slices."""
        own = self._own
        own.take(self.own_wait_s, self.lock_wait_s, self.on_locked, LOCKED_SAY_AFTER_S)
        try:
            with self.db:
                self._begin_write()
                own.began_writing()
                yield
        finally:
            own.give_back()

    def _begin_write(self) -> None:
        """``BEGIN IMMEDIATE``, waiting up to ``lock_wait_s`` for a lock, in slices told to ``on_locked``."""
        if self.on_locked is None:
            self.db.execute("BEGIN IMMEDIATE")
            return
        waited = 0.0
        try:
            while True:
                self._busy_timeout(min(LOCKED_SAY_AFTER_S, self.lock_wait_s - waited))
                started = time.monotonic()
                try:
                    self.db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    waited += time.monotonic() - started
                    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # any BUSY_* is the lock
                        raise
                    self.on_locked(waited)
                    if waited >= self.lock_wait_s - LOCK_WAIT_SLACK_S:  # (SQLite's own wait may end a little early)
                        raise
        finally:
            self._busy_timeout(BUSY_TIMEOUT_S)

    def takes_writes(self) -> bool:
        """Whether a write could begin now (no other program holds the lock); nothing is written."""
        if not self._own.take_now():  # another thread of ours: once writing, it holds SQLite's lock
            return self._own.held_by_a_writer()
        try:
            return self._probe_write()
        finally:
            self._own.give_back()

    def _probe_write(self) -> bool:
        self._busy_timeout(0)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            self._busy_timeout(BUSY_TIMEOUT_S)

    def _busy_timeout(self, seconds: float) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {round(seconds * 1000)}")

    def due(self, limit: int = 50, skip: Collection[str] = ()) -> list[Delivery]:
        """Pending deliveries whose retry time has come: snapshots first, then oldest.

        Retry times are on the wall clock (they outlive the process). A row last
        updated in the future was scheduled before the clock stepped back: it is
        due now, or a clock stepped back an hour would hold it for that hour.
        ``skip``: destinations not listed (paused, or busy with an upload). Before, a paused destination's
        backlog of over ``limit`` older items filled the list, and the other destinations got nothing.
        """
        now = time.time()
        rows = self.db.execute(
            f"""SELECT {", ".join("i." + c for c in ITEM_COLUMNS.split(", "))}, d.destination, d.attempts
               FROM deliveries d JOIN items i ON i.id = d.item_id
               WHERE d.state='pending' AND (d.next_try_at <= ? OR d.updated_at > ?){_not_in(skip)}
               ORDER BY CASE i.kind WHEN 'snapshot' THEN 0 WHEN 'segment' THEN 1 ELSE 2 END, i.id
               LIMIT ?""",
            (now, now + CLOCK_SLACK_S, *skip, limit),
        ).fetchall()
        return [Delivery(Item(*row[:12]), row[12], row[13]) for row in rows]

    def next_due_in(self, skip: Collection[str] = ()) -> float | None:
        now = time.time()
        row = self.db.execute("SELECT MIN(CASE WHEN updated_at > ? THEN 0 ELSE next_try_at END) FROM deliveries d "
                              f"WHERE state='pending'{_not_in(skip)}", (now + CLOCK_SLACK_S, *skip)).fetchone()
        return None if row[0] is None else max(0.0, row[0] - now)

    def mark_uploaded(self, item_id: str, destination: str, location: str) -> bool:
        """Record success; True when every destination of the item now has it."""
        now = time.time()
        with self._writing():
            self.db.execute(
                "UPDATE deliveries SET state='uploaded', location=?, attempts=attempts+1, last_error='', "
                "updated_at=? WHERE item_id=? AND destination=?",
                (location, now, item_id, destination),
            )
            left = self.db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE item_id=? AND state!='uploaded'", (item_id,)
            ).fetchone()[0]
            if left == 0:
                self.db.execute("UPDATE items SET done_at=? WHERE id=?", (now, item_id))
        return left == 0

    def mark_retry(self, item_id: str, destination: str, error: str, retry_in: float) -> None:
        now = time.time()
        with self._writing():
            self.db.execute(
                "UPDATE deliveries SET attempts=attempts+1, last_error=?, next_try_at=?, updated_at=? "
                "WHERE item_id=? AND destination=?",
                (error_text(error), now + retry_in, now, item_id, destination),
            )

    def mark_failed(self, item_id: str, destination: str, error: str) -> None:
        with self._writing():
            self.db.execute(
                "UPDATE deliveries SET state='failed', attempts=attempts+1, last_error=?, updated_at=? "
                "WHERE item_id=? AND destination=?",
                (error_text(error), time.time(), item_id, destination),
            )

    def destination_failed(self, destination: str, error: str) -> float:
        """An upload to ``destination`` failed: its streak starts now, or goes on; when it started (wall clock).

        Kept here, not only in the shipper's memory: a restarted uploader (a crash, an update, a
        reboot) went on as if a destination down for an hour had just started failing, so the
        health check and ``storage_failing`` waited their whole bound again before saying so.
        """
        with self._writing():
            self.db.execute("INSERT INTO failing (destination, since, error) VALUES (?, ?, ?) "
                            "ON CONFLICT(destination) DO UPDATE SET error=excluded.error",
                            (destination, time.time(), error_text(error)))
        return float(self.db.execute("SELECT since FROM failing WHERE destination=?", (destination,)).fetchone()[0])

    def destination_works(self, destination: str) -> None:
        """An upload to ``destination`` succeeded: its failing streak, if any, is over."""
        with self._writing():
            self.db.execute("DELETE FROM failing WHERE destination=?", (destination,))

    def failing_streaks(self) -> dict[str, tuple[float, str]]:
        """Each destination failing since its last success: (when it started, wall clock; the newest error)."""
        return streaks_of(self.db)

    def retry_failed(self, wait_s: float = BUSY_TIMEOUT_S) -> int:
        """Put permanently failed deliveries back in the queue (``quickcam retry``); ``ConfigError`` naming the
        program that holds the write lock after ``wait_s`` (``sqlite3`` left in ``BEGIN EXCLUSIVE``: SQLite's 30 s,
        then a traceback)."""
        self._busy_timeout(wait_s)
        try:
            cur = self.db.execute(
                "UPDATE deliveries SET state='pending', next_try_at=0, updated_at=? WHERE state='failed'",
                (time.time(),),
            )
        except sqlite3.OperationalError as exc:
            if (exc.sqlite_errorcode or 0) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            holder = holder_of(self.path) or "sqlite3, a backup tool?"
            raise ConfigError(f"the ledger {self.path} is locked by another program ({holder}), so nothing was "
                              "queued again; end its transaction or stop that program, then run quickcam retry "
                              "again") from None
        finally:
            self._busy_timeout(BUSY_TIMEOUT_S)
        return cur.rowcount

    def failed_for_good(self) -> list[dict[str, object]]:
        """Per destination, the deliveries failed for good that ``quickcam retry`` can send: count and newest error.

        Their footage is on this machine only until a person acts (the health check fails on them); a damaged
        spool file is left out (set aside: retrying it cannot help, and said by quickcam status).
        """
        rows = self.db.execute(  # SQLite takes the bare last_error from the row of MAX(updated_at)
            "SELECT destination, COUNT(*), last_error, MAX(updated_at) FROM deliveries WHERE state='failed' "
            "AND last_error NOT LIKE ? GROUP BY destination ORDER BY destination", (DAMAGED_SPOOL_FILE + "%",))
        return [{"destination": dest, "failed": count, "error": error} for dest, count, error, _ in rows]

    def move_to(self, destinations: list[str]) -> tuple[dict[str, int], list[str]]:
        """Uploads not done for a destination no longer in ``destinations`` go to those that are.

        Such a delivery (a destination renamed or removed in the config) failed for good
        at its first try and ``quickcam retry`` only failed it again: its footage was
        never stored. Each one's row is removed, and its item gets a pending delivery
        for every configured destination it lacks. Returns the count moved per old
        destination, and the spool paths of items now uploaded everywhere (to delete).
        """
        gone = f"state!='uploaded' AND destination NOT IN ({','.join('?' * len(destinations))})"
        now = time.time()
        with self._writing():
            moved = dict(self.db.execute(f"SELECT destination, COUNT(*) FROM deliveries WHERE {gone} "
                                         "GROUP BY destination", destinations).fetchall())
            if not moved:
                return {}, []
            for dest in destinations:  # (before the rows that say which items are removed)
                self.db.execute("INSERT OR IGNORE INTO deliveries (item_id, destination, state, updated_at) "
                                f"SELECT DISTINCT item_id, ?, 'pending', ? FROM deliveries WHERE {gone}",
                                [dest, now, *destinations])
            self.db.execute(f"DELETE FROM deliveries WHERE {gone}", destinations)
            done = self.db.execute("SELECT id, spool_path FROM items WHERE done_at IS NULL AND NOT EXISTS (SELECT 1 "
                                   "FROM deliveries d WHERE d.item_id=items.id AND d.state!='uploaded')").fetchall()
            self.db.executemany("UPDATE items SET done_at=? WHERE id=?", [(now, item_id) for item_id, _ in done])
        return moved, [path for _, path in done]

    def pending_bytes(self) -> int:
        row = self.db.execute("SELECT COALESCE(SUM(size),0) FROM items WHERE done_at IS NULL").fetchone()
        return int(row[0])

    def summary(self) -> list[dict]:
        """Per destination: counts by state, oldest pending age, last error, and since when it fails (0: it works)."""
        return summary_of(self.db)


def summary_of(db: sqlite3.Connection) -> list[dict]:
    """Per destination: counts by state, oldest pending age, last error, and since when it fails (0: it works)."""
    out = []
    now = time.time()
    streaks = streaks_of(db)
    for (dest,) in db.execute("SELECT DISTINCT destination FROM deliveries ORDER BY destination"):
        counts = dict(db.execute(
            "SELECT state, COUNT(*) FROM deliveries WHERE destination=? GROUP BY state", (dest,)
        ).fetchall())
        oldest = db.execute(
            "SELECT MIN(i.received_at) FROM deliveries d JOIN items i ON i.id=d.item_id "
            "WHERE d.destination=? AND d.state!='uploaded'", (dest,)
        ).fetchone()[0]
        tries = db.execute(  # each delivery's attempts, its success (if any) the last of them
            "SELECT COALESCE(SUM(attempts), 0) - COALESCE(SUM(state='uploaded'), 0) FROM deliveries "
            "WHERE destination=?", (dest,)).fetchone()[0]
        last_error = db.execute(
            "SELECT last_error FROM deliveries WHERE destination=? AND last_error!='' "
            "ORDER BY updated_at DESC LIMIT 1", (dest,)
        ).fetchone()
        out.append({
            "destination": dest,
            "pending": counts.get("pending", 0),
            "failed": counts.get("failed", 0),
            "uploaded": counts.get("uploaded", 0),
            "failed_tries": max(0, int(tries)),  # every failed upload attempt of the deliveries still listed
            "oldest_pending_s": round(max(0.0, now - oldest), 1) if oldest else 0.0,
            "last_error": last_error[0] if last_error else "",
            "failing_since": streaks.get(dest, (0.0, ""))[0],  # the shipper's streak (wall clock)
        })
    return out


def streaks_of(db: sqlite3.Connection) -> dict[str, tuple[float, str]]:
    """Each destination failing since its last success: (when it started, wall clock; the newest error)."""
    return {dest: (float(since), error) for dest, since, error in db.execute("SELECT destination, since, error "
                                                                            "FROM failing")}


def _not_in(destinations: Collection[str]) -> str:
    """The SQL condition leaving ``destinations`` out (one ``?`` each), or nothing."""
    return f" AND d.destination NOT IN ({', '.join('?' * len(destinations))})" if destinations else ""
