"""Either process started on a disk that is full already, with no lock file there yet (a reboot, a first start).

The Python detector and the uploader ended in a traceback (``OSError: [Errno 28]``) writing their pid
into the new ``.lock``; the native detector wrote a warning and ran its full-disk ladder. Now both
detectors run the ladder and ``quickcam status`` says the running detector cannot write its status
file (it said "no status yet: it has not run here"). The uploader, which could keep nothing on such a
disk (not even its ledger), ends in one line naming the fix, exit 2 (a service manager starts it again).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.tmpfs import fill, tmpfs


@pytest.mark.parametrize("which", ["python", "native"])
def test_a_detector_started_on_a_full_disk_runs_its_full_disk_ladder_and_status_says_it(
        tmp_path: Path, which: str) -> None:
    command = None
    if which == "native":
        from tests.native_build import native_detector

        command = [str(native_detector())]
    with tmpfs(tmp_path / "disk", "size=4m,mode=0700") as disk:
        fill(disk)
        pipe = Pipeline(tmp_path, detector=command, QUICKCAM_RECORDING__OUTBOX_DIR="disk/outbox", **QUICK_DEMO)
        try:
            proc = pipe.start("detector")
            assert pipe.wait_for("detector", "recording snapshots only", 60), pipe.output("detector")[-3000:]
            assert proc.poll() is None and "Traceback" not in pipe.output("detector")
            status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True,
                                    text=True, timeout=30).stdout
            said = (f"detector: RUNNING (pid {proc.pid}) but it cannot write disk/outbox/detector-status.json: its "
                    "disk is full (df disk/outbox) or it may not write there; see its log")
            assert said in status, status
            # the health check names the same cause (before: "no detector or uploader status file here is fresh",
            # or with the detector's role "detector not on this machine: start it ...")
            for role in ("", "=detector"):
                health = subprocess.run([QUICKCAM, "status", f"--healthcheck{role}"], cwd=tmp_path, env=pipe.env,
                                        capture_output=True, text=True, timeout=30)
                assert health.returncode == 1 and health.stderr.strip() == f"Error: unhealthy: {said}", health.stderr
        finally:
            pipe.close()


def test_an_uploader_started_on_a_full_disk_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "var", "size=4m,mode=0700") as var:
        fill(var)
        pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__STATE_DIR="var/state", QUICKCAM_UPLOADER__SPOOL_DIR="var/spool")
        run = subprocess.run([QUICKCAM, "uploader", "--seconds", "5"], cwd=tmp_path, env=pipe.env,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
        assert run.stderr.splitlines()[-1] == ("quickcam: cannot make the ledger var/state/ledger.sqlite3: its disk "
                                              "is full; free space on it (df var/state) and start again"), run.stderr
