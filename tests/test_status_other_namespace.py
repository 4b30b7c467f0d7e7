"""A process in another pid namespace (another container) that hangs is ``NOT ANSWERING``, not ``NOT RUNNING``.

``quickcam status`` told a hung process from a gone one by its pid (alive here, holding an ``flock`` in
``/proc/locks``). A reader in another pid namespace (``docker compose run``, a second container on the
same volume) sees neither that pid nor its lock in ``/proc/locks``: a process alive but hung read
``NOT RUNNING``, with "start it" as the fix (a second one refuses the locked folder). And a reader that
sees the holder (the host, reading a container's volume) looked up the file's pid, which is the
container's. A real process stands in for the detector (named quickcam on its command line, holding
``outbox/.lock`` as the detector does), SIGSTOPped; its status file, 30 s old, names pid 1, its pid in a
container. The reader in another pid namespace is ``quickcam status`` under ``unshare --pid --fork``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline

HOLDER = ("import fcntl, sys, time\nlock = open(sys.argv[1], 'w')\nfcntl.flock(lock, fcntl.LOCK_EX)\n"
          "print('ready', flush=True)\ntime.sleep(60)\n")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10).returncode == 0


def _stale_status(outbox: Path) -> None:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    (outbox / "detector-status.json").write_text(json.dumps({
        "time": time.time() - 30, "monotonic": time.monotonic() - 30, "boot": boot, "pid": 1, "running": True,
        "interval_s": 2.0, "outbox": {"items": 0, "bytes": 0}, "link": {}, "cameras": {}}))


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare --pid --mount-proc (root)")
def test_a_hung_detector_in_another_pid_namespace_is_not_answering_while_its_lock_is_held(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    _stale_status(outbox)

    def status(*args: str, elsewhere: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*(UNSHARE if elsewhere else []), QUICKCAM, "status", *args], cwd=pipe.root,
                              env=pipe.env, capture_output=True, text=True, timeout=30)

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(outbox / ".lock"), "quickcam-detector"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        holder.send_signal(signal.SIGSTOP)
        report = status().stdout
        assert "detector: NOT ANSWERING (status 3" in report, report
        assert "s old, its lock held by a process in another pid namespace, another container: alive" in report, report
        check = status("--healthcheck", "detector")
        assert check.returncode == 1 and "detector NOT ANSWERING" in check.stderr, check
        assert "restart it (docker compose restart detector)" in check.stderr and "up -d" not in check.stderr, check
        # Here the holder is seen, under its own pid (not the file's 1): paused, with that pid to resume.
        check = status("--healthcheck", "detector", elsewhere=False)
        assert "detector PAUSED" in check.stderr and f"kill -CONT {holder.pid}" in check.stderr, check
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait(timeout=10)
    report = status().stdout  # the lock free: gone
    assert "detector: NOT RUNNING (last seen 3" in report, report
