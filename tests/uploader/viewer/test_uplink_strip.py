"""The viewer's uploader line is flagged whenever the uploader is expected but not working, not only NOT RUNNING.

Its strip flagged the line only when it said ``NOT RUNNING``: an uploader ``PAUSED`` (SIGSTOP) or ``NOT
ANSWERING`` (alive, holding its lock, its status file stale) read as unflagged text. A real process stands
in for the uploader (named quickcam on its command line, holding an ``flock`` as the uploader holds
``state/.lock``); its status file is written here, 30 s old.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from quickcam.uploader.viewer.uplink import UplinkStatus
from tests.waiting import wait_until

HOLDER = ("import fcntl, sys, time\nlock = open(sys.argv[1], 'w')\nfcntl.flock(lock, fcntl.LOCK_EX)\n"
          "print('ready', flush=True)\ntime.sleep(60)\n")


def _status(state: Path, pid: int, running: bool = True) -> None:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    (state / "status.json").write_text(json.dumps({
        "time": time.time() - 30, "monotonic": time.monotonic() - 30, "boot": boot, "pid": pid,
        "running": running, "interval_s": 1.0, "endpoint": "ipc://link/uploader.sock"}))


def test_a_paused_or_hung_uploader_is_flagged_and_one_stopped_cleanly_is_not(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(state / ".lock"), "quickcam-uploader"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        _status(state, holder.pid)
        line = UplinkStatus(state).lines()[0]
        assert line.bad and f"NOT ANSWERING (status 30 s old, pid {holder.pid} holds the lock" in line.text, line
        holder.send_signal(signal.SIGSTOP)
        assert wait_until(lambda: ") T " in Path(f"/proc/{holder.pid}/stat").read_text(), 10)
        line = UplinkStatus(state).lines()[0]
        assert line.bad and "PAUSED (its process is stopped" in line.text, line
        _status(state, holder.pid, running=False)
        line = UplinkStatus(state).lines()[0]
        assert not line.bad and "stopped 30 s ago" in line.text, line
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait(timeout=10)
