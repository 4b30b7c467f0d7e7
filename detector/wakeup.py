"""A wake-up pipe that a ``zmq.Poller`` waits on beside its sockets: any thread can wake the loop.

The uploader link sleeps in one poll until something is due; a new outbox item
(committed by a camera's thread) or ``stop()`` must cut that sleep short, and a
``threading.Event`` cannot be polled together with ZeroMQ sockets. A pipe's
read end can: a byte written wakes the poll.
"""

from __future__ import annotations

import contextlib
import os
import threading


class WakePipe:
    """``fd`` goes into the poller; ``wake()`` from any thread; ``drain()`` when it polled ready."""

    def __init__(self, fds: tuple[int, int] | None = None) -> None:
        self.fd, self._write_fd = os.pipe() if fds is None else fds
        if self._write_fd >= 0:
            os.set_blocking(self.fd, False)
            os.set_blocking(self._write_fd, False)
        self._lock = threading.Lock()  # never write to a closed descriptor (its number may be reused)

    @classmethod
    def closed(cls) -> WakePipe:
        """One that holds no descriptor (a loop not started): ``wake()`` does nothing."""
        return cls((-1, -1))

    def wake(self) -> None:
        """A byte in the pipe; a full pipe is awake already, a closed one is ignored."""
        with self._lock, contextlib.suppress(BlockingIOError):
            if self._write_fd >= 0:
                os.write(self._write_fd, b"\0")

    def drain(self) -> None:
        """Empty the pipe (the loop's thread, after its poll said ready); a closed pipe has nothing to drain."""
        with contextlib.suppress(BlockingIOError):
            while self.fd >= 0 and os.read(self.fd, 4096):
                pass

    def close(self) -> None:
        """Close both ends and forget their numbers: the next descriptor opened may get them."""
        with self._lock:
            if self._write_fd >= 0:
                os.close(self._write_fd)
                os.close(self.fd)
                self._write_fd = self.fd = -1
