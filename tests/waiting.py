"""Polling for something a real process or thread does in its own time (and deleting under it)."""

from __future__ import annotations

import errno
import shutil
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(predicate: Callable[[], object], seconds: float = 10.0, every: float = 0.05) -> bool:
    """True once ``predicate()`` is true, looking every ``every`` s for up to ``seconds``; a passing test
    waits no longer than it must, so ``seconds`` can be generous for a loaded machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def rm_rf_while_written(folder: Path) -> None:
    """``rm -rf folder`` while a running detector writes into it: a file it made between the listing and the
    last ``rmdir`` leaves the folder not empty (ENOTEMPTY: seen once, three workers on 2 cores), and one it
    renamed away between the listing and its unlink is not there (ENOENT: the status file's ``.part``, seen
    once), so it goes again."""
    for attempt in range(10):
        try:
            shutil.rmtree(folder)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.ENOENT) or attempt == 9:
                raise
