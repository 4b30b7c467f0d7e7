"""A status file the uploader cannot write is said: one warning a streak, counted, and in ``quickcam status``.

It was logged at debug level only: ``quickcam status`` and the health check called a running
uploader NOT RUNNING, and its log said nothing of why. The alerts service's own status file
does the same (``alerts/test_status_writes.py``), through the same ``common/status_writes.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM, private_endpoint
from tests.waiting import wait_until


def test_failed_status_writes_are_one_warning_a_streak_counted_and_shown_by_quickcam_status(
        tmp_path: Path, as_a_user: list[str]) -> None:
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (tmp_path / "tokens.env").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_UPLOADER__DESTINATIONS": "local",
            "QUICKCAM_STORAGE__LOCAL__PATH": "storage"}
    state, log_path = tmp_path / "state", tmp_path / "uploader.log"
    status = state / "status.json"
    with open(log_path, "w") as log_file:  # the uploader without CAP_DAC_OVERRIDE: file modes hold for it
        proc = subprocess.Popen([*as_a_user, QUICKCAM, "uploader", "--seconds", "60"], cwd=tmp_path, env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    log = log_path.read_text
    try:
        assert wait_until(lambda: status.is_file() and "receiver: listening" in log(), 30), log()
        # state/ takes no new file (the ledger's WAL files exist already), and the status file is gone: no write
        # can make it again, nor rewrite it in place (common/durable.py).
        state.chmod(0o500)
        status.unlink()
        assert wait_until(lambda: "receiver: cannot write" in log(), 30), log()
        time.sleep(2.5)  # a streak of a few housekeeping seconds
        state.chmod(0o700)
        assert wait_until(lambda: "receiver: writing state/status.json again" in log(), 30), log()
        failed = json.loads(status.read_text())["counters"]["status_write_failures"]
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=30)
    finally:
        state.chmod(0o700)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    warnings = [line for line in log().splitlines() if "receiver: cannot write" in line]
    assert len(warnings) == 1, warnings  # once, not every second
    assert ("receiver: cannot write state/status.json (Permission denied); quickcam status shows the uploader as "
            "of the last write, then as NOT ANSWERING (and the health check fails) until it can") in warnings[0]
    assert failed >= 2
    assert f"uploader: {failed} status write(s) failed (each streak logged by the uploader)" in shown.stdout, \
        shown.stdout + shown.stderr
