"""The native detector's link error is shown as past once the uploader answers again, as the Python detector's.

Its status file says when the last error happened and when the link was healthy again
(``last_error_at``, ``error_cleared_at``, as ``detector/link_state.py``), so ``quickcam
status`` reads "last error 3 s ago, cleared 1 s ago: uploader silent for 1 s" on a link
that works, not a standing "last error: ..." for ever after a moment of silence.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from quickcam.uploader.cli import detector_line
from tests.conftest import private_endpoint
from tests.detector.test_link_errors import _MutableUploader
from tests.native_build import native_detector
from tests.waiting import wait_until


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet
        return {}


@pytest.mark.realtime  # the silence is three heartbeats on the wall clock
def test_a_native_uploader_silence_is_shown_as_past_with_its_time_once_the_uploader_answers_again(
        tmp_path: Path) -> None:
    endpoint = private_endpoint(tmp_path)
    Path(endpoint.removeprefix("ipc://")).parent.mkdir(mode=0o700, exist_ok=True)  # the peer binds first
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.2\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    peer = _MutableUploader(endpoint)
    detector = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "60"],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status = tmp_path / "outbox" / "detector-status.json"

    def link() -> dict:
        return _status(status).get("link", {})

    try:
        assert wait_until(lambda: link().get("connected"), 20), detector.stderr
        peer.muted.set()
        assert wait_until(lambda: link().get("last_error") and not link().get("connected"), 20)
        during = _status(status)
        assert during["link"]["last_error_at"] > 0 and during["link"]["error_cleared_at"] == 0, during["link"]
        peer.muted.clear()
        assert wait_until(lambda: link().get("connected") and link().get("error_cleared_at"), 20)
        after = _status(status)
    finally:
        detector.send_signal(signal.SIGKILL)
        detector.wait(timeout=10)
        peer.close()
    line_during = detector_line(during, during["time"])
    line_after = detector_line(after, after["time"])
    assert re.search(r"; last error: uploader silent for \d+ s$", line_during), line_during
    assert "last error: " not in line_after, line_after  # not current any more
    assert re.search(r"; last error \d+ s ago, cleared \d+ s ago: uploader silent for \d+ s$", line_after), line_after
    assert after["link"]["error_cleared_at"] >= after["link"]["last_error_at"] > 0
