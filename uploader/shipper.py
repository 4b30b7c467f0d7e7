"""The shipper: moves spooled files to every destination, retrying until each confirms.

Retries back off exponentially with jitter. A destination that fails with a
retryable error is paused (a simple circuit breaker): nothing is sent to it
until its back-off, or the wait its server asked for (``Retry-After`` on a 429
or 503, ``RetryableError.retry_after_s``) if longer, has passed, so an outage or
a rate limit costs one attempt per back-off period, not one per file. The
back-off grows with the destination's consecutive failures and resets at its
first success. A spool file is deleted only when every destination has confirmed.
A destination failing without a success for longer than ``failing_after_s`` (the
bound of the ``storage_failing`` alert) is listed in the uploader's status file
(``failing_destinations``): a short outage or rate limit is normal, a long one
fails the health check (``common/health.py``). Each streak is kept in the ledger too
(``Ledger.destination_failed``), so a restarted uploader knows how long a destination has
been failing instead of starting its count again.
Before each upload the spool checks that the file is still whole; a damaged
one is set aside in ``spool/damaged/``, never uploaded as footage, and its
delivery marked failed (``quickcam status`` shows it).
Each upload runs in a thread of its own, one at a time per destination: one that has not ended
within ``UPLOAD_WAIT_S`` is left running and the round goes on to the other destinations, its outcome
recorded when it ends. Before, one destination whose server took an upload and never answered (a
trickled or lost answer: no read timeout fires) held every other destination's copies for good.
An upload under way longer than ``min(SLOW_SAY_S, failing_after_s)`` is said once and counts as
the destination failing from its start (the health check, after ``failing_after_s``).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from quickcam.common.cause_first import cause_then_where
from quickcam.common.protocol_schema import error_text
from quickcam.common.said_every import SaidEvery
from quickcam.uploader.backends import Backend, PermanentError
from quickcam.uploader.ledger import DAMAGED_SPOOL_FILE, Delivery, Item, Ledger
from quickcam.uploader.ledger_locked import LedgerLocked
from quickcam.uploader.spool import Spool

log = logging.getLogger(__name__)

RETRY_AFTER_CAP_S = 3600.0  # a server asking for longer is asked again after an hour
FAULT_WAIT_MIN_S, FAULT_WAIT_MAX_S = 0.2, 5.0  # between tries while the ledger cannot be written
UPLOAD_WAIT_S = 2.0  # a round waits this long for one upload before going on to the other destinations
SLOW_SAY_S = 90.0  # an upload under way this long is said (failing_after_s if shorter); past the SDKs' 60 s timeouts


class NoThread(Exception):
    """An upload's thread could not be started: the user's limit on processes and threads is reached.

    It was worded as the ledger's disk (``cannot update the ledger … (can't start new thread); free space on
    its disk``) with a traceback (bench/outside/FINDINGS.md #51, threads_limit.py).
    """

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot start a thread for an upload ({why}): this user's limit on processes and "
                         "threads is reached; raise it (ulimit -u, systemd's TasksMax=, a container's pids "
                         "limit) or stop what uses them")


@dataclass
class _Upload:
    """One upload running in its own thread; its outcome is written to the ledger by the shipper's thread."""

    delivery: Delivery
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    location: str = ""
    error: BaseException | None = None
    said: bool = False


class Shipper:
    def __init__(self, ledger_path: Path, backends: dict[str, Backend],
                 retry_base_s: float, retry_max_s: float, spool: Spool | None = None,
                 failing_after_s: float = 600.0) -> None:
        self.ledger_path = ledger_path
        self.backends = backends
        self.spool = spool  # checks each file before it leaves; None in tests of retries alone
        self.retry_base_s, self.retry_max_s = retry_base_s, retry_max_s
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.idle = threading.Event()
        self.paused: dict[str, tuple[float, int]] = {}  # destination -> (time.monotonic() it may be tried, failures)
        self.failing: dict[str, tuple[float, str]] = {}  # destination -> (monotonic of its first failure in a row, why)
        self.failing_after_s = failing_after_s
        # destination -> its failures' lines, at most one a minute, over its streaks (a flapping one wrote two a streak)
        self.failures_said: dict[str, SaidEvery] = {}
        self.streak_said: set[str] = set()  # destinations whose failing streak is in the log: so is its end
        self.recovered_quietly: dict[str, int] = {}  # destination -> streaks ended since its last line, not said
        self.uploading: dict[str, _Upload] = {}  # destination -> its upload still under way after UPLOAD_WAIT_S
        self.fault = ""  # why no upload can proceed at all (the ledger cannot be written); "" normally
        self._fault_wait = 0.0
        # Another program's lock on the ledger: the shipper's writes wait on for it, said after a few seconds
        # (the receiver writes the status file each second, this problem in it as a fault: uploader/app.py).
        self.ledger_locked = LedgerLocked(ledger_path, "shipper", "uploads wait", lambda: None)

    def backoff(self, attempts: int) -> float:
        return min(self.retry_max_s, self.retry_base_s * 2 ** min(attempts, 16)) * random.uniform(0.5, 1.0)

    def stop(self) -> None:
        """End ``run`` now: an idle shipper sleeps on ``wake`` (up to 1 s), which the stop must cut short."""
        self.stop_event.set()
        self.wake.set()

    def run(self) -> None:
        ledger = Ledger(self.ledger_path)
        ledger.on_locked = self.ledger_locked.waiting
        # An upload's outcome waits to be written, whoever holds the ledger up: never uploaded twice for it
        ledger.lock_wait_s = ledger.own_wait_s = float("inf")
        try:
            self._restore_streaks(ledger)
            while not self.stop_event.is_set():
                try:
                    worked = self.run_once(ledger)
                    wait = None if worked else ledger.next_due_in(skip=self._busy())
                    self.ledger_locked.check(ledger)
                except Exception as exc:  # the ledger's disk full or failing, or a bug: wait, never end the thread
                    self._failing(exc)
                    continue
                if self.fault and worked:  # a round that wrote to the ledger (and started its uploads' threads)
                    log.warning("shipper: %s; uploads go on", "an upload's thread starts again"
                                if "cannot start a thread" in self.fault else "the ledger takes updates again")
                    self.fault, self._fault_wait = "", 0.0
                if not worked:  # nothing due, or only for paused destinations: sleep until one may be tried
                    if not self.uploading:
                        self.idle.set()
                    wait = max(1.0 if wait is None else wait, self._pause_left())
                    self.wake.wait(timeout=min(1.0, max(0.05, wait)))
                    self.wake.clear()
                    self.idle.clear()
        finally:
            self._say_held(at_stop=True)
            ledger.close()

    def _restore_streaks(self, ledger: Ledger) -> None:
        """The failing streaks the ledger kept across a restart, on this process's monotonic clock.

        A destination no longer configured has no streak any more (its uploads went to the configured ones at start).
        """
        wall, mono = time.time(), time.monotonic()
        for dest, (since, why) in ledger.failing_streaks().items():
            if dest not in self.backends:
                ledger.destination_works(dest)
                continue
            self.failing[dest] = (mono - max(0.0, wall - since), why)  # (a clock stepped back: from now)
            log.warning("shipper: uploads to %s have been failing for %.0f s (before this start): %s",
                        dest, max(0.0, wall - since), cause_then_where(why))

    def _failing(self, exc: Exception) -> None:
        """One error line per outage (a traceback only for what is not a disk or database error), then a wait.

        Before, the first ``database or disk is full`` from the ledger ended the
        shipper thread: the uploader went on accepting footage into its spool and
        never uploaded again until it was restarted.
        """
        if isinstance(exc, NoThread):
            if not self.fault:
                log.error("shipper: %s; uploads wait and resume by themselves once one can be started", exc)
            self.fault = f"uploads stopped: {exc} (quickcam status shows when uploads go on)"
        else:
            expected = isinstance(exc, (sqlite3.Error, OSError))
            if not self.fault:
                log.error("shipper: cannot update the ledger %s (%s: %s); uploads wait and resume by themselves "
                          "once it can be written (free space on its disk)", self.ledger_path, type(exc).__name__,
                          exc, exc_info=not expected)
            self.fault = (f"uploads stopped: cannot update the ledger {self.ledger_path} ({exc}); "
                          "free space on its disk (quickcam status shows when uploads go on)")
        self._fault_wait = min(FAULT_WAIT_MAX_S, max(FAULT_WAIT_MIN_S, self._fault_wait * 2))
        self.stop_event.wait(self._fault_wait)

    def run_once(self, ledger: Ledger) -> bool:
        """Attempt every due delivery once; True if anything was attempted."""
        attempted, tripped = self._ended(ledger), set()  # a destination that failed is not tried again this round
        for delivery in ledger.due(skip=self._busy()):
            if self.stop_event.is_set() and delivery.item.kind != "log":
                break
            dest = delivery.destination
            if dest in tripped or dest in self.uploading:
                continue
            attempted = True
            item = delivery.item
            backend = self.backends.get(dest)
            if backend is None:
                ledger.mark_failed(item.id, dest, f"destination {dest!r} is no longer configured; restart the "
                                   "uploader: it moves such uploads to the configured destinations")
                continue
            if self.spool is not None and self._set_aside_if_damaged(self.spool, ledger, item, dest):
                continue
            upload = self._start(backend, delivery)
            if not upload.done.wait(UPLOAD_WAIT_S):
                self.uploading[dest] = upload  # the other destinations go on; recorded when it ends (_ended)
                continue
            if not self._record(ledger, upload):
                tripped.add(dest)
        self._say_slow(ledger)
        self._say_held()
        return attempted

    def _busy(self) -> set[str]:
        """The destinations not to be tried now: paused after a failure, or with an upload under way."""
        now = time.monotonic()
        return {dest for dest, (until, _) in self.paused.items() if until > now} | set(self.uploading)

    def _start(self, backend: Backend, delivery: Delivery) -> _Upload:
        """Run ``delivery``'s upload in a thread of its own; the shipper is woken when it ends."""
        upload = _Upload(delivery)

        def run() -> None:
            try:
                upload.location = backend.upload(Path(delivery.item.spool_path), delivery.item.remote_key)
            except BaseException as exc:  # recorded by the shipper's thread (_record), never lost
                upload.error = exc
            finally:
                upload.done.set()
                self.wake.set()

        try:
            threading.Thread(target=run, name=f"upload-{delivery.destination}", daemon=True).start()
        except RuntimeError as exc:  # "can't start new thread": said as what it is, not as the ledger's disk
            raise NoThread(str(exc)) from None
        return upload

    def _ended(self, ledger: Ledger) -> bool:
        """Record the uploads left running that have ended since; True if any had."""
        ended = [dest for dest, upload in self.uploading.items() if upload.done.is_set()]
        for dest in ended:
            self._record(ledger, self.uploading.pop(dest))
        return bool(ended)

    def _say_slow(self, ledger: Ledger) -> None:
        """Say once each upload under way too long, and count its destination failing from its start."""
        now = time.monotonic()
        for dest, upload in self.uploading.items():
            took = now - upload.started
            if upload.said or took < min(SLOW_SAY_S, self.failing_after_s):
                continue
            upload.said = True
            why = (f"an upload has been under way {took:.0f} s without an answer (a hung server or a very slow "
                   "link); the other destinations go on")
            log.warning("upload of %s to %s: %s", upload.delivery.item.id, dest, why)
            ledger.destination_failed(dest, why)
            self.failing.setdefault(dest, (upload.started, why))

    def _record(self, ledger: Ledger, upload: _Upload) -> bool:
        """Write an ended upload's outcome to the ledger; True if it succeeded."""
        item, dest, delivery = upload.delivery.item, upload.delivery.destination, upload.delivery
        location = upload.location
        if upload.error is not None:
            try:
                raise upload.error
            except PermanentError as exc:
                log.error("upload of %s to %s FAILED for good: %s (file kept; run `quickcam retry`)",
                          item.id, dest, cause_then_where(str(exc)))
                ledger.mark_failed(item.id, dest, str(exc))
                return True  # (not the destination's fault: the next item is tried)
            except Exception as exc:  # RetryableError, or a back-end bug: retried, never dropped
                wait = self._pause(dest, getattr(exc, "retry_after_s", None))
                why = error_text(str(exc))
                ledger.destination_failed(dest, why)
                self.failing[dest] = (self.failing.get(dest, (time.monotonic(), ""))[0], why)
                self._say_failure(dest, f"upload of {item.id} to {dest} failed (attempt {delivery.attempts + 1}): "
                                        f"{cause_then_where(str(exc))}; {dest} paused, retrying in {wait:.1f} s")
                ledger.mark_retry(item.id, dest, str(exc), wait)
                return False
        failures = self.paused.pop(dest, (0.0, 0))[1]
        since = self.failing.pop(dest, None)
        if since is not None:
            ledger.destination_works(dest)
        if failures and dest in self.streak_said:
            over = f" over {time.monotonic() - since[0]:.0f} s" if since is not None else ""
            log.info("%s: stored again after %d failed attempt(s)%s", dest, failures, over)
            self.streak_said.discard(dest)
            self.failures_said[dest].unsaid = 0  # this line counted them
        elif failures:  # a streak whose failures wait for the destination's next line: its end too
            self.recovered_quietly[dest] = self.recovered_quietly.get(dest, 0) + 1
        log.info("uploaded %s %s (%d bytes) to %s: %s", item.kind, item.id, item.size, dest, location)
        if ledger.mark_uploaded(item.id, dest, location):
            Path(item.spool_path).unlink(missing_ok=True)  # every destination has it now
        return True

    def _say_failure(self, dest: str, line: str) -> None:
        """Say a destination's failure in full, then at most a line a minute with the attempts since.

        One warning per attempt wrote ~1500 lines a day per destination down (60 s back-off), 102 for three
        20 s SFTP outages at ``retry_max_s = 2`` (bench/outside/FINDINGS.md, outside fault run 3). Every
        attempt stays counted in the ledger (``quickcam status``: its column retries). The minute is the
        destination's, not its streak's: one that fails and works by turns wrote a full line and a recovery
        line per streak; the streaks between its lines are counted in the next (or by ``_say_held``).
        """
        said = self.failures_said.setdefault(dest, SaidEvery())
        unsaid = said.unsaid + 1
        if said.said() is None:
            return
        self.streak_said.add(dest)
        if unsaid == 1:
            log.warning("%s", line)
        else:
            log.warning("%s: %d failed attempt(s) since the last line%s; latest: %s", dest, unsaid,
                        self._recovered_between(dest), line)

    def _recovered_between(self, dest: str) -> str:
        recovered = self.recovered_quietly.pop(dest, 0)
        return (f", in {recovered} streak(s) each ended by an upload that worked (it fails and works by turns)"
                if recovered else "")

    def _say_held(self, at_stop: bool = False) -> None:
        """Say the failures held back of each destination that works again, once its minute has passed (or at
        the stop): a destination that failed once within a minute of its last line, then kept working, had
        that failure in no line."""
        for dest, said in self.failures_said.items():
            if said.unsaid and dest not in self.failing and (at_stop or said.due()):
                unsaid, _ = said.unsaid, said.said()
                log.warning("%s: %d failed attempt(s) since the last line%s; it works now", dest, unsaid,
                            self._recovered_between(dest))

    def _pause(self, dest: str, retry_after_s: float | None) -> float:
        """Pause ``dest`` after a failure: its back-off, or the server's ``Retry-After`` if longer; the wait."""
        failures = self.paused.get(dest, (0.0, 0))[1]
        wait = self.backoff(failures)
        if retry_after_s:
            wait = max(wait, min(retry_after_s, RETRY_AFTER_CAP_S))
        self.paused[dest] = (time.monotonic() + wait, failures + 1)
        return wait

    def failing_destinations(self) -> list[dict[str, object]]:
        """Each destination failing since its last success: for how long, the bound, and its last error."""
        now = time.monotonic()
        return [{"destination": dest, "failing_for_s": round(now - since, 1), "failing_after_s": self.failing_after_s,
                 "error": why} for dest, (since, why) in sorted(dict(self.failing).items())]  # (another thread)

    def _pause_left(self) -> float:
        """Seconds until the first paused destination may be tried again (0 if none is paused)."""
        now = time.monotonic()
        left = [until - now for until, _ in self.paused.values() if until > now]
        return min(left) if left else 0.0

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
        ledger.mark_failed(item.id, dest, f"{DAMAGED_SPOOL_FILE}: {damage}")
        return True
