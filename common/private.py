"""Private files: everything quickcam creates is readable by its own user only.

Outbox clips are plaintext, and logs, status files and the ledger name cameras
and times, so a folder 0755 or a file 0644 would show them to every local user.
Each process sets its umask to 077 when it starts, whatever the caller's
(a shell's 022, a service manager's), so every folder it makes is 0700 and
every file 0600 without each ``mkdir``/``open`` having to say so. Folders that
already exist keep their mode; ``quickcam doctor`` names those that are wider.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_UMASK = 0o077


def make_private() -> None:
    """From now on this process creates folders 0700 and files 0600."""
    os.umask(PRIVATE_UMASK)


def wider_than_private(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """The existing ``paths`` whose mode lets group or others in: ``(path, mode)`` each."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # not made yet: the process will make it private
        if mode & 0o077:
            found.append((path, mode))
    return found
