"""The spool: encrypted files waiting for upload, written durably before any ack.

The uploader encrypts straight from the received bytes; plaintext never
touches its disk. A file is written to ``<id>.qsc.part``, fsynced, renamed and
the folder fsynced, so a crash leaves either a whole file or a ``.part`` that
is removed at start-up (the detector still holds that message and re-sends it).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from quickcam.common.cryptofile import Context, encrypt
from quickcam.common.durable import atomic_write

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        for part in root.glob("*.part"):
            log.warning("spool: removing incomplete %s left by a crash", part.name)
            part.unlink()

    def path_for(self, item_id: str) -> Path:
        return self.root / f"{item_id}.qsc"

    def store(self, item_id: str, plaintext: bytes, key: object, context: Context) -> Path:
        """Encrypt ``plaintext`` into the spool durably; returns the file's path."""
        final = self.path_for(item_id)
        with atomic_write(final) as handle:
            encrypt(plaintext, handle, key, context)
        return final

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*.qsc"))

    def room_problem(self, incoming: int = 0) -> str:
        """Why new data should not be accepted now, or '' if there is room."""
        if self.used_bytes() + incoming > self.max_bytes:
            return f"spool {self.root} is at its {self.max_bytes // (1 << 20)} MB cap; waiting for uploads"
        free = shutil.disk_usage(self.root).free
        if free < incoming + 64 * (1 << 20):
            return f"disk holding {self.root} has only {free // (1 << 20)} MB free"
        return ""
