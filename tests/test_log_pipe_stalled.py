"""Standard error a pipe nobody reads (a terminal paused with Ctrl-S, `run_all.sh | less`, a stalled log
shipper): the processes go on watching, recording and storing.

The pipe filled (64 KiB) and every thread that logged blocked in its write: the capture and detection loops
stalled, the uploader stored nothing more, the health check stayed green (bench/outside/FINDINGS.md #50,
log_pipe_stalled.py: 3 -> 4 items stored in 40 s). Here the pipe is full before either process starts, so
each blocked at its first line; now the lines wait for a writer thread of their own, or are left out.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline


def _full_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        while True:
            os.write(write_end, b"\n")
    except BlockingIOError:
        pass
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags)
    return read_end, write_end


def test_footage_is_recorded_and_stored_while_nobody_reads_stderr(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_LOGGING__FILE="run.log", **QUICK_DEMO)
    read_end, write_end = _full_pipe()
    try:
        for name, command in (("uploader", [QUICKCAM, "uploader"]),
                              ("detector", detector_command or [QUICKCAM, "detector"])):
            pipe.procs[name] = subprocess.Popen(command, cwd=tmp_path, env=pipe.env, stdout=write_end,
                                                stderr=write_end, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(pipe.stored()) < 4 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert len(pipe.stored()) >= 4, (len(pipe.produced()), len(pipe.stored()))
        assert pipe.stop("detector") == 0  # its last lines waited for within a bound (2 s), not for ever
        assert pipe.wait_drained(30)
    finally:
        pipe.close()
        os.close(write_end)
        os.close(read_end)
