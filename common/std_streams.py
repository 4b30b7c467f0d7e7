"""Standard streams a process was started without (``quickcam detector >&- 2>&-``) opened on /dev/null.

A closed descriptor 0, 1 or 2 is handed to the next file the process opens: the outbox's lock took
descriptor 1, and whatever wrote "to stdout" then wrote into it; with 2 closed, Python had no
``sys.stderr`` and the detector ended at its logging set-up (exit 1, not a word anywhere: the camera
blind), and the native detector's log lines went to a descriptor ZeroMQ had taken. Run first, before
any file is opened; what would have gone to a closed stream goes nowhere (the log file keeps it).
"""

from __future__ import annotations

import contextlib
import os
import sys


def open_missing_std_streams() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            spare = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if spare != fd:  # (only if a lower one was free, which the loop has just made not so)
                os.dup2(spare, fd)
                os.close(spare)
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:  # Python found the descriptor closed at its start
            with contextlib.suppress(OSError):
                stream = open(fd, mode, closefd=False, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
                setattr(sys, name, stream)  # for the life of the process
