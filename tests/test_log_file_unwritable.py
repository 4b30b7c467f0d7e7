"""A log file that cannot be made at start: the process runs on, logging to stderr, and says so in one line.

``[logging] file`` under a file where its folder goes, or in a folder this user may not write
in: both Python processes ended at start in a traceback (``FileExistsError`` from ``mkdir``,
``PermissionError`` from opening the file), so the camera was not watched at all for want of a
log. Now one error line names the file and the process goes on with its log on stderr (the
journal, ``docker logs``), as it does when the log file stops taking writes later
(``common/logs.py``'s ``_LogFile``). The native detector writes no log file (stderr only).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline


@pytest.mark.parametrize("process", ["detector", "uploader"])
@pytest.mark.parametrize("fault", ["a file where its folder goes", "a folder it may not write in"])
def test_a_log_file_that_cannot_be_made_is_one_line_and_the_process_runs_on(
        tmp_path: Path, process: str, fault: str, as_a_user: list[str]) -> None:
    logs = tmp_path / "logs"
    if fault == "a file where its folder goes":
        logs.write_text("someone's")
        argv, why = [QUICKCAM, process], "(logs: File exists)"
    else:
        logs.mkdir(mode=0o500)
        argv, why = [*as_a_user, QUICKCAM, process], "(Permission denied)"
    pipe = Pipeline(tmp_path, QUICKCAM_LOGGING__FILE="logs/run.log")
    run = subprocess.run([*argv, "--seconds", "3"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert (f'msg="log: cannot write logs/run.{process}.log {why}; the log goes to stderr only: fix or change '
            '[logging] file"') in run.stderr, run.stderr[-3000:]
    assert f"{process}: --seconds elapsed; stopping" in run.stderr, run.stderr[-3000:]  # it ran, and logged
    if process == "detector":
        assert (tmp_path / "outbox" / "detector-status.json").is_file()
