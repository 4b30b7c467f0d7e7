"""Writing footage when the disk may be full: full recording, then reduced, then snapshots only.

A write that fails with ENOSPC, EDQUOT, EIO, EROFS, EACCES or EPERM never ends a stage and never
loses what is already in memory:

- a snapshot that cannot be written is kept in memory, the first (onset) and
  the newest one of each event, and written as soon as the disk takes it,
  before any segment; one in between that the newest replaces is dropped:
  counted (``snapshots_replaced``, and in ``quickcam status``), logged once
  per outage and in the line that says the disk takes writes again;
- a finished segment whose commit fails stays in the staging folder and is
  committed again later (its bytes are already on disk);
- a failed segment write steps the recording down a rung: full -> reduced (the
  disk budget's reduced format, docs/reliability.md) -> snapshots only. The
  frames not recorded are counted. Each step is a loud log line and the
  camera's status says it (``DISK FULL, recording snapshots only, 3 writes
  failed``).

Every ``PROBE_EVERY_S`` the record stage calls ``recover()``: held items are
written and a probe write is tried; once it works, full recording resumes with
the next frame, without a restart.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from quickcam.detector.outbox import MIB, Outbox

log = logging.getLogger(__name__)

# Full, over quota, failing, read-only, or not writable by us (a chmod, an ACL, a mount option): whatever
# the cause, the camera goes on and the writes are retried until the outbox takes them again.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM}
PROBE_EVERY_S = 0.5
PROBE_BYTES = 256 * 1024
MIN_FREE_BYTES = 2 * MIB  # below this, a probe is not even tried
MAX_HELD_SNAPSHOTS = 512  # unwritten snapshots kept in memory (two per event: its first and its newest)

FULL, REDUCED, SNAPSHOTS_ONLY = 0, 1, 2
RUNG_WORDS = {FULL: "full recording", REDUCED: "recording reduced", SNAPSHOTS_ONLY: "recording snapshots only"}


def disk_error(exc: BaseException) -> OSError | None:
    """The disk error (full, over quota, I/O error, read-only, permission denied) behind ``exc``, or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_ERRNOS:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _words(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "DISK FULL"
    return "OUTBOX NOT WRITABLE" if exc.errno in (errno.EACCES, errno.EPERM) else "DISK ERROR"


class DiskWrites:
    """The camera's writes into the outbox, and the recording rung they allow (thread-safe)."""

    def __init__(self, camera_id: str, outbox: Outbox) -> None:
        self.camera_id = camera_id
        self.outbox = outbox
        self.lock = threading.RLock()
        self.rung = FULL
        self.failed = 0  # writes that failed, since start
        self.replaced = 0  # snapshots dropped from memory for a newer one of the same event (since start)
        self._replaced_before = 0  # ... before this outage: the recovery line says how many this one cost
        self.unrecorded = 0  # frames not recorded because the disk refused them
        self.problem = ""  # "DISK FULL" / "DISK ERROR" while there is one
        self.cause = ""
        # (event, "first" | "newest") -> unwritten snapshot: an event's onset picture is never given up for a later one
        self._snapshots: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}
        self._segments: list[tuple[dict[str, Any], Path]] = []  # finished segments whose commit failed
        self._probe_at = 0.0
        self.lost_at_stop = 0  # snapshots still held in memory when the camera stopped: lost with the process

    # -- writes ----------------------------------------------------------------------
    def commit_snapshot(self, header: dict[str, Any], payload: bytes) -> bool:
        """Write a snapshot, or keep it in memory (first and newest per event) if the disk refuses; True if written."""
        what = f"snapshot {header.get('seq', 0)} of event {header.get('event')}"
        return self._commit(partial(self.outbox.commit_bytes, header, payload),
                            refused=partial(self._snapshot_refused, header=header, payload=payload, what=what),
                            hold=partial(self._hold_snapshot, header, payload))

    def _commit(self, write: Callable[[], object], refused: Callable[[OSError], None],
                hold: Callable[[], None]) -> bool:
        """The one write path of snapshots and segments; True if written now.

        The usual case writes without the lock, so detection never waits on a segment. While
        something is held, that is written first (oldest first) and this one is held behind it
        if the disk still refuses. A disk error goes to ``refused``; any other error is raised.
        """
        if not self.held():
            return self._try_write(write, refused)
        with self.lock:
            if self._flush():
                return self._try_write(write, refused)
            hold()
            return False

    def _try_write(self, write: Callable[[], object], refused: Callable[[OSError], None]) -> bool:
        try:
            write()
            return True
        except OSError as exc:
            if disk_error(exc) is None:
                raise
            with self.lock:
                refused(exc)
            return False

    def _snapshot_refused(self, exc: OSError, header: dict[str, Any], payload: bytes, what: str) -> None:
        self._failed(exc, what)
        self._hold_snapshot(header, payload)

    def _hold_snapshot(self, header: dict[str, Any], payload: bytes) -> None:
        """Keep an unwritten snapshot in memory: its event's first one, and the newest one after it.

        The first shows the onset (often the intruder's clearest moment, before they
        turn away); the newest shows where the event is now. Snapshots in between
        are given up, counted and logged.
        """
        with self.lock:
            event = str(header.get("event", ""))
            slot = (event, "newest") if (event, "first") in self._snapshots else (event, "first")
            older = self._snapshots.pop(slot, None)
            if older is not None:
                self._dropped(f"snapshot {older[0].get('seq')} of event {event}", "replaced in memory by the newer "
                              f"snapshot {header.get('seq')} (of each event only its first and newest are held)")
            elif len(self._snapshots) >= MAX_HELD_SNAPSHOTS:
                oldest = next(iter(self._snapshots))
                dropped, _ = self._snapshots.pop(oldest)
                self._dropped(f"snapshot {dropped.get('seq')} of event {oldest[0]}",
                              f"{MAX_HELD_SNAPSHOTS} snapshots are already held in memory")
            self._snapshots[slot] = (header, payload)

    def _dropped(self, what: str, why: str) -> None:
        """Count a snapshot given up; the first of an outage is logged, the rest only counted (one per snapshot
        interval of every event would flood the log) and totalled when the disk takes writes again."""
        self.replaced += 1
        if self.replaced - self._replaced_before == 1:
            log.warning("camera %s: %s was never written (the disk refused it) and is dropped: %s; further drops "
                        "are counted in quickcam status until the disk takes writes again", self.camera_id, what, why)

    def commit_segment(self, header: dict[str, Any], staged: Path) -> bool:
        """Commit a finished segment, or hold it in staging to retry; True if committed now."""
        return self._commit(partial(self._commit_staged, header, staged),
                            refused=partial(self._segment_refused, header=header, staged=staged),
                            hold=partial(self._segments.append, (header, staged)))

    def _segment_refused(self, exc: OSError, header: dict[str, Any], staged: Path) -> None:
        self._failed(exc, f"segment {header.get('seq')} of event {header.get('event')}")
        self.step_down(exc)
        self._segments.append((header, staged))

    def _commit_staged(self, header: dict[str, Any], staged: Path) -> None:
        final = self.outbox.root / f"{header['id']}.bin"
        try:
            self.outbox.commit_file(header, staged)
        except OSError:
            if final.exists() and not staged.exists():
                os.replace(final, staged)  # back to staging: committed later, or cleared at start-up
            raise

    def _flush(self) -> bool:
        """Write what is held (snapshots first, then segments, oldest first); True if nothing is left."""
        while self._snapshots:
            slot, (header, payload) = next(iter(self._snapshots.items()))
            try:
                self.outbox.commit_bytes(header, payload)
            except OSError as exc:
                if disk_error(exc) is None:
                    raise
                return False
            del self._snapshots[slot]
            log.warning("camera %s: snapshot %s of event %s written from memory", self.camera_id,
                        header.get("seq"), slot[0])
        while self._segments:
            header, staged = self._segments[0]
            try:
                self._commit_staged(header, staged)
            except OSError as exc:
                if disk_error(exc) is None:
                    raise
                return False
            self._segments.pop(0)
            log.warning("camera %s: segment %s of event %s committed after the disk took it", self.camera_id,
                        header.get("seq"), header.get("event"))
        return True

    def stop(self) -> None:
        """At the camera's stop: one last try to write what is held; what the disk still refuses is said and counted.

        The snapshots held in memory end with the process: each is counted as dropped (``snapshots_replaced``,
        ``quickcam status``) and ``lost_at_stop``; the segments stay in staging, committed at the next start if
        their header is beside them (``Outbox.commit_file`` writes it there first), else discarded.
        Before, they went in silence and the stop said the outbox was empty, all footage handed over (the native
        detector's words: ``DiskWrites::stop``).
        """
        with self.lock:
            if not self.held() or self._flush():
                return
            lost = len(self._snapshots)
            self.replaced += lost
            self.lost_at_stop += lost
            log.error("camera %s: stopping with %d snapshot(s) held in memory (lost) and %d segment(s) in .staging/ "
                      "(committed at the next start if their header could be written beside them, else discarded) "
                      "that the disk still refuses", self.camera_id, lost, len(self._segments))
            self._snapshots.clear()

    # -- the rung ----------------------------------------------------------------------
    def segment_failed(self, exc: OSError, frames_lost: int, what: str) -> None:
        """A segment could not be written: count it and step down a rung."""
        with self.lock:
            self.unrecorded += frames_lost
            self._failed(exc, what)
            self.step_down(exc)

    def not_recorded(self, frames: int = 1) -> None:
        with self.lock:
            self.unrecorded += frames

    def step_down(self, exc: OSError) -> None:
        with self.lock:
            if self.rung == SNAPSHOTS_ONLY:
                return
            self.rung += 1
            self.problem = _words(exc)
            log.error("camera %s: %s (%s); %s%s; %d write(s) failed so far; detection goes on, snapshots are "
                      "kept in memory and written when there is room, full recording resumes by itself",
                      self.camera_id, self.problem, exc.strerror or exc, RUNG_WORDS[self.rung],
                      " (half size, reduced frame rate)" if self.rung == REDUCED else "", self.failed)

    def _failed(self, exc: OSError, what: str) -> None:
        self.failed += 1
        self.problem = self.problem or _words(exc)
        self.cause = f"{exc.strerror or exc} writing {what}"
        if self.failed == 1 or self.failed % 50 == 0:
            log.error("camera %s: %s: cannot write %s (%s); %d write(s) failed so far", self.camera_id,
                      _words(exc), what, exc.strerror or exc, self.failed)

    def recover(self) -> None:
        """Every ``PROBE_EVERY_S`` while anything is held or reduced: write what is held, then probe."""
        now = time.monotonic()
        with self.lock:
            idle = self.rung == FULL and not self._snapshots and not self._segments
            if idle or now - self._probe_at < PROBE_EVERY_S:
                return
            self._probe_at = now
            if not self._flush():
                return
            dropped = self.replaced - self._replaced_before
            if self.rung != FULL:
                if not self._probe():
                    return
                log.warning("camera %s: the disk takes writes again (%.0f MB free); full recording resumes (%d "
                            "write(s) had failed, %d frame(s) not recorded, %d snapshot(s) dropped)", self.camera_id,
                            self._free() / MIB, self.failed, self.unrecorded, dropped)
                self.rung, self.problem, self.cause = FULL, "", ""
            elif dropped:  # only snapshots had been refused: they are written, say what it cost
                log.warning("camera %s: the disk takes writes again; %d snapshot(s) had been dropped meanwhile",
                            self.camera_id, dropped)
            self._replaced_before = self.replaced

    def _free(self) -> int:
        try:
            return shutil.disk_usage(self.outbox.root).free
        except OSError:
            return 0

    def _probe(self) -> bool:
        if self._free() < MIN_FREE_BYTES:
            return False
        probe = self.outbox.staging_path(f"probe-{self.camera_id}")
        try:
            with open(probe, "wb") as handle:
                handle.write(b"\0" * PROBE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
            return True
        except OSError:
            return False
        finally:
            probe.unlink(missing_ok=True)

    # -- status ----------------------------------------------------------------------
    def held(self) -> int:
        with self.lock:
            return len(self._snapshots) + len(self._segments)

    def fault(self) -> str:
        """'' when writing works; else the status words, e.g. 'DISK FULL, recording snapshots only, 3 writes failed'."""
        with self.lock:
            if self.rung == FULL and not self._snapshots and not self._segments:
                return ""
            words = [self.problem or "DISK FULL", RUNG_WORDS[self.rung]]
            if self._snapshots or self._segments:
                words.append(f"{len(self._snapshots)} snapshot(s) and {len(self._segments)} segment(s) held "
                             "until the disk takes them")
            if self.replaced > self._replaced_before:
                words.append(f"{self.replaced - self._replaced_before} snapshot(s) dropped")
            words.append(f"{self.failed} write(s) failed")
            return ", ".join(words)
