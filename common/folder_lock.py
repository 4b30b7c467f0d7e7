"""One process per folder: an ``flock`` on ``<folder>/.lock`` held for the process's life.

The detector holds its outbox's and the uploader its state folder's (the ledger's). Two of
either on one folder would each take the other's work for their own: a second detector
discarded the first one's open segment as "left by a crash"; a second uploader shipped the
same spool files from the same ledger, and reported as failed the uploads the other had done
(its spool file gone). The kernel drops an ``flock`` however the process ends, so a
SIGKILL leaves no stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from quickcam.common.config import ConfigError

LOCK_NAME = ".lock"


def hold_folder_lock(folder: Path) -> int | str:
    """The lock's descriptor (keep it open), or the pid written by the process that holds it.

    A folder this process may not write in (read-only, another user's) is a ConfigError in the
    native detector's words (it was a traceback): nothing could be kept there anyway.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open {exc.filename or folder / LOCK_NAME}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        return holder
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
