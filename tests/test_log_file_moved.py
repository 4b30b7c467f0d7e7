"""A log file renamed or removed from outside while the process runs is written again at its name.

logrotate's default renames ``run.uploader.log`` to ``.1`` and makes a new empty one; a clean-up may
``rm run.*.log``. Before, the process wrote on into the renamed (or deleted) file: the log a person reads
stayed empty or missing, and the uploader's log uploads, read at the name, carried nothing more
(bench/outside/log_files_moved.py). The real uploader here; SIGHUP makes it log a line on demand.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.pipeline import Pipeline
from tests.waiting import wait_until


@pytest.mark.parametrize("how", ["logrotate", "deleted"])
def test_the_log_goes_on_at_its_name_after_a_rename_or_removal(tmp_path: Path, how: str) -> None:
    pipe = Pipeline(tmp_path)
    log = tmp_path / "run.uploader.log"
    try:
        proc = pipe.start_uploader_listening()
        assert wait_until(log.exists, 10)
        if how == "logrotate":
            log.rename(log.with_name("run.uploader.log.1"))
            log.touch()
        else:
            log.unlink()
        os.kill(proc.pid, signal.SIGHUP)  # one warning line
        assert wait_until(lambda: "SIGHUP" in pipe.output("uploader"), 20), pipe.output("uploader")
        assert wait_until(lambda: log.exists() and "SIGHUP" in log.read_text(), 5), \
            f"not at {log.name}: {sorted(p.name for p in tmp_path.glob('run.*'))}"
    finally:
        pipe.close()
