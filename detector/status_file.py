"""The detector's status file: what ``quickcam status`` shows about this side.

Every few seconds the detector writes ``<outbox>/detector-status.json`` (temp
file + rename, so a reader never sees half of it): each camera's state, frame
rate, dark mode and last event, the outbox depth, the link to the uploader, and
how many writes of this file failed (``status_write_failures``: each streak is
one warning in the log, and ``quickcam status`` shows the count).
It is a plain file so that ``quickcam status`` (and the container health check)
can read it without importing the detector; the uploader gets the same camera
figures over the wire in ``status`` heartbeats.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quickcam.common.durable import write_status
from quickcam.common.health import written_stamp
from quickcam.common.status_writes import COUNTER, note_status_write
from quickcam.detector.clock import ahead_s as clock_ahead_s

if TYPE_CHECKING:
    from quickcam.common.config import RecordingConfig
    from quickcam.detector.link import UploaderLink
    from quickcam.detector.outbox import Outbox
    from quickcam.detector.pipeline import CameraPipeline

log = logging.getLogger(__name__)

STATUS_FILE_NAME = "detector-status.json"  # uploader/cli.py reads it by this name
INTERVAL_S = 2.0
CHANGE_POLL_S = 0.25  # how often the writer looks for a camera's change of state between two writes
HEALTHY_STATES = ("ok", "ended")  # common/health.py reads the same words


def status_path(outbox_dir: Path) -> Path:
    return outbox_dir / STATUS_FILE_NAME


def build_status(cameras: dict[str, dict[str, Any]], outbox_depth: tuple[int, int], refused: int,
                 link: dict[str, Any], running: bool = True, now: float | None = None) -> dict[str, Any]:
    """The status document, from plain values (the pure part, tested without threads)."""
    items, size = outbox_depth
    return {
        **(written_stamp() if now is None else {"time": now}),  # tests give ``now``: then no monotonic age
        "pid": os.getpid(),
        "running": running,
        "interval_s": INTERVAL_S,  # the health check calls this file stale after a few intervals
        "cameras": cameras,
        "outbox": {"items": items, "bytes": size, "refused": refused},
        "link": link,
    }


class NotOkClock:
    """Stamps each camera that is not ok with how long it has not been: ``not_ok_for_s`` and ``not_ok_since``.

    The health check (``quickcam status --healthcheck``) allows a camera a grace
    before it fails the container, so a camera that reconnects within seconds
    does not restart anything, while one that stays blind does; it needs to know
    since when, and only the detector, which writes every two seconds, can tell.
    The duration is measured on the monotonic clock (a wall clock stepped back an
    hour must not hide a blind camera for that hour); ``not_ok_since`` (epoch
    seconds) is the label for people.
    """

    def __init__(self) -> None:
        self._since: dict[str, float] = {}  # time.monotonic() when each camera stopped being ok

    def stamp(self, cameras: dict[str, dict[str, Any]], now: float, monotonic: float | None = None) -> None:
        """``now`` on the wall clock, ``monotonic`` on the monotonic clock (``now`` stands for both if not given)."""
        monotonic = now if monotonic is None else monotonic
        for camera_id, info in cameras.items():
            if info.get("state") in HEALTHY_STATES:
                self._since.pop(camera_id, None)
            else:
                for_s = monotonic - self._since.setdefault(camera_id, monotonic)
                info["not_ok_for_s"], info["not_ok_since"] = round(for_s, 1), now - for_s


class DownClock:
    """How long the link to the uploader has been down as of each write: ``link.down_for_s`` (0 while connected).

    The health check fails a detector whose footage waits with the link down for longer than
    ``link.unsent_after_s``: nothing else speaks when the uploader is gone. A detector starts with its link
    down. Measured on the monotonic clock; the writer sees a change of ``connected`` within a poll.
    """

    def __init__(self, monotonic: float) -> None:
        self._since: float | None = monotonic

    def down_for_s(self, connected: bool, monotonic: float) -> float:
        if connected:
            self._since = None
            return 0.0
        self._since = monotonic if self._since is None else self._since
        return round(monotonic - self._since, 1)


class StatusFileWriter:
    """Writes ``collect()`` to ``path`` every ``interval_s`` in a daemon thread, and once more at stop.

    A write that fails is counted (``status_write_failures`` in the file, once a write gets through:
    ``quickcam status`` shows it) and said once a streak (``common/status_writes.py``, as the uploader's).
    """

    def __init__(self, path: Path, collect: Callable[[bool], dict[str, Any]],
                 interval_s: float = INTERVAL_S, changes: Callable[[], object] = tuple,
                 intact: Callable[[], bool] = lambda: True) -> None:
        self.path = path
        self.collect = collect
        self.interval_s = interval_s
        self.changes = changes  # a cheap summary of the cameras' states: a new one is written at once
        self.intact = intact  # False: what the write mends (a deleted outbox) is broken, written within a poll
        self.counters: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-file", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, join_s: float = 5.0) -> None:
        """The thread's last write, saying the detector is not running, waited for at most ``join_s``.

        The thread makes it, not the caller: a write stuck on a disk that stopped answering (a hung NFS
        mount, a USB disk in a reset) holds that thread, never the stop, which goes on without it (said
        once). Made by the caller, it held the process for as long as the disk did, past its budget.
        """
        self._stop.set()
        self._thread.join(timeout=join_s)
        if self._thread.is_alive():
            log.error("status: the write of %s has not returned %.0f s after the stop (a disk that stopped "
                      "answering?); stopping without the last status (running: false): quickcam status shows "
                      "this detector as stale", self.path, join_s)

    def _run(self) -> None:
        mend_pause_s = 0.0  # after a failed write: 0.25 s, doubling up to the interval
        while not self._stop.is_set():
            before = self.changes()
            wrote = self._write(running=True)
            after = self.changes()
            # Changed while writing: watched from the state after it, written again within a poll.
            now = time.monotonic()
            until = now + (self.interval_s if after == before else CHANGE_POLL_S)
            # A write that failed (the outbox deleted during it, or one that cannot be made) is tried again for
            # what it mends after a pause doubling up to the interval: the deletion mid-write is mended within a
            # poll, and an outbox that cannot be made is not tried four times a second.
            mend_pause_s = 0.0 if wrote else min(max(mend_pause_s * 2, CHANGE_POLL_S), self.interval_s)
            self._wait_for_change(after, until, mend_from=now + mend_pause_s)
        self._write(running=False)

    def _wait_for_change(self, seen: object, until: float, mend_from: float = 0.0) -> None:
        """Until ``until``, the stop, a change of the cameras' states, or (from ``mend_from``) something the write
        mends broken (the outbox deleted): looked at every ``CHANGE_POLL_S``.

        A camera opened, lost, an event started or ended, a fault: written at once, not up to 2 s later,
        for ``quickcam status`` (and the tests that wait on the file). A deleted outbox is made and locked again
        within a poll whenever it went, even during a write, which a comparison of states cannot see (broken
        before the write and broken again after it: no change; the lock waited 2 s).
        """
        while not self._stop.wait(min(CHANGE_POLL_S, max(0.0, until - time.monotonic()))):
            now = time.monotonic()
            if now >= until or self.changes() != seen or (now >= mend_from and not self.intact()):
                return

    def _write(self, running: bool) -> bool:
        """True if the status was written."""
        try:
            status = {**self.collect(running), COUNTER: self.counters[COUNTER]}
            moved = write_status(self.path, status)
        except Exception as exc:  # a bug in collecting must not end the status thread either
            self._failing = note_status_write(log, "status", self.path, exc, self.counters, self._failing,
                                              "quickcam status will show this detector as stale")
            return False
        self._failing = note_status_write(log, "status", self.path, None, self.counters, self._failing, moved=moved)
        return True


def link_status(link: UploaderLink) -> dict[str, Any]:
    """The link's part of the status: its last error with when it happened, and when it cleared (0: it stands)."""
    state = link.state
    return {"endpoint": link.config.endpoint, "connected": state.connected,
            "acked": state.acked, "retransmits": state.retransmits, "malformed": state.malformed,
            "unreadable": state.unreadable, "too_large": state.too_large, "too_large_now": state.too_large_now,
            "hello_refused": state.hello_refused, "rejected": state.rejected,
            "bad_status": state.bad_status,
            "in_flight": len(state.in_flight), "last_error": state.last_error,
            "last_error_at": state.last_error_at, "error_cleared_at": state.error_cleared_at}


def for_detector(outbox: Outbox, pipelines: list[CameraPipeline], link: UploaderLink,
                 recording: RecordingConfig | None = None,
                 extra: Callable[[], dict[str, Any]] | None = None) -> StatusFileWriter:
    """The writer for a running detector: its outbox, camera pipelines, uploader link (and ``extra`` keys)."""
    clock, down = NotOkClock(), DownClock(time.monotonic())

    def collect(running: bool) -> dict[str, Any]:
        outbox.ensure_folders()  # a deleted outbox is noticed (and made again) within one interval
        cameras = {p.camera.id: p.status() for p in pipelines}
        status = build_status(cameras, outbox.depth(), link.state.refused + outbox.set_aside, link_status(link),
                              running)
        monotonic = time.monotonic()
        clock.stamp(cameras, status["time"], monotonic)
        status["outbox"]["oldest_s"] = outbox.oldest_s(status["time"])  # footage waiting: the health check
        status["link"]["down_for_s"] = down.down_for_s(link.state.connected, monotonic)
        status["link"]["unsent_after_s"] = link.config.unsent_after_s  # ... and its bound
        # The disk budget policy (docs/reliability.md), as of now, not as of the last segment.
        status["outbox"]["over_budget"] = outbox.recheck_budget(recording) if recording else outbox.over_budget
        status["clock_ahead_s"] = clock_ahead_s()  # footage times after the system clock stepped back
        status["outbox"]["deleted"] = outbox.deleted  # items whose files someone deleted under us (ensure_folders)
        if extra is not None:
            status.update(extra())  # low_power, console
        return status

    def changes() -> tuple[object, ...]:  # attributes: looked at four times a second
        return (link.state.connected, *(camera_changes(p) for p in pipelines))

    return StatusFileWriter(status_path(outbox.root), collect, changes=changes, intact=outbox.intact)


def camera_changes(pipeline: CameraPipeline) -> tuple[object, ...]:
    """What of a camera's state, changed, has its status file written at once: opened or lost, an event started
    or ended, a fault (the view, a failed open, the disk's mode, a snapshot that failed)."""
    stats = pipeline.stats
    return (stats.state, stats.recording, stats.events, stats.view, stats.opened, stats.open_error, stats.lost_why,
            stats.snapshots_failed, pipeline.disk.problem, pipeline.disk.rung)
