"""``tokens.env`` changed under the running uploader: said once, in the log and in ``quickcam status``.

Secrets are read at start only (``common/secrets.py``): the storage tokens, the encryption key and the
alert URLs built from them live in objects made then. A new key written into ``tokens.env`` was used
by no one until a restart, and nothing said so. It is not reloaded live here either (a key changed
in the middle of an event, or half-written by an editor, is worse than a restart); the person is told
to restart. Checked with a ``stat`` each turn of the main loop; the bytes are read only when it changes,
so a ``touch`` or an editor's save of the same text says nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)


class TokensWatch:
    """Notices the first change of ``tokens.env`` after start; ``note`` says it from then on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stat = self._stat_key()
        self._digest = self._read_digest()
        self.note = ""

    def check(self) -> None:
        if self.note:
            return  # said once: the restart it asks for clears it
        stat_key = self._stat_key()
        if stat_key == self._stat:
            return
        self._stat = stat_key
        digest = self._read_digest()
        if digest == self._digest:
            return
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stat_key[0] / 1e9 if stat_key else time.time()))
        what = "changed" if digest is not None else "was removed (or cannot be read)"
        self.note = f"{self.path} {what} at {when}; restart the uploader to use it"
        log.warning("uploader: %s (its secrets are read at start only: it still uses the ones it started with)",
                    self.note)

    def _stat_key(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)

    def _read_digest(self) -> bytes | None:
        try:
            with open(self.path, "rb") as handle:
                return hashlib.sha256(handle.read(1 << 20)).digest()
        except OSError:  # gone, a directory, unreadable: as at start, if it was so then
            return None
