"""The native detector's status file: a failed write says why, and a directory in its way is moved aside.

Before, a failed write logged ``status: cannot write …`` without the reason, and a directory
made at ``detector-status.json`` refused every later write: the detector recorded on while
``quickcam status`` and the health check called it stale, for good. Now, as the Python detector
(tests/detector/test_status_file.py): the warning names the reason, and the directory is moved
aside (kept, with its files) as soon as the outbox lets it be, and the status is written again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import private_endpoint
from tests.native_build import native_detector
from tests.waiting import wait_until


def test_the_native_status_write_says_why_it_failed_and_moves_a_directory_in_its_way_aside(
    tmp_path: Path, as_a_user: list[str],
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    outbox, log_path = tmp_path / "outbox", tmp_path / "detector.log"
    status = outbox / "detector-status.json"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([*as_a_user, str(native_detector()), "--seconds", "30"], cwd=tmp_path, env=env,
                                stdout=log_file, stderr=log_file)
    log = log_path.read_text
    try:
        assert wait_until(status.is_file, 10), log()
        # The outbox refuses new names (the detector without CAP_DAC_OVERRIDE), and a directory takes the file's place.
        outbox.chmod(0o500)
        status.unlink()
        status.mkdir()
        (status / "someones-file").write_text("kept")
        assert wait_until(lambda: "status: cannot write" in log(), 30), log()
        line = next(line for line in log().splitlines() if "status: cannot write" in line)
        # the reason; "a directory stands …" unless the detector wrote between the test's unlink and mkdir
        assert re.search(r'msg="status: cannot write outbox/detector-status.json \((a directory stands at '
                         r'detector-status.json and cannot be moved aside: )?Permission denied\); quickcam status '
                         r'will show this detector as stale until it can"$', line), line

        outbox.chmod(0o700)
        assert wait_until(status.is_file, 30), log()
        assert json.loads(status.read_text())["running"] is True
        moved = list(outbox.glob("detector-status.json.replaced-*"))
        assert len(moved) == 1 and (moved[0] / "someones-file").read_text() == "kept", list(outbox.iterdir())
        assert log().count(f"moved it to {moved[0].name} (its files kept) and wrote the status again") == 1, log()
        assert log().count("status: cannot write") == 1, log()  # once per outage, not every two seconds
        assert proc.poll() is None, log()
    finally:
        outbox.chmod(0o700)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_directories_at_both_the_native_status_file_and_its_part_are_moved_aside_in_one_write(tmp_path: Path) -> None:
    """Both in the way at start: the first write moves both aside and writes the status (it took two writes,
    2 s apart: the first moved the .part's directory and failed on the file's, saying ``cannot write``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    outbox, log_path = tmp_path / "outbox", tmp_path / "detector.log"
    outbox.mkdir(mode=0o700)
    names = ("detector-status.json", "detector-status.json.part")
    for name in names:
        (outbox / name).mkdir()
        (outbox / name / "someones-file").write_text(name)
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([str(native_detector()), "--seconds", "30"], cwd=tmp_path, env=env,
                                stdout=log_file, stderr=log_file)
    log = log_path.read_text
    try:
        assert wait_until(lambda: "moved it to" in log() or "status: cannot write" in log(), 10), log()
        time.sleep(0.2)  # both lines of the same write
        assert "status: cannot write" not in log(), log()
        assert (outbox / "detector-status.json").is_file(), list(outbox.iterdir())
        for name in names:
            [moved] = outbox.glob(f"{name}.replaced-*")
            assert (moved / "someones-file").read_text() == name
            assert log().count(f"moved it to {moved.name} (its files kept) and wrote the status again") == 1, log()
        assert proc.poll() is None, log()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
