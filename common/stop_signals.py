"""SIGINT and SIGTERM turned into a process's stop by its main loop, never in the signal handler.

A Python signal handler runs in the main thread between two bytecodes, wherever
that thread was. The detector and the uploader used to call ``stop.set()`` in it,
while their main loop waited in ``stop.wait(0.2)``. ``Event.wait`` holds the
Event's own lock (not re-entrant) for a few bytecodes on its way in and out, and
a signal that came while the main thread was blocked getting that lock (another
thread in ``stop.wait`` held it) or the GIL with it was handled right there, lock
held: the handler's ``stop.set()`` then waited for the lock its own thread held,
for ever. The process ignored every later SIGTERM too, until the service manager
killed it, open segments and all (seen under load: the detector hung 30 s at
stop in ``tests/test_clock_jumps.py``).

So the handler only notes the signal (a list append takes no lock) and the main
loop, pausing in ``StopSignals.wait``, sets ``stop`` within one pause.

Until a handler is installed, Python leaves SIGTERM to the kernel, which ends the
process (exit -15) wherever it was. The uploader took half a second (more on a
loaded machine) to import its modules, load its config and build its parts before
its ``StopSignals``: a service manager's or a test's SIGTERM then killed it. So the
``quickcam`` entry point calls ``hold`` before its first slow import; ``StopSignals``
takes over what came meanwhile, and the process stops at its first look
(``StopSignals.came``), before it takes anything on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import NoReturn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Signals a user's scripts send meaning "reopen your logs" or "reload" (logrotate's `postrotate kill -USR1`,
# many daemons' convention): their default ended either process where it was, as a SIGKILL does (the detector's
# open segment lost in staging, the camera blind until a restart; bench/outside/FINDINGS.md #48). Said, ignored.
STRAY_SIGNALS = tuple(getattr(signal, name) for name in ("SIGUSR1", "SIGUSR2") if hasattr(signal, name))
# Noted by ``hold``'s handler until a StopSignals takes over; module-level as the handler it serves is.
_held: list[int] = []


def _hold_note(signum: int, _frame: FrameType | None) -> None:
    _held.append(signum)


def hold() -> None:
    """Note SIGINT and SIGTERM from now on, for the process's ``StopSignals`` to act on once it exists.

    Called by the entry point before its slow imports; only for a process whose main loop makes a
    ``StopSignals`` (a command that never does would ignore the signals it held).
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _hold_note)
    if hasattr(signal, "SIGHUP"):  # a hangup ended either process mid-start (the kernel's default); each
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # takes it over once set up (a reload, or a line)
    for signum in STRAY_SIGNALS:  # the same for these until ``stray_notes`` takes them over
        signal.signal(signum, signal.SIG_IGN)


def stray_notes() -> list[int]:
    """SIGUSR1 and SIGUSR2 noted in the list returned, for the process's main loop to say; neither is a stop.

    The handler only appends (logging from a handler could deadlock, as ``stop.set()`` did: above).
    """
    notes: list[int] = []
    for signum in STRAY_SIGNALS:
        signal.signal(signum, lambda got, _frame: notes.append(got))
    return notes


def say_stray(notes: list[int], process: str, what_goes_on: str) -> None:
    """Logs each signal ``stray_notes`` noted since the last call, one warning line each, and forgets them."""
    while notes:
        name = signal.Signals(notes.pop(0)).name
        logging.getLogger(f"quickcam.{process}").warning(
            "%s: %s ignored (not a signal quickcam acts on: a log rotation's or a reload's?): %s. Its logs are "
            "opened again by name on their own; its config and tokens.env are read at start only: restart it to "
            "apply a change; SIGTERM stops it", process, name, what_goes_on)


class StopSignals:
    """Notes SIGINT and SIGTERM; ``wait`` is the main loop's pause and sets ``stop`` once one came."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: list[int] = []  # appended by the handler: no lock, so safe wherever it runs
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._note)
        # Those ``hold`` noted, taken once this handler is in: none can fall between the two.
        self.received.extend(_held)
        _held.clear()

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)

    def came(self) -> str | None:
        """The name of the first stop signal received (``SIGTERM``), or None: checked once set-up is done."""
        return signal.Signals(self.received[0]).name if self.received else None

    def wait(self, seconds: float) -> bool:
        """Pause up to ``seconds``; True once the process is stopping (a signal came, or ``stop`` was set)."""
        if not self.received:
            time.sleep(seconds)  # a signal cuts it short only by running the handler: it resumes (PEP 475)
        if self.received:
            self.stop.set()
        return self.stop.is_set()


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once its logs are flushed, without the interpreter's teardown.

    Called by a process's entry point after its stop is complete (every file it keeps is
    written durably and closed, its threads are joined or given up on). The teardown that
    would follow is a full garbage collection of a heap of OpenCV, PyAV, pydantic and numpy
    objects, several times over: 0.1-0.3 s of CPU that does nothing for anyone. On a starved
    machine that became 4-6 s between the detector's last log line and its exit (16 busy
    loops on 2 cores), on top of the stop itself, against the service manager's 30 s.
    """
    logging.shutdown()  # flushes and closes the log handlers (the file one included)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream must not keep the process alive
            stream.flush()
    os._exit(code)
