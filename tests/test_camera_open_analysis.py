"""A file analysed as fast as possible that will not open ends the run at once; a live source is retried, visibly.

A file read with ``realtime = false`` is analysed once and is not coming back: waiting
for it (the detector used to retry it for ever, with backoff) only hid the mistake.
A camera or a stream may come back at any moment, so it is retried for as long as
the detector runs, and its status says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from tests.conftest import QUICKCAM, free_port, private_endpoint


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update({"QUICKCAM_LINK__ENDPOINT": private_endpoint(root), **extra})
    return env


def test_a_file_for_analysis_that_will_not_open_is_named_with_the_fix_once_and_the_detector_exits_3(
        tmp_path: Path) -> None:
    video = tmp_path / "garage.mp4"
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
               QUICKCAM_CAMERA__REALTIME="false")
    started = time.monotonic()
    run = subprocess.run([QUICKCAM, "detector"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=90)  # no --seconds: it must end by itself
    output = run.stdout + run.stderr
    assert run.returncode == 3, output
    assert time.monotonic() - started < 60, "the detector waited for a file that was never going to open"
    assert (f"camera cam0: cannot open {video} — no such file; check [camera] path (not retried: a file analysed "
            "as fast as possible, [camera] realtime = false, is read once)") in output
    assert "attempt" not in output  # not retried
    assert "Traceback" not in output
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and "no such file" in camera["fault"] and "retrying" not in camera["fault"]


def test_a_stream_that_will_not_open_is_retried_and_its_status_says_so(tmp_path: Path) -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/live"  # nothing listens there
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="stream", QUICKCAM_CAMERA__PATH=url)
    detector = subprocess.Popen([QUICKCAM, "detector", "--seconds", "60"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status_file = tmp_path / "outbox" / "detector-status.json"
    live, deadline = "", time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not re.search(r"retrying \(attempt [2-9]\d* failed", live):
            time.sleep(0.3)
            if status_file.exists():
                live = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                      timeout=30).stdout
    finally:
        detector.terminate()
        output = detector.communicate(timeout=60)[0]
    assert "detector: running" in live and "camera cam0: FAILING (cannot open stream " in live, live
    assert re.search(r"; retrying \(attempt [2-9]\d* failed, next in \d+\.\d s\)\)", live), live
    assert "open attempt 2 failed" in output, output
    assert "not retried" not in output
