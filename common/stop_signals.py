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
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType


class StopSignals:
    """Notes SIGINT and SIGTERM; ``wait`` is the main loop's pause and sets ``stop`` once one came."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: list[int] = []  # appended by the handler: no lock, so safe wherever it runs
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._note)

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)

    def wait(self, seconds: float) -> bool:
        """Pause up to ``seconds``; True once the process is stopping (a signal came, or ``stop`` was set)."""
        if not self.received:
            time.sleep(seconds)  # a signal cuts it short only by running the handler: it resumes (PEP 475)
        if self.received:
            self.stop.set()
        return self.stop.is_set()
