"""Which part of the uploader's own log has been queued for upload already.

The log is uploaded every ``log_upload_interval_s`` and at each stop; uploading
the whole file each time would store every line again and again (earlier runs
included). A cursor in the state folder remembers the file (by inode) and the
offset queued so far, so each upload carries only the lines written since. When
the log has been rotated (``run.uploader.log`` renamed to ``.1``), the rest of the
rotated file comes first, found by its inode.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from quickcam.common.durable import atomic_write

log = logging.getLogger(__name__)

CURSOR_FILE = "log-upload-cursor.json"
MAX_CHUNK = 16 * (1 << 20)  # one upload never carries more than this (a rotated file is 10 MB)


class LogCursor:
    """``unsent()`` the bytes not yet queued; ``advance()`` once they are in the spool and ledger."""

    def __init__(self, log_file: Path, state_dir: Path) -> None:
        self.log_file = log_file
        self.path = state_dir / CURSOR_FILE
        self._next: dict[str, int] | None = None

    def _saved(self) -> dict[str, int]:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            return {"inode": int(saved["inode"]), "offset": int(saved["offset"])}
        except FileNotFoundError:
            return {"inode": 0, "offset": 0}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("uploader: log upload cursor %s unreadable (%s); uploading the whole log again",
                        self.path, exc)
            return {"inode": 0, "offset": 0}

    def unsent(self) -> bytes:
        """The log bytes written since the last ``advance()`` (empty when there are none)."""
        saved = self._saved()
        current = self.log_file.stat()
        earlier = b""
        offset = saved["offset"]
        if saved["inode"] != current.st_ino:
            rotated = self._rotated(saved["inode"]) if saved["inode"] else None
            if rotated is not None:
                earlier = _read_from(rotated, offset, MAX_CHUNK)
            offset = 0
        if offset > current.st_size:
            offset = 0  # the file was truncated: everything in it is new
        fresh = _read_from(self.log_file, offset, MAX_CHUNK - len(earlier))
        self._next = {"inode": current.st_ino, "offset": offset + len(fresh)}
        return earlier + fresh

    def advance(self) -> None:
        """Record that what ``unsent()`` returned is queued."""
        if self._next is None:
            return
        with atomic_write(self.path) as out:
            out.write(json.dumps(self._next).encode())
        self._next = None

    def _rotated(self, inode: int) -> Path | None:
        for candidate in sorted(self.log_file.parent.glob(self.log_file.name + ".*")):
            try:
                if candidate.stat().st_ino == inode:
                    return candidate
            except OSError:
                continue
        return None


def _read_from(path: Path, offset: int, limit: int = MAX_CHUNK) -> bytes:
    with open(path, "rb") as src:
        src.seek(offset)
        return src.read(max(0, limit))
