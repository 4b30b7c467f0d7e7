"""Is the disk mounted? A storage folder on this machine that is an empty mount point is refused.

A NAS or USB disk mounted at the storage folder can drop (a network outage, ``umount -l``, a
cable): its mount point is then an empty folder on the camera machine's own disk, and footage
written there was reported uploaded while it never left the machine. So the folder is marked as
backup tools mark their repositories: the first upload into it writes ``.quickcam-storage``, and
each upload first looks for it. A folder without it is refused (uploads wait and retry, the error
asks "is the disk mounted?") when it is empty or missing while this uploader stored into it before
(the marker seen since start, or uploads in its ledger). A fresh empty folder, and a folder of an
older install that holds files, are marked and used.

Used by the ``local`` back end and by ``fsspec`` on its local file system (``file://``): the only
stores that are a folder of this machine. A remote store (SFTP, SMB, S3) has no mount point here;
when it is away its connection fails, and that is the error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from quickcam.common.durable import atomic_write
from quickcam.uploader.backends import RetryableError

MARKER = ".quickcam-storage"
MARKER_TEXT = (b"This folder is quickcam's storage. The uploader writes footage here only while this file is in it:\n"
               b"gone (a NAS or USB disk not mounted), uploads wait. Do not delete it.\n"
               b"Scripts that walk this folder (decrypting, copying) should skip it: it is not footage.\n")


class MountGuard:
    """Checks, before each upload, that ``root`` is the storage it was and not an empty mount point."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Whether footage was stored into this folder before this start (the uploader asks its ledger)
        self.stored_before: Callable[[], bool] = lambda: False
        self._marked = False  # the marker was seen (or written) since start

    def check(self) -> None:
        """Raise ``RetryableError`` if ``root`` looks like an empty mount point; mark a folder used the first time."""
        marker = self.root / MARKER
        try:
            if marker.is_file():
                self._marked = True
                return
            empty = not self.root.is_dir() or self._empty()
            if empty and (self._marked or self.stored_before()):
                state = "empty" if self.root.is_dir() else "gone"
                raise RetryableError(
                    f"is the disk mounted? the storage folder {self.root} is {state} "
                    f"and its marker {MARKER} is gone, though footage was stored there before; uploads wait. If it "
                    f"is meant to start empty, create the marker with touch {marker}")  # no ": ": the cause is first
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_write(marker, f".{MARKER}.part") as out:
                out.write(MARKER_TEXT)
        except OSError as exc:
            raise RetryableError(f"local storage {self.root}: {exc.strerror or exc}") from exc
        self._marked = True

    def _empty(self) -> bool:
        with os.scandir(self.root) as entries:
            return not any(entries)
