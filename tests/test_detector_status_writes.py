"""A status file either detector cannot write is counted, said once a streak, and shown by ``quickcam status``.

The detectors said the first failure of a streak, but counted none: once the file was written
again, nothing told how long ``quickcam status`` and the health check had been shown a stale
detector, nor how often. Now as the uploader and its alerts (``uploader/test_status_writes.py``),
through the same ``common/status_writes.py``: ``status_write_failures`` in the file, a line in
``quickcam status``, one warning a streak and one info line when it writes again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector
from tests.waiting import wait_until


@pytest.mark.parametrize("detector", ["python", "native"])
def test_failed_detector_status_writes_are_one_warning_a_streak_counted_and_shown_by_quickcam_status(
        tmp_path: Path, as_a_user: list[str], detector: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_FACES__ENABLED": "false"}
    argv = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    outbox, log_path = tmp_path / "outbox", tmp_path / "detector.log"
    status = outbox / "detector-status.json"
    # An uploader that acks everything: at stop the detector has nothing left to wait for (with none there it
    # waits 5 s for one to come).
    uploader = AckingPeer(env["QUICKCAM_LINK__ENDPOINT"])
    try:
        with open(log_path, "w") as log_file:  # without CAP_DAC_OVERRIDE: the outbox's mode holds for the detector
            proc = subprocess.Popen([*as_a_user, *argv, "--seconds", "60"], cwd=tmp_path, env=env,
                                    stdout=log_file, stderr=subprocess.STDOUT)
    except BaseException:
        uploader.close()
        raise
    log = log_path.read_text
    try:
        assert wait_until(status.is_file, 30), log()
        # The outbox takes no new name, and the file is gone: no write can make it again, nor rewrite it in place.
        outbox.chmod(0o500)
        status.unlink()
        assert wait_until(lambda: "status: cannot write" in log(), 30), log()
        time.sleep(2.5)  # the next write (every 2 s) fails too: a streak
        outbox.chmod(0o700)
        assert wait_until(lambda: "status: writing outbox/detector-status.json again" in log(), 30), log()
        failed = json.loads(status.read_text())["status_write_failures"]
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=30)
        assert proc.poll() is None, log()
    finally:
        outbox.chmod(0o700)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        uploader.close()
    warnings = [line for line in log().splitlines() if "status: cannot write" in line]
    assert len(warnings) == 1, warnings  # once, not every two seconds
    assert ("status: cannot write outbox/detector-status.json (Permission denied); quickcam status will show "
            "this detector as stale until it can") in warnings[0], warnings
    assert failed >= 2
    assert f"status: writing outbox/detector-status.json again ({failed} write(s) failed so far)" in log(), log()
    assert f"detector: {failed} status write(s) failed (each streak logged by the detector)" in shown.stdout, \
        shown.stdout + shown.stderr
    assert json.loads(status.read_text())["status_write_failures"] == failed  # the last write, at stop
