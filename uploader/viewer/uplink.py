"""The status strip: what the uploader on this machine says, read from its files only.

The uploader writes ``state/status.json`` and keeps ``state/ledger.sqlite3``; the viewer
reads both and never writes: the ledger is opened read-only, so a running uploader is
never blocked or changed by someone looking at footage.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from quickcam.common.health import liveness
from quickcam.uploader.cli import UPLOADER_STATUS_FILE, uploader_line


@dataclass(frozen=True)
class StripLine:
    text: str
    bad: bool = False


@dataclass
class UplinkStatus:
    """Reads the uploader's status file and ledger under ``state_dir``."""

    state_dir: Path
    _cache: tuple[float, list[StripLine]] = field(default=(0.0, []), repr=False)

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    def lines(self) -> list[StripLine]:
        """The strip, refreshed at most every 2 s."""
        now = time.time()
        if now - self._cache[0] < 2.0:
            return self._cache[1]
        lines = self._read(now)
        self._cache = (now, lines)
        return lines

    def _read(self, now: float) -> list[StripLine]:
        try:
            live = json.loads((self.state_dir / UPLOADER_STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            live = {}
        if not live:
            return [StripLine("uploader: not on this machine (no status file here)")]
        line = uploader_line(live, now)
        # not running, paused or not answering (a clean stop is said, not flagged)
        lines = [StripLine(line, bad=not liveness(live, now)[0] and bool(live.get("running", True)))]
        for row in self._destinations():
            backlog = row["pending"] + row["failed"]
            text = f"{row['destination']}: {row['uploaded']} uploaded, {row['pending']} waiting, {row['failed']} failed"
            if row["last_error"] and backlog:
                text += f"; last error: {row['last_error'][:120]}"
            lines.append(StripLine(text, bad=bool(row["failed"])))
        return lines

    def _destinations(self) -> list[dict]:
        rows: list[dict] = []
        db = self._connect()
        if db is None:
            return rows
        try:
            for dest, state, count in db.execute(
                    "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state"):
                row = next((r for r in rows if r["destination"] == dest), None)
                if row is None:
                    row = {"destination": dest, "pending": 0, "failed": 0, "uploaded": 0, "last_error": ""}
                    rows.append(row)
                if state in row:
                    row[state] = count
            for row in rows:
                found = db.execute("SELECT last_error FROM deliveries WHERE destination=? AND last_error!='' "
                                   "ORDER BY updated_at DESC LIMIT 1", (row["destination"],)).fetchone()
                row["last_error"] = found[0] if found else ""
        except sqlite3.Error:
            return []
        finally:
            db.close()
        return rows

    def sha256_of(self, item_ids: list[str]) -> dict[str, str]:
        """The SHA-256 the detector sent for each item, where this machine's ledger still has it."""
        db = self._connect()
        if db is None:
            return {}
        try:
            marks = ",".join("?" * len(item_ids))
            return dict(db.execute(f"SELECT id, sha256 FROM items WHERE id IN ({marks})", item_ids).fetchall())
        except sqlite3.Error:
            return {}
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection | None:
        if not self.ledger_path.is_file():
            return None
        with contextlib.suppress(sqlite3.Error):
            return sqlite3.connect(f"file:{self.ledger_path}?mode=ro", uri=True, timeout=1)
        return None
