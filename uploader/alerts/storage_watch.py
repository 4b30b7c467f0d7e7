"""The storage rules: a destination failing too long, footage waiting too long.

Fed the ledger's per-destination summary (``Ledger.summary()`` rows) now and
then; raises ``storage_failing`` once per destination and episode, and
``backlog`` once until the backlog has emptied (docs/alerts.md).
"""

from __future__ import annotations

import time
from typing import Any

from quickcam.uploader.alerts.model import Alert


def clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class StorageWatch:
    def __init__(self, failing_after_s: float, backlog_after_s: float) -> None:
        self.failing_after_s = failing_after_s
        self.backlog_after_s = backlog_after_s
        self._failing_since: dict[str, float] = {}
        self._failing_alerted: set[str] = set()
        self._backlog_alerted = False
        self.due_in_s = min(failing_after_s, backlog_after_s)  # from the last rows: read them again by then

    def shift(self, seconds: float) -> None:
        """The wall clock stepped by ``seconds``: failing periods keep their length (AlertRules.shift)."""
        self._failing_since = {dest: since + seconds for dest, since in self._failing_since.items()}

    def feed(self, t: float, rows: list[dict[str, Any]]) -> tuple[list[Alert], float]:
        """The alerts these rows raise, and the age of the oldest footage not yet everywhere."""
        alerts = [a for row in rows if (a := self._destination(t, row))]
        oldest = max((float(r.get("oldest_pending_s", 0)) for r in rows if r.get("pending")), default=0.0)
        if oldest >= self.backlog_after_s and not self._backlog_alerted:
            self._backlog_alerted = True
            alerts.append(Alert(
                "backlog", f"backlog:{int(t * 1000)}", "", "Footage waiting to upload",
                f"The oldest footage has waited {oldest:.0f} s to be uploaded ({clock(t)}).", t,
                facts={"oldest_pending_s": round(oldest, 1)}))
        elif oldest == 0.0:
            self._backlog_alerted = False
        self.due_in_s = self._due_in(t, oldest)
        return alerts, oldest

    def _due_in(self, t: float, oldest: float) -> float:
        """Seconds until an alert could fall due, were the rows to stay as they are; a failure or an item new
        right after them, at the earliest after its whole delay. The service reads the summary again by then
        (and at least every few seconds): at a small delay, a fixed step made the alert late by up to the step."""
        due = self.failing_after_s
        if not self._backlog_alerted:  # else not before the backlog empties (seen at a read) and fills again
            due = min(due, self.backlog_after_s - oldest)
        for dest, since in self._failing_since.items():
            if dest not in self._failing_alerted:
                due = min(due, since + self.failing_after_s - t)
        return max(0.0, due)

    def _destination(self, t: float, row: dict[str, Any]) -> Alert | None:
        dest = str(row.get("destination", "?"))
        if not (row.get("last_error") and (row.get("pending") or row.get("failed"))):
            self._failing_since.pop(dest, None)
            self._failing_alerted.discard(dest)
            return None
        # since the streak the shipper keeps in the ledger (it outlives a restart: the alert's key and its
        # "failing for" are the same as before it), else since this watch first saw the failure
        since = self._failing_since.setdefault(dest, float(row.get("failing_since") or t))
        if t - since < self.failing_after_s or dest in self._failing_alerted:
            return None
        self._failing_alerted.add(dest)
        return Alert(
            "storage_failing", f"storage_failing:{dest}:{int(since * 1000)}", "", f"Storage {dest} failing",
            f"Uploads to {dest} have been failing for {t - since:.0f} s; footage waits safely in the spool. "
            f"Last error: {str(row.get('last_error'))[:200]}", t,
            facts={"destination": dest, "pending": row.get("pending", 0)})
