"""Supervised loops: no exception ends a camera's stage for good, and each stage's health is known.

Each stage (capture, detection, recording) runs as one loop in its own thread.
The loop calls ``beat()`` every time it does something or wakes up idle; the
watchdog (``problem``) calls a loop stalled when its last beat is older than
its limit, and failed when its thread is gone without having finished.

An unexpected exception is logged once with its cause (with the traceback the
first time a cause is seen, then one line every ``REPEAT_LOG_S`` while it
repeats), counted, shown in status, and the loop is started again after a
backoff that doubles up to ``BACKOFF_MAX_S``. The stage object keeps its
state across restarts, so an event in progress carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from quickcam.common.protocol_schema import error_text

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
REPEAT_LOG_S = 60.0
HEALTHY_RUN_S = 30.0
RECENT_FAILURE_S = 10.0  # a loop that failed this recently is reported failing, even while restarted
MIN_STALL_S = 1.0  # a frame interval or three is below what a busy machine's scheduler can promise


@dataclass
class Loop:
    """One supervised loop and what the watchdog knows about it."""

    name: str
    run: Callable[[Loop], None]
    stall_s: float = MIN_STALL_S
    beat_at: float = field(default_factory=time.monotonic)
    errors: int = 0
    last_error: str = ""
    failed_at: float = -RECENT_FAILURE_S  # monotonic time of the last failure
    running: bool = False
    finished: bool = False
    watched: bool = True  # False while the loop is rightly quiet (e.g. waiting for a camera to come back)
    thread: threading.Thread | None = None

    def beat(self) -> None:
        self.beat_at = time.monotonic()

    def problem(self, now: float | None = None) -> str:
        """'' when healthy (or finished on purpose); else what is wrong, in words."""
        if self.finished:
            return ""
        if not self.running:
            return f"{self.name} loop not running" + (f" ({self.last_error})" if self.last_error else "")
        now = time.monotonic() if now is None else now
        if self.recently_failed(now):
            return f"{self.name} loop failing ({self.last_error}; {self.errors} failure(s) so far)"
        age = now - self.beat_at
        if self.watched and age > self.stall_s:
            return f"{self.name} loop stalled for {age:.1f} s"
        return ""

    def recently_failed(self, now: float) -> bool:
        """Failed within ``RECENT_FAILURE_S`` and restarted since: ``problem`` says it is failing."""
        return self.running and not self.finished and now - self.failed_at < RECENT_FAILURE_S

    def as_status(self) -> dict:
        return {"running": self.running, "finished": self.finished, "errors": self.errors,
                "last_error": self.last_error, "beat_s_ago": round(time.monotonic() - self.beat_at, 2)}


# Memory that runs out (an address-space or cgroup limit, a full machine: bench/outside/memory_squeeze.py) is said
# with the fix first, the library's words after it: it read ``MemoryError: Unable to allocate …`` (numpy), and in the
# native detector ``OpenCV(4.6.0) ./modules/core/src/alloc.cpp:73: error: (-4:Insufficient memory) …``.
# The native detector's twin: supervise.cpp's kOutOfMemory.
OUT_OF_MEMORY = ("out of memory: give the detector more memory (its limit: docker's mem_limit, systemd's MemoryMax=, "
                 "ulimit -v; or free some on this machine) or lower camera.width and camera.height")
OPENCV_NO_MEMORY = -4  # cv::Error::StsNoMem, OpenCV's "Insufficient memory"


def out_of_memory(exc: BaseException) -> str:
    """``OUT_OF_MEMORY`` with the library's detail for an exception that says memory ran out, else ""."""
    if isinstance(exc, MemoryError):
        return f"{OUT_OF_MEMORY} ({exc or 'MemoryError'})"
    if getattr(exc, "code", None) == OPENCV_NO_MEMORY and type(exc).__module__.startswith("cv2"):
        return f"{OUT_OF_MEMORY} ({getattr(exc, 'err', '') or exc})"
    return ""


def describe(exc: BaseException) -> str:
    """An exception as status shows it: ``Type: message`` (or ``out_of_memory``'s words), on one line and bounded
    (``error_text``)."""
    return error_text(out_of_memory(exc) or f"{type(exc).__name__}: {exc}")


class Supervisor:
    """Starts named loops in threads and restarts one that raises."""

    def __init__(self, owner: str) -> None:
        self.owner = owner  # e.g. "camera cam0", for the log
        self.loops: dict[str, Loop] = {}
        self._logged: dict[str, float] = {}

    def add(self, name: str, run: Callable[[Loop], None], stall_s: float = MIN_STALL_S) -> Loop:
        loop = Loop(name, run, max(MIN_STALL_S, stall_s))
        self.loops[name] = loop
        return loop

    def start(self) -> None:
        for loop in self.loops.values():
            loop.running = True
            loop.beat()
            loop.thread = threading.Thread(target=self._supervise, args=(loop,),
                                           name=f"{loop.name}-{self.owner.split()[-1]}", daemon=True)
            loop.thread.start()

    def join(self, timeout: float, skip: tuple[str, ...] = ()) -> None:
        """Wait up to ``timeout`` for every loop's thread, but those named in ``skip`` (given up on)."""
        deadline = time.monotonic() + timeout
        for loop in self.loops.values():
            if loop.thread is not None and loop.name not in skip:
                loop.thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def finished(self) -> bool:
        return all(loop.thread is not None and not loop.thread.is_alive() for loop in self.loops.values())

    def problems(self) -> list[str]:
        now = time.monotonic()
        return [p for p in (loop.problem(now) for loop in self.loops.values()) if p]

    def _supervise(self, loop: Loop) -> None:
        backoff = BACKOFF_FIRST_S
        try:
            while True:
                started = time.monotonic()
                try:
                    loop.run(loop)
                    loop.finished = True
                    return
                except Exception as exc:  # a bug or a fault in one stage must not blind the camera
                    loop.errors += 1
                    loop.last_error = describe(exc)
                    loop.failed_at = time.monotonic()
                    if time.monotonic() - started > HEALTHY_RUN_S:
                        backoff = BACKOFF_FIRST_S  # it had worked for a while: a new fault, not the same one
                    self._report(loop, exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                loop.beat()
        finally:
            loop.running = False

    def _report(self, loop: Loop, exc: Exception, backoff: float) -> None:
        cause = f"{loop.name}:{type(exc).__name__}:{exc}"
        now = time.monotonic()
        first = cause not in self._logged
        if first:
            log.error("%s: %s loop failed (%s); restarting it in %.1f s (failure %d)", self.owner, loop.name,
                      loop.last_error, backoff, loop.errors, exc_info=None if out_of_memory(exc) else exc)
        elif now - self._logged[cause] >= REPEAT_LOG_S:
            log.error("%s: %s loop still failing (%s); %d failures so far; restarting it in %.1f s",
                      self.owner, loop.name, loop.last_error, loop.errors, backoff)
        else:
            return
        self._logged[cause] = now
