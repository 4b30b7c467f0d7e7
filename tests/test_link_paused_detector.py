"""A detector that was stopped (SIGSTOP) and resumed says it was paused; it does not blame the uploader.

Its link judged silence by the monotonic clock alone, which runs on while the process is
stopped: a detector stopped for 30 s and resumed logged ``uploader silent for 38 s``, of an
uploader that had answered every heartbeat it was sent. A real silence is still called one
(``tests/detector/test_link_errors.py``, ``tests/test_native_link_errors.py``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer
from tests.native_build import native_detector
from tests.waiting import wait_until

PAUSE_S = 4.0  # past the link's 2 s floor and three 0.5 s heartbeats


def _link(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "outbox" / "detector-status.json").read_text()).get("link", {})
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet
        return {}


@pytest.mark.realtime  # the pause is measured on the clock
@pytest.mark.parametrize("which", ["python", "native"])
def test_a_detector_resumed_after_sigstop_says_it_was_paused_and_does_not_call_the_uploader_silent(
        tmp_path: Path, which: str) -> None:
    command = [QUICKCAM, "detector"] if which == "python" else [str(native_detector())]
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.5\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    peer = UploaderPeer(endpoint)  # answers every heartbeat
    log_file = tmp_path / "detector.log"
    with open(log_file, "w") as log_to:
        detector = subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "120"], cwd=tmp_path,
                                    env=env, stdout=log_to, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: _link(tmp_path).get("connected"), 60), log_file.read_text()
        detector.send_signal(signal.SIGSTOP)
        time.sleep(PAUSE_S)
        detector.send_signal(signal.SIGCONT)
        assert wait_until(lambda: "this detector was paused" in log_file.read_text(), 20), log_file.read_text()
        assert wait_until(lambda: _link(tmp_path).get("connected"), 20), log_file.read_text()
    finally:
        detector.send_signal(signal.SIGCONT)
        detector.terminate()
        detector.wait(timeout=60)
        peer.close()
    log = log_file.read_text()
    # (a loaded machine may keep the peer from answering for a moment: a real silence, a second or so)
    blamed = [int(s) for s in re.findall(r"uploader silent for (\d+) s", log)]
    assert all(seconds < PAUSE_S - 1 for seconds in blamed), log  # before: "uploader silent for 4 s"
    paused = [line for line in log.splitlines() if "this detector was paused for" in line]
    assert len(paused) == 1, log
    seconds = int(paused[0].split("paused for ")[1].split(" s")[0])
    assert PAUSE_S - 1 <= seconds <= PAUSE_S + 3, paused
    assert "reconnecting" in paused[0], paused
