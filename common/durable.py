"""Durable file writes: the one way footage is put on disk anywhere in quickcam.

A file is written under a temporary name, flushed and fsynced, renamed over
its final name, and the folder is fsynced, so after a crash (or a pulled
plug) the final name holds either nothing or the whole file, never a part.
Status files (``write_status``) are replaced atomically too, made 0600 whatever the
umask (they name cameras and times), and padded so that a full disk can still take
the next one in place.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

RESERVE_BYTES = 16 * 1024  # a status file keeps this much room (a multiple of it) for a full disk
STATUS_MODE = 0o600  # a status file's mode when made (common/private.py: the process's umask narrows it further)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: Path, part_name: str | None = None) -> Iterator[BinaryIO]:
    """Yield a handle on a temporary file that becomes ``path`` only if the block succeeds.

    ``part_name`` names the temporary file (default ``<name>.part`` beside it);
    on any error it is removed and the error propagates.
    """
    part = path.with_name(part_name or f"{path.name}.part")
    try:
        with open(part, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
        fsync_dir(path.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


# No new file possible, but the old one may still be overwritten: a full disk, or a folder we may no longer
# create files in (the file itself is still ours).
IN_PLACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM)


def move_aside(path: Path) -> Path:
    """Rename whatever stands at ``path`` to ``<name>.replaced-<ns>`` beside it, and return that name.

    For a directory found where a file of ours belongs: kept (it may hold
    someone's files), not deleted, and no longer in the way.
    """
    aside = path.with_name(f"{path.name}.replaced-{time.time_ns()}")
    os.rename(path, aside)
    return aside


def write_status(path: Path, status: dict[str, Any]) -> list[Path]:
    """Replace ``path`` atomically with ``status`` as JSON, 0600 (a status file: no fsync, it is rewritten soon).

    The file is padded with spaces to a multiple of ``RESERVE_BYTES``, so when
    the disk is full or the folder refuses new files (the very moment the status
    matters most) it can still be overwritten in place, in the space it already holds.
    A directory standing at ``path`` or at its temporary name (or one at each) would
    refuse every write while readers call the writer stale: each is moved aside
    (``move_aside``) in this same write, and their new names returned, for the caller
    to say (empty when none stood there).
    """
    text = json.dumps(status, sort_keys=True).encode()
    text += b" " * (-len(text) % RESERVE_BYTES)
    tmp = path.with_name(path.name + ".part")
    moved: list[Path] = []
    try:
        while True:
            try:
                _replace(tmp, path, text)
                return moved
            except IsADirectoryError:
                # The temporary name's directory shows first (the write), the file's only then (the rename):
                # both are moved before this write gives up, not the second one at the next write.
                in_the_way = tmp if tmp.is_dir() else path
                if len(moved) == 2 or not in_the_way.is_dir():
                    raise
                try:
                    moved.append(move_aside(in_the_way))
                except OSError as exc:
                    raise OSError(exc.errno, f"a directory stands at {in_the_way.name} and cannot be moved aside: "
                                             f"{exc.strerror}") from exc
    except OSError as exc:
        if not tmp.is_dir():
            tmp.unlink(missing_ok=True)
        if exc.errno not in IN_PLACE_ERRNOS or not path.is_file() or path.stat().st_size < len(text):
            raise
        with open(path, "r+b") as handle:  # no new blocks needed: the old file's are reused
            handle.write(text)
            handle.truncate()
        return moved


def _replace(tmp: Path, path: Path, text: bytes) -> None:
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STATUS_MODE), "wb") as handle:
        handle.write(text)
    os.replace(tmp, path)
