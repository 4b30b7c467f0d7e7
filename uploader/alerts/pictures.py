"""Alert pictures kept on disk until delivered, so an alert retried after a restart still has its picture.

Only pictures that some target will attach (``attach_snapshot = true``) are
kept: the person who turned that on accepted the picture leaving the
encryption. They live in ``<state>/alert-pictures/`` (0700; files 0600), one
file per alert key, at most ``cap_bytes`` in all (the oldest go first, counted
and logged), and are deleted once no target still waits to deliver them.
File: one line of JSON (``key``, ``faces``), a newline, the JPEG bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from quickcam.common.durable import atomic_write
from quickcam.uploader.alerts.model import Alert

log = logging.getLogger(__name__)

PICTURES_DIR = "alert-pictures"
CAP_BYTES = 32 * 1024 * 1024  # ~300 snapshots at 100 KB; an outage of a day keeps the newest


class PictureStore:
    def __init__(self, state_dir: Path, cap_bytes: int = CAP_BYTES) -> None:
        self.folder = state_dir / PICTURES_DIR
        self.cap_bytes = cap_bytes
        self.evicted = 0

    def _path(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pic"

    def put(self, alert: Alert) -> None:
        """Keep ``alert``'s snapshot (and face boxes) under its key; an I/O error is logged, never raised."""
        if not alert.snapshot:
            return
        head = json.dumps({"key": alert.key, "faces": [list(box) for box in alert.faces]}).encode()
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self._path(alert.key)
            with atomic_write(path) as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(head + b"\n" + alert.snapshot)
            self._trim()
        except OSError as exc:
            log.warning("alerts: cannot keep the picture of %s in %s (%s); it is sent only if delivered before "
                        "a restart", alert.key, self.folder, exc.strerror or exc)

    def get(self, key: str) -> tuple[bytes, tuple[tuple[int, int, int, int], ...]] | None:
        """(JPEG, face boxes) kept for ``key``, or None."""
        try:
            data = self._path(key).read_bytes()
            head, _, jpeg = data.partition(b"\n")
            faces = tuple(tuple(int(v) for v in box) for box in json.loads(head)["faces"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("alerts: the kept picture of %s is unreadable (%s); the alert goes without it", key, exc)
            return None
        return jpeg, faces  # type: ignore[return-value]

    def discard(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("alerts: cannot delete the delivered picture of %s (%s)", key, exc.strerror or exc)

    def keep_only(self, keys: set[str]) -> None:
        """Delete the pictures of every key not in ``keys`` (delivered or given up while we were down)."""
        wanted = {self._path(key) for key in keys}
        try:
            for _, _, path in self._files():
                if path not in wanted:
                    path.unlink(missing_ok=True)
        except OSError as exc:  # leftovers cost disk, not alerts
            log.warning("alerts: cannot clear delivered pictures in %s (%s)", self.folder, exc.strerror or exc)

    def _files(self) -> list[tuple[int, int, Path]]:
        """(mtime ns, size, path) of each kept picture, oldest first; one deleted meanwhile is left out."""
        found = []
        for path in self.folder.glob("*.pic"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            found.append((info.st_mtime_ns, info.st_size, path))
        return sorted(found)

    def _trim(self) -> None:  # (OSError: logged by put)
        files = self._files()
        total = sum(size for _, size, _ in files)
        while total > self.cap_bytes and len(files) > 1:
            _, size, oldest = files.pop(0)
            total -= size
            oldest.unlink(missing_ok=True)
            self.evicted += 1
            log.warning("alerts: kept pictures exceed %d MiB; the oldest undelivered one was dropped (%d so far)",
                        self.cap_bytes >> 20, self.evicted)
