"""A process paused (SIGSTOP: a debugger, a frozen container, a laptop lid) is said as paused, with its fix.

Found by ``bench/outside/uploader_paused.py`` (bench/outside/FINDINGS.md, session 20): the uploader
SIGSTOPped for minutes was `NOT RUNNING (last seen 80 s ago): start it (docker compose up -d
uploader, systemctl start quickcam-uploader)`, in ``quickcam status`` and the health check alike; its
process was there all along, and starting another is no fix. The real uploader, stopped and resumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.waiting import wait_until


def _status(pipe: Pipeline, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "status", *args], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30)


def test_a_paused_uploader_is_said_paused_with_kill_cont_as_its_fix(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local")
    uploader = pipe.start_uploader_listening()
    try:
        assert wait_until(lambda: _status(pipe, "--healthcheck", "uploader").returncode == 0, 30)
        os.kill(uploader.pid, signal.SIGSTOP)
        assert wait_until(lambda: _status(pipe, "--healthcheck", "uploader").returncode == 1, 30)
        check = _status(pipe, "--healthcheck", "uploader")
        assert "uploader PAUSED" in check.stderr and f"kill -CONT {uploader.pid}" in check.stderr, check
        assert "start it" not in check.stderr, check
        assert "uploader: PAUSED (its process is stopped, not gone" in _status(pipe).stdout
        os.kill(uploader.pid, signal.SIGCONT)
        assert wait_until(lambda: _status(pipe, "--healthcheck", "uploader").returncode == 0, 30), \
            _status(pipe, "--healthcheck", "uploader")
    finally:
        os.kill(uploader.pid, signal.SIGCONT)
        pipe.close()
