"""An xdist worker's processes die with it: a killed worker leaves no detector or uploader running.

Tests start real processes (``Pipeline.start``, fake servers, ``quickcam`` commands) and stop them in
``finally`` blocks and fixtures; a worker killed (SIGKILL: CI's timeout, the out-of-memory killer, a
person) runs none of those, and its children ran on: detectors recording, uploaders holding ports and
sockets, into later runs on the same machine. So each worker leads a process group of its own, which
its children join (a process that makes its own session, ``run_script``'s, does not), and a small
watchdog outside the group kills the group once the worker has gone, however it ended (a clean end
too: what a test left running goes with it). Ctrl-C, which the terminal sends to its group (the
controller's, now alone), is sent on by the controller to each worker's group. Not for ``-n 0``: the
one pytest process then stays in the terminal's group, where Ctrl-C reaches it and its children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

# Waits for the worker (argv[1]) to end, then SIGKILLs its process group (argv[2]). A pidfd says at once when
# the worker ends; without one (a kernel before 5.3) its parent changing says it, looked at 5 times a second.
WATCHDOG = """
import os, select, signal, sys, time
worker, group = int(sys.argv[1]), int(sys.argv[2])
try:
    ended = select.poll()
    ended.register(os.pidfd_open(worker), select.POLLIN)
    ended.poll()
except (AttributeError, OSError):
    while os.getppid() == worker:
        time.sleep(0.2)
try:
    os.killpg(group, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def lead_own_group() -> subprocess.Popen:
    """Make this process the leader of a process group of its own, watched: the group is killed once it ends."""
    if os.getpgrp() != os.getpid():  # (a session's leader leads its group already, and may not change it)
        os.setpgid(0, 0)
    return subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(os.getpgrp())],
                            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def pytest_configure(config: pytest.Config) -> None:
    if sys.platform != "linux":  # (/proc, and pidfds where the kernel has them)
        return
    if hasattr(config, "workerinput"):  # an xdist worker (its controller stays in the terminal's group)
        config.stash[_WATCHDOG] = lead_own_group()
    elif config.getoption("numprocesses", None):  # their controller: Ctrl-C reaches it alone now
        signal.signal(signal.SIGINT, _forwarding(signal.getsignal(signal.SIGINT)))


def _forwarding(previous: Any) -> Callable[[int, FrameType | None], None]:
    """A SIGINT handler that sends it on to each worker's group (the tests and the processes they started stop as
    they did when Ctrl-C reached them all), then does what ``previous`` did."""
    def forward(signum: int, frame: FrameType | None) -> None:
        for group in _worker_groups():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGINT)
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt
    return forward


def _worker_groups() -> list[int]:
    """This process's children that lead a process group of their own (its xdist workers)."""
    groups = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # (after the command's name, which may hold spaces)
        except (OSError, IndexError):
            continue
        pid, parent, group = int(stat.parent.name), int(fields[1]), int(fields[2])
        if parent == os.getpid() and group == pid:
            groups.append(pid)
    return groups


_WATCHDOG = pytest.StashKey[subprocess.Popen]()
