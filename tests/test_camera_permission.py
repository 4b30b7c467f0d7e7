"""A video file this user may not read: the camera says permission denied, with the fix, in both detectors.

Tests run as root, and root reads any file whatever its mode: the permission-denied branch of
``open_failure`` (capture.py, camera.cpp) was never taken. As in tests/test_native_disk.py, the
detector runs under ``setpriv`` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so file modes
hold for it as for any user. Two ways to be refused: the file's own mode (``chmod 000``: make it
readable), and a folder on its path that may not be searched (stat itself fails with EACCES:
making the file readable would not help, so the fix names the folder; before, the same words, and
then words naming no folder). A camera device behind such a folder was told to join the ``video``
group, which does not help either: the fix names the folder too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common.protocol_schema import middle_cut
from quickcam.detector.closed_folder import FOLDER_SHOWN_MAX
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX
from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector

NOT_READABLE = "permission denied; make it readable by this user"
FOLDER_CLOSED = "permission denied on the folder {folder} in its path; give this user search (x) permission on it"


@pytest.fixture
def refused(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str, str]]:
    """A video file the detector may not read, and the words of the fix: in the status's fault, in the log."""
    folder = tmp_path / "footage"
    folder.mkdir()
    video = folder / "garage.mp4"
    video.write_bytes(b"\x00" * 4096)
    closed = folder if request.param == "folder" else video
    closed.chmod(0)
    try:
        if request.param == "folder":  # the fault cuts a long folder in its middle (its end names it); the log not
            yield video, FOLDER_CLOSED.format(folder=middle_cut(str(folder), FOLDER_SHOWN_MAX)), \
                FOLDER_CLOSED.format(folder=folder)
        else:
            yield video, NOT_READABLE, NOT_READABLE
    finally:
        closed.chmod(0o700)


@pytest.mark.parametrize(("detector", "refused"), [
    ("python", "file"), ("python", "folder"), ("native", "file"), ("native", "folder"),
    ("python-reencode", "file"),  # OpenCV's source, not PyAV's: its own look at the path before it opens
], indirect=["refused"])
def test_a_video_file_this_user_may_not_read_is_said_permission_denied_with_the_fix(
        tmp_path: Path, as_a_user: list[str], refused: tuple[Path, str, str], detector: str) -> None:
    video, fix, fix_logged = refused
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
    logged = f"cannot open {video} — {fix_logged}"
    named = [line for line in run.stderr.splitlines() if logged in line and "not retried" in line]
    assert len(named) == 1, run.stderr[-3000:]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and camera["fault"] == said, camera


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_camera_device_behind_a_folder_this_user_may_not_enter_names_the_folder_not_the_video_group(
        tmp_path: Path, as_a_user: list[str], detector: str) -> None:
    # Before: "permission denied; add this user to the 'video' group", which does not let anyone into the folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_CAMERA__SOURCE": "camera"}
    if detector == "python":  # a device path of the config's ([camera] path) behind a closed folder of the test's
        folder = tmp_path / "devices"
        folder.mkdir(mode=0)
        device = folder / "video0"
        env["QUICKCAM_CAMERA__PATH"] = str(device)
        argv = [*as_a_user, QUICKCAM, "detector", "--seconds", "1"]
    else:  # the native detector opens /dev/video<index> only: /dev is closed in a mount namespace of its own
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            pytest.skip("a /dev this user may not enter needs root and unshare (util-linux) for a mount namespace")
        folder, device = Path("/dev"), Path("/dev/video0")
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mount -t tmpfs -o mode=000 closed /dev && exec "$@"', "sh",
                *as_a_user, str(native_detector()), "--seconds", "10"]  # its first open loads OpenCV's v4l2 module:
        # 0.35 s quiet, over 6 s once in a clean run at load ~10 (this test runs niced beside the timed units)
    try:
        run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        if detector == "python":
            folder.chmod(0o700)
    fix = FOLDER_CLOSED.format(folder=middle_cut(str(folder), FOLDER_SHOWN_MAX))  # a long one cut in its middle
    assert "Traceback" not in run.stderr and "video' group" not in run.stderr, run.stderr[-3000:]
    assert f"camera cam0 never delivered a frame (cannot open {device} — {fix})" in run.stderr, run.stderr[-3000:]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing", camera
    assert camera["fault"].startswith(f"cannot open {middle_cut(str(device), PATH_SHOWN_MAX)} — {fix}"), camera
