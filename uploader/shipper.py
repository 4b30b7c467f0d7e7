"""The shipper: moves spooled files to every destination, retrying until each confirms.

Retries back off exponentially with jitter. A destination that fails with a
retryable error is skipped for the rest of the round (a simple circuit
breaker), so an outage costs one attempt per back-off period, not one per
file. A spool file is deleted only when every destination has confirmed.
Before each upload the spool checks that the file is still whole; a damaged
one is set aside in ``spool/damaged/``, never uploaded as footage, and its
delivery marked failed (``quickcam status`` shows it).
"""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path

from quickcam.uploader.backends import Backend, PermanentError
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.spool import Spool

log = logging.getLogger(__name__)


class Shipper:
    def __init__(self, ledger_path: Path, backends: dict[str, Backend],
                 retry_base_s: float, retry_max_s: float, spool: Spool | None = None) -> None:
        self.ledger_path = ledger_path
        self.backends = backends
        self.spool = spool  # checks each file before it leaves; None in tests of retries alone
        self.retry_base_s, self.retry_max_s = retry_base_s, retry_max_s
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.idle = threading.Event()

    def backoff(self, attempts: int) -> float:
        return min(self.retry_max_s, self.retry_base_s * 2 ** min(attempts, 16)) * random.uniform(0.5, 1.0)

    def run(self) -> None:
        ledger = Ledger(self.ledger_path)
        try:
            while not self.stop_event.is_set():
                worked = self.run_once(ledger)
                if not worked:
                    self.idle.set()
                    wait = ledger.next_due_in()
                    self.wake.wait(timeout=1.0 if wait is None else min(1.0, max(0.05, wait)))
                    self.wake.clear()
                    self.idle.clear()
        finally:
            ledger.close()

    def run_once(self, ledger: Ledger) -> bool:
        """Attempt every due delivery once; True if anything was attempted."""
        due = ledger.due()
        tripped: set[str] = set()
        for delivery in due:
            if self.stop_event.is_set() and delivery.item.kind != "log":
                break
            dest = delivery.destination
            if dest in tripped:
                continue
            item = delivery.item
            backend = self.backends.get(dest)
            if backend is None:
                ledger.mark_failed(item.id, dest, f"destination {dest!r} is no longer configured")
                continue
            if self.spool is not None and self._set_aside_if_damaged(self.spool, ledger, item, dest):
                continue
            try:
                location = backend.upload(Path(item.spool_path), item.remote_key)
            except PermanentError as exc:
                log.error("upload of %s to %s FAILED for good: %s (file kept; run `quickcam retry`)",
                          item.id, dest, exc)
                ledger.mark_failed(item.id, dest, str(exc))
                continue
            except Exception as exc:  # RetryableError, or a back-end bug: retried, never dropped
                wait = self.backoff(delivery.attempts)
                log.warning("upload of %s to %s failed (attempt %d): %s; retrying in %.1f s",
                            item.id, dest, delivery.attempts + 1, exc, wait)
                ledger.mark_retry(item.id, dest, str(exc), wait)
                tripped.add(dest)
                continue
            log.info("uploaded %s %s (%d bytes) to %s: %s", item.kind, item.id, item.size, dest, location)
            if ledger.mark_uploaded(item.id, dest, location):
                Path(item.spool_path).unlink(missing_ok=True)  # every destination has it now
        return bool(due)

    @staticmethod
    def _set_aside_if_damaged(spool: Spool, ledger: Ledger, item: Item, dest: str) -> bool:
        """True if the spool file is not whole: moved to spool/damaged/, never uploaded, delivery failed."""
        path = Path(item.spool_path)
        damage = spool.damage(path, item.message_id or item.id, item.size)
        if not damage:
            return False
        moved = spool.set_aside(path)
        log.error("NOT uploading %s %s to %s: %s%s; nothing else is affected (quickcam status lists it)",
                  item.kind, item.id, dest, damage, f"; moved to {moved}" if moved else "")
        ledger.mark_failed(item.id, dest, f"damaged spool file: {damage}")
        return True
