"""Few open files allowed (``ulimit -n``): each process checks its limit at start (bench/outside/FINDINGS.md #22).

Under ``ulimit -n 20`` the uploader's threads could not open the ledger, died with a traceback blaming
permissions (``check that this user may write it``) for what was EMFILE, and the process ended before its first
status write: ``quickcam status`` said ``uploader: not on this machine`` and the health check stayed green.
A low soft limit is now raised to the hard one (said once); a hard one too low ends the start on one line.
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline

FIX = "raise it (ulimit -n, LimitNOFILE= in systemd, docker's --ulimit nofile)"


def limited(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def command(who: str, detector_command: list[str] | None) -> tuple[str, list[str]]:
    if who == "uploader":
        return "uploader", [QUICKCAM, "uploader"]
    return "detector", detector_command or [QUICKCAM, "detector"]


def test_a_hard_limit_too_low_ends_the_uploaders_start_on_one_line(tmp_path: Path) -> None:
    _hard_limit_too_low(tmp_path, "uploader", None)


def test_a_hard_limit_too_low_ends_the_detectors_start_on_one_line(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    _hard_limit_too_low(tmp_path, "detector", detector_command)


def test_a_low_soft_limit_is_raised_to_the_hard_one_and_said_by_the_uploader(tmp_path: Path) -> None:
    _low_soft_limit(tmp_path, "uploader", None)


def test_a_low_soft_limit_is_raised_to_the_hard_one_and_said_by_the_detector(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    _low_soft_limit(tmp_path, "detector", detector_command)


def _hard_limit_too_low(tmp_path: Path, who: str, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path)
    name, argv = command(who, detector_command)
    done = subprocess.run(argv, cwd=tmp_path, env=pipe.env, capture_output=True, text=True, timeout=30,
                          preexec_fn=limited(20, 20))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-3000:]
    assert f"{name}: too few open files allowed (limit 20, it needs 64): {FIX}" in out, out[-3000:]
    assert "Traceback" not in out


def _low_soft_limit(tmp_path: Path, who: str, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path)
    name, argv = command(who, detector_command)
    with open(tmp_path / f"{name}.out", "ab") as log:
        pipe.procs[name] = subprocess.Popen(argv, cwd=tmp_path, env=pipe.env, stdout=log, stderr=subprocess.STDOUT,
                                            preexec_fn=limited(20, 1024))
    try:
        started = "receiver: listening" if name == "uploader" else "watching 1 camera(s)"
        assert pipe.wait_for(name, started, 30), pipe.output(name)[-3000:]
        said = f"{name}: the open-files limit was 20, below the 64 it needs; raised to the hard limit 1024"
        assert pipe.wait_for(name, said, 5), pipe.output(name)[-3000:]
        status = tmp_path / ("state/status.json" if name == "uploader" else "outbox/detector-status.json")
        assert _appears(status, 15), pipe.output(name)[-3000:]  # quickcam status sees it
        assert pipe.procs[name].poll() is None, pipe.output(name)[-3000:]
        assert pipe.stop(name) == 0
    finally:
        pipe.close()
    assert pipe.output(name).count("open-files limit") == 1
    assert "Traceback" not in pipe.output(name)


def _appears(path: Path, timeout: float) -> bool:
    """True once ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.exists()
