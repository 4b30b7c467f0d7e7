"""Which other program holds a lock on the ledger: named in the lines that say the ledger is locked.

"locked by another program (sqlite3, a backup tool?)" left a person to find it; Linux lists every POSIX lock
with its process in ``/proc/locks``, which SQLite's locks are (on the ledger file itself for one that keeps
readers out, ``PRAGMA locking_mode = EXCLUSIVE``; on its ``-shm`` file for a writer in WAL mode). Read-only:
no descriptor of the ledger is opened (closing one would drop every lock this process's SQLite holds on it).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")


def holder_of(ledger: Path) -> str:
    """``pid 1234, sqlite3`` for a process other than this one holding a write lock on the ledger or its ``-shm``;
    "" where that cannot be known (not Linux, the lock gone meanwhile, a process of another namespace)."""
    files = set()
    for path in (ledger, ledger.with_name(ledger.name + "-shm")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        files.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    try:
        lines = PROC_LOCKS.read_text().splitlines()
    except OSError:
        return ""
    for line in lines:  # "1: POSIX  ADVISORY  WRITE 1234 fe:00:2146741 120 120" (a waiter's line has "->" too)
        fields = line.split()
        if len(fields) != 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            where = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if where in files and pid != os.getpid():
            return f"pid {pid}, {_name_of(pid)}"
    return ""


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite's "locked" (``SQLITE_BUSY``): another connection holds a lock it waited for."""
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_BUSY


def locked_out(path: Path, what: str = "ledger") -> str:
    """The start of the line said where a read of ``path`` (the ledger, the alerts store) gave up on a lock that
    keeps readers out: "the ledger … is locked by another program (pid N, name) …"; the caller adds the fix."""
    holder = holder_of(path) or "which one cannot be told: sqlite3, a backup tool?"
    return (f"the {what} {path} is locked by another program ({holder}) that keeps even readers out "
            "(PRAGMA locking_mode = EXCLUSIVE)")


def _name_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or "?"
    except OSError:
        return "?"
