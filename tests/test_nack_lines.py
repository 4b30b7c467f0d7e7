"""An item the uploader cannot take now is said once, then at most a line a minute, on both sides.

Found by ``bench/outside/folder_swaps.py --case spool-ro`` (bench/outside/FINDINGS.md #26): with the spool
unwritable, each item was sent again every ``ack_timeout_s`` and nacked ``busy``, one warning on each side
each time: 272 lines in 15 s. The counts stay in ``quickcam status`` (the uploader's ``nack_busy``, the
detector's messages sent again). The real uploader without CAP_DAC_OVERRIDE (``as_a_user``), each detector.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


def _nacks(pipe: Pipeline) -> int:
    try:
        return json.loads((pipe.root / "state" / "status.json").read_text())["counters"].get("nack_busy", 0)
    except (OSError, ValueError, KeyError):
        return 0


def test_busy_nacks_are_said_once_then_counted(tmp_path: Path, as_a_user: list[str],
                                               detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_LINK__ACK_TIMEOUT_S="0.3", **QUICK_DEMO)
    with open(tmp_path / "uploader.out", "ab") as out:
        pipe.procs["uploader"] = subprocess.Popen([*as_a_user, QUICKCAM, "uploader"], cwd=tmp_path, env=pipe.env,
                                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        assert pipe.wait_for("uploader", "receiver: listening", 60), pipe.output("uploader")
        (tmp_path / "spool").chmod(0o500)
        pipe.start("detector")
        assert wait_until(lambda: _nacks(pipe) >= 10, 25), (_nacks(pipe), pipe.output("detector")[-3000:])
        assert pipe.output("uploader").count("receiver: nack busy for ") == 1, pipe.output("uploader")[-3000:]
        assert pipe.output("detector").count("link: uploader could not take ") == 1, pipe.output("detector")[-3000:]

        def status() -> str:
            return subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                  timeout=30).stdout

        # the count is in the detector's status file from its next write (every 2 s), not at once
        assert wait_until(lambda: "message(s) sent again" in status(), 10), status()
    finally:
        (tmp_path / "spool").chmod(0o700)
        pipe.close()
