"""A video file this user may not read: the camera says permission denied, with the fix, in both detectors.

Tests run as root, and root reads any file whatever its mode: the permission-denied branch of
``open_failure`` (capture.py, camera.cpp) was never taken. As in tests/test_native_disk.py, the
detector runs under ``setpriv`` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so file modes
hold for it as for any user. Two ways to be refused: the file's own mode (``chmod 000``: make it
readable), and a folder on its path that may not be searched (stat itself fails with EACCES:
making the file readable would not help, so the fix names the folder; before, the same words).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.detector.pipeline.capture import FOLDER_CLOSED
from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector

NOT_READABLE = "permission denied; make it readable by this user"


@pytest.fixture
def refused(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str]]:
    """A video file the detector may not read, and the words of the fix."""
    folder = tmp_path / "footage"
    folder.mkdir()
    video = folder / "garage.mp4"
    video.write_bytes(b"\x00" * 4096)
    closed = folder if request.param == "folder" else video
    closed.chmod(0)
    try:
        yield video, FOLDER_CLOSED if request.param == "folder" else NOT_READABLE
    finally:
        closed.chmod(0o700)


@pytest.mark.parametrize(("detector", "refused"), [
    ("python", "file"), ("python", "folder"), ("native", "file"), ("native", "folder"),
    ("python-reencode", "file"),  # OpenCV's source, not PyAV's: its own look at the path before it opens
], indirect=["refused"])
def test_a_video_file_this_user_may_not_read_is_said_permission_denied_with_the_fix(
        tmp_path: Path, as_a_user: list[str], refused: tuple[Path, str], detector: str) -> None:
    video, fix = refused
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_CAMERA__SOURCE": "file",
            "QUICKCAM_CAMERA__PATH": str(video), "QUICKCAM_CAMERA__REALTIME": "false"}
    if detector == "python-reencode":  # OpenCV's source instead of PyAV's
        env["QUICKCAM_CAMERA__RECORD"] = "reencode"
    argv = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    run = subprocess.run([*as_a_user, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    said = f"cannot open {video} — {fix}"
    assert run.returncode == 3, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "loop failed" not in run.stderr, run.stderr[-3000:]
    named = [line for line in run.stderr.splitlines() if said in line and "not retried" in line]
    assert len(named) == 1, run.stderr[-3000:]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and camera["fault"] == said, camera
