"""A small disk of a test's own, for the full-disk tests: a tmpfs mounted on a folder (root only, else a skip)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """Make ``folder`` and mount a tmpfs on it with these mount ``options`` (e.g. ``size=4m``) until the end."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk says ENOSPC, in ever smaller pieces; the disk is then full."""
    filler = folder / "filler.fill"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 512):
            while True:
                try:
                    handle.write(chunk[:size])
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    return filler
