"""The ``local`` back end: a folder standing in for a cloud (a NAS mount works too).

A NAS or USB disk mounted at ``path`` can drop (a network outage, ``umount -l``, a
cable): its mount point is then an empty folder on the camera machine's own disk,
and footage written there was reported uploaded while it never left the machine.
So the folder is marked as backup tools mark their repositories: the first upload
into a folder writes ``.quickcam-storage`` in it, and each upload first looks for
it. A folder without it is refused (uploads wait and retry, the error asks "is the
disk mounted?") when it is empty or missing while this uploader stored into it
before (seen the marker since start, or uploads in its ledger). A fresh empty
folder, and a folder of an older install that holds files, are marked and used.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from quickcam.common.durable import atomic_write
from quickcam.uploader.backends import PermanentError, RemoteFile, RetryableError, is_listed_name

MARKER = ".quickcam-storage"
MARKER_TEXT = (b"This folder is quickcam's storage. The uploader writes footage here only while this file is in it:\n"
               b"gone (a NAS or USB disk not mounted), uploads wait. Do not delete it.\n")


class LocalBackend:
    """Copies files into ``root`` durably: temp file, fsync, rename, fsync dir."""

    name = "local"

    def __init__(self, path: str | Path = "storage", bandwidth_kbit: float = 0) -> None:
        self.root = Path(path).expanduser().resolve()
        # Simulates a slow uplink (benchmarks, trying settings at home); 0 = unthrottled.
        self.bandwidth_kbit = float(bandwidth_kbit)  # options from the environment arrive as text
        # Whether footage was stored into this folder before this start (the uploader asks its ledger)
        self.stored_before: Callable[[], bool] = lambda: False
        self._marked = False  # the marker was seen (or written) since start

    @classmethod
    def from_config(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> LocalBackend:
        return cls(**options)

    def _inside(self, remote_key: str) -> Path:
        target = (self.root / remote_key).resolve()
        if self.root not in target.parents and not (target == self.root and remote_key in ("", ".")):
            raise PermanentError(f"remote key {remote_key!r} escapes the storage folder")
        return target

    def _check_marker(self) -> None:
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
                    f"is meant to start empty, create the marker: touch {marker}")
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_write(marker, f".{MARKER}.part") as out:
                out.write(MARKER_TEXT)
        except OSError as exc:
            raise RetryableError(f"local storage {self.root}: {exc.strerror or exc}") from exc
        self._marked = True

    def _empty(self) -> bool:
        with os.scandir(self.root) as entries:
            return not any(entries)

    def upload(self, local_path: Path, remote_key: str) -> str:
        target = self._inside(remote_key)
        self._check_marker()
        if self.bandwidth_kbit > 0:
            time.sleep(local_path.stat().st_size * 8 / (self.bandwidth_kbit * 1000))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(local_path, "rb") as src, atomic_write(target, f".{target.name}.part") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            # A full or unmounted disk is worth retrying: it may come back.
            raise RetryableError(f"local storage {self.root}: {exc.strerror or exc}") from exc
        return str(target)

    # -- reading back (quickcam view) -------------------------------------------------------
    def list_folders(self, prefix: str) -> list[str]:
        folder = self._inside(prefix)
        try:
            return sorted(p.name for p in folder.iterdir() if p.is_dir() and is_listed_name(p.name))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RetryableError(f"local storage {folder}: {exc.strerror or exc}") from exc

    def list_files(self, prefix: str) -> list[RemoteFile]:
        folder = self._inside(prefix)
        found = []
        try:
            for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise):
                dirnames[:] = [d for d in dirnames if is_listed_name(d)]
                rel = Path(dirpath).relative_to(self.root).as_posix()
                for name in filenames:
                    if is_listed_name(name):
                        size = os.stat(os.path.join(dirpath, name)).st_size
                        found.append(RemoteFile(f"{rel}/{name}" if rel != "." else name, size))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise RetryableError(f"local storage {folder}: {exc.strerror or exc}") from exc
        return sorted(found, key=lambda f: f.key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        target = self._inside(key)
        try:
            with open(target, "rb") as src:
                src.seek(start)
                return src.read() if end is None else src.read(max(0, end - start))
        except FileNotFoundError as exc:
            raise PermanentError(f"local storage: {key} is not there (deleted since it was listed?)") from exc
        except OSError as exc:
            raise RetryableError(f"local storage {target}: {exc.strerror or exc}") from exc


def _raise(exc: OSError) -> None:
    raise exc
