"""A detector started with its standard error closed (``2>&-``, a careless unit or script) records as usual.

A closed descriptor 2 is handed to the next file the process opens. The Python detector had no
``sys.stderr`` and ended at its logging set-up: exit 1, not a word anywhere, the camera blind. The
native detector's outbox lock took descriptor 2, and every log line was written into ``outbox/.lock``
(a file that grew for as long as it ran; with 1 closed too, a ZeroMQ eventfd took 2).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline


def test_a_detector_started_with_stderr_closed_records_and_writes_no_log_line_into_its_files(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command)
    argv = detector_command or [QUICKCAM, "detector"]
    # 3 s: the camera opened and its status written; no event (the demo's walker comes at 4 s), so no 5 s drain
    run = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *argv, "--seconds", "3"], cwd=tmp_path,
                         env=pipe.env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    assert run.returncode == 0, run.stdout[-3000:]
    lock = (tmp_path / "outbox" / ".lock").read_text()
    assert lock.strip().isdigit(), lock[:3000]  # its pid, and no log line
    status = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())
    assert status["cameras"]["cam0"]["frames"] > 0, status
