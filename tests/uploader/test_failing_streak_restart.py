"""How long a destination has been failing outlives a restart of the uploader.

The shipper counted each destination's failing streak (since its last success) in memory only.
An uploader restarted while a destination was down (a crash, an update, the machine rebooted)
reported it as just starting to fail: ``failing_destinations`` in its status file began again
at 0 s, and the health check (and the ``storage_failing`` alert) waited its whole bound again
before saying so, while the footage sat in the spool. The streak is kept in the ledger now.

Real processes: the uploader and a demo detector, the ``local`` destination down because its
folder is a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline

BOUND_S = 4.0  # alerts.storage_failing_after_s: the health check fails past it


def _failing(status_path: Path, pid: int) -> dict:
    """The ``local`` row of ``failing_destinations`` as the uploader ``pid`` last wrote it ({} if none)."""
    try:
        status = json.loads(status_path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if status.get("pid") != pid or not status.get("running"):
        return {}
    return next((row for row in status.get("failing_destinations", []) if row["destination"] == "local"), {})


def _until(what: str, ready, timeout_s: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s
    while not (found := ready()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def test_a_restarted_uploader_still_knows_how_long_a_destination_has_been_failing(tmp_path: Path) -> None:
    (tmp_path / "storage").write_text("a file where the destination's folder should be\n")  # every upload fails
    # A stop gives the due uploads 1 s, not 10: the destination fails each of them anyway.
    pipe = Pipeline(tmp_path, QUICKCAM_ALERTS__STORAGE_FAILING_AFTER_S=str(BOUND_S),
                    QUICKCAM_UPLOADER__STOP_UPLOAD_S="1", **QUICK_DEMO)
    status_path = tmp_path / "state" / "status.json"
    try:
        first = pipe.start_uploader_listening()
        pipe.start("detector", "--seconds", "8")  # the walk's snapshots and segments, to be uploaded
        before = _until("a failing streak of 3 s",
                        lambda: (row := _failing(status_path, first.pid)) and row["failing_for_s"] >= 3 and row)
        assert before["failing_after_s"] == BOUND_S and "local storage" in before["error"], before
        stopped_at = time.monotonic()
        assert pipe.stop("uploader") == 0, pipe.output("uploader")[-3000:]
        time.sleep(1.0)

        second = pipe.start_uploader_listening()
        after = _until("the streak in the restarted uploader's status",
                       lambda: _failing(status_path, second.pid))
        # before: a few tenths of a second, counted again from the first failure after the restart
        assert after["failing_for_s"] >= before["failing_for_s"] + (time.monotonic() - stopped_at) - 2.5, \
            (before, after)
        assert after["failing_for_s"] > BOUND_S, (before, after)
        assert "have been failing for" in pipe.output("uploader"), pipe.output("uploader")[-3000:]
        health = subprocess.run([QUICKCAM, "status", "--healthcheck", "uploader"], cwd=tmp_path, env=pipe.env,
                                capture_output=True, text=True, timeout=30)
        assert health.returncode != 0 and "destination local FAILING for" in health.stdout + health.stderr, health

        # the destination comes back: the streak ends at its first success, and stays ended after a restart
        (tmp_path / "storage").unlink()
        (tmp_path / "storage").mkdir()
        _until("the streak's end", lambda: (row := _read(status_path)).get("pid") == second.pid
               and row.get("failing_destinations") == [])
        assert pipe.stop("uploader") == 0
        third = pipe.start_uploader_listening()
        _until("a status from the third uploader", lambda: _read(status_path).get("pid") == third.pid)
        time.sleep(1.0)
        assert _read(status_path).get("failing_destinations") == [], _read(status_path)
    finally:
        pipe.close()
    assert os.listdir(tmp_path / "storage"), "nothing uploaded once the destination was back"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
