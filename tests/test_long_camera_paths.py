"""A camera whose path is long: its fault still ends with the fix, and the log says the path whole once.

A camera's fault is at most 300 bytes (docs/protocol.md). Put whole into "cannot open <path> —
<fix>", a path of a few hundred bytes (or 100 kB: too long for the kernel, ENAMETOOLONG) took all
300, and the fix after it was cut off: ``quickcam status`` said what failed but not what to do.
Now the path is cut in its middle ("/tmp/…mmm.mp4") in the fault and in each retry's log line, the
same bytes in both detectors; the first log line of the failure keeps it whole (a typo may sit in
its middle). Before, the Python detector also logged the 100 kB path on every retry's line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common.protocol_schema import FAULT_MAX, middle_cut
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX
from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector
from tests.test_camera_open import PATH_TOO_LONG

RETRYING = re.compile(r"; retrying \(attempt ([0-9]+) failed, next in [0-9.]+ s\)$")


def _argv(detector: str) -> list[str]:
    return [QUICKCAM, "detector"] if detector == "python" else [str(native_detector())]


def _retried(tmp_path: Path, detector: str, path: str, attempts: int = 3) -> tuple[str, str]:
    """The camera's fault once it has failed ``attempts`` opens of a live file at ``path``, and the detector's log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_CAMERA__SOURCE": "file",
            "QUICKCAM_CAMERA__PATH": path, "QUICKCAM_CAMERA__REOPEN_MAX_S": "0.5"}
    status, fault = tmp_path / "outbox" / "detector-status.json", ""
    log_path = tmp_path / "detector.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([*_argv(detector), "--seconds", "60"], cwd=tmp_path, env=env, stdout=log_file,
                                stderr=log_file)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                fault = json.loads(status.read_text())["cameras"]["cam0"]["fault"]
            except (OSError, ValueError, KeyError):
                continue
            seen = RETRYING.search(fault)
            if seen and int(seen[1]) >= attempts:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    return fault, log_path.read_text(errors="replace")


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_path_too_long_for_the_system_keeps_its_fix_and_retry_count_in_the_fault_and_is_logged_whole_once(
        tmp_path: Path, detector: str) -> None:
    video = str(tmp_path / ("m" * 100_000 + ".mp4"))
    fault, log = _retried(tmp_path, detector, video)
    shown = middle_cut(video, PATH_SHOWN_MAX)
    assert "…" in shown and len(shown.encode()) == PATH_SHOWN_MAX
    assert RETRYING.search(fault), fault  # the retry count survives too
    assert fault.startswith(f"cannot open {shown} — {PATH_TOO_LONG}; retrying (attempt "), fault
    assert len(fault.encode()) <= FAULT_MAX
    assert log.count(video) == 1, [line[:200] for line in log.splitlines() if video in line]  # the first line
    assert f"cannot open {video} — {PATH_TOO_LONG}" in log
    retries = [line for line in log.splitlines() if "attempt" in line and "failed" in line]
    assert len(retries) >= 2 and all(len(line) < 1000 for line in retries), [line[:300] for line in retries]


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_long_missing_path_is_cut_in_its_middle_in_the_fault_the_same_in_both_detectors(
        tmp_path: Path, detector: str) -> None:
    # 400 bytes, a name of 200 with two-byte characters at the cuts: a real path (no ENAMETOOLONG), missing
    folder = tmp_path / ("é" * 100)
    video = str(folder / ("garage-" + "ü" * 90 + ".mp4"))
    fault, log = _retried(tmp_path, detector, video, attempts=1)
    shown = middle_cut(video, PATH_SHOWN_MAX)
    assert fault.startswith(f"cannot open {shown} — no such file; check [camera] path; retrying"), fault
    assert f"cannot open {video} — no such file; check [camera] path" in log


@pytest.mark.parametrize(("text", "cut"), [
    ("/short/path.mp4", "/short/path.mp4"),
    ("/" + "a" * 20 + "/" + "b" * 20, "/aaaaaaa…bbbbbbbb"),  # 19 bytes: 8 each side of the ellipsis's 3
    ("é" * 20, "éééé…éééé"),
    ("xé" * 20, "xéxéx…éxéxé"),  # the head's 8th byte starts an "é": it is left out
    ("éx" * 20, "éxéxé…xéxéx"),  # the tail's first byte ends an "é": it is left out
])
def test_middle_cut_keeps_both_ends_and_never_splits_a_character(text: str, cut: str) -> None:
    assert middle_cut(text, 19) == cut
    assert len(middle_cut(text, 19).encode()) <= 19
