"""Durable file writes: the one way footage is put on disk anywhere in quickcam.

A file is written under a temporary name, flushed and fsynced, renamed over
its final name, and the folder is fsynced, so after a crash (or a pulled
plug) the final name holds either nothing or the whole file, never a part.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


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
