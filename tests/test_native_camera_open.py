"""A file the native detector analyses as fast as possible that will not open: one line, exit 3, not retried.

As the Python detector (tests/test_camera_open.py): a file with ``realtime = false`` is read
once and is not coming, so it is named with the fix once, the camera is ``failing`` and the
detector exits 3 at once, instead of retrying for ever; a live source is retried, and its
status says how often.
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

from quickcam.common.protocol_schema import middle_cut
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX
from tests.conftest import private_endpoint
from tests.native_build import native_detector
from tests.test_camera_open import (  # noqa: F401 - walk_video: a fixture
    PATH_TOO_LONG,
    _analysis_cut_mid_way,
    _ended_incomplete,
    walk_video,
)


def _env(root: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    return env | {"QUICKCAM_LINK__ENDPOINT": private_endpoint(root)} | overrides


@pytest.mark.realtime  # "at once" is bounded on the wall clock (generously)
def test_a_native_file_for_analysis_that_will_not_open_is_one_line_and_exit_3(tmp_path: Path) -> None:
    video = tmp_path / "garage.mp4"
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
               QUICKCAM_CAMERA__REALTIME="false")
    started = time.monotonic()
    run = subprocess.run([str(native_detector())], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)  # no --seconds: it must end by itself
    assert run.returncode == 3, run.stderr
    assert time.monotonic() - started < 30, "the detector waited for a file that was never going to open"
    named = [line for line in run.stderr.splitlines() if "garage.mp4" in line and "not retried" in line]
    assert len(named) == 1 and "realtime = false, is read once" in named[0], run.stderr
    assert "attempt" not in run.stderr, run.stderr  # not retried
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and "garage.mp4" in camera["fault"] and "retrying" not in camera["fault"]


def test_a_native_file_path_too_long_for_the_system_is_named_with_the_fix_as_the_python_detector_does(
        tmp_path: Path) -> None:
    # std::filesystem::is_regular_file threw ENAMETOOLONG: the camera failed, but its fault was the exception's
    # words ("filesystem error: status: File name too long [...]"), not the cannot-open text with the fix.
    video = str(tmp_path / ("m" * 100_000 + ".mp4"))
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=video,
               QUICKCAM_CAMERA__REALTIME="false")
    run = subprocess.run([str(native_detector())], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)  # no --seconds: it must end by itself
    assert run.returncode == 3, run.stderr[:3000]
    assert (f"camera cam0: cannot open {video} — {PATH_TOO_LONG} (not retried: a file analysed as fast as "
            "possible, [camera] realtime = false, is read once)") in run.stderr, run.stderr[:3000]
    assert "filesystem error" not in run.stderr, run.stderr[:3000]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    # the path cut in its middle (tests/test_long_camera_paths.py): the fix is in the fault, not cut off after it
    assert camera["state"] == "failing", camera
    assert camera["fault"] == f"cannot open {middle_cut(video, PATH_SHOWN_MAX)} — {PATH_TOO_LONG}", camera
    assert all(not loop["errors"] for loop in camera["loops"].values()), camera["loops"]


def test_a_native_file_played_in_real_time_that_will_not_open_is_retried_and_its_status_says_so(
        tmp_path: Path) -> None:
    """A file standing in for a live camera (realtime, the default) may appear later: retried, visibly."""
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(tmp_path / "later.mp4"),
               QUICKCAM_CAMERA__REOPEN_MAX_S="1")
    detector = subprocess.Popen([str(native_detector()), "--seconds", "60"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status, fault, deadline = tmp_path / "outbox" / "detector-status.json", "", time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not re.search(r"retrying \(attempt [2-9]\d* failed", fault):
            time.sleep(0.2)
            try:
                fault = json.loads(status.read_text())["cameras"]["cam0"]["fault"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                continue
    finally:
        detector.send_signal(signal.SIGKILL)
        output = detector.communicate(timeout=10)[1]
    assert re.search(r"later\.mp4.*; retrying \(attempt [2-9]\d* failed, next in \d+\.\d s\)$", fault), fault
    assert "not retried" not in output
    camera = json.loads(status.read_text())["cameras"]["cam0"]  # its last write: the count with the attempt
    attempts = int(re.search(r"attempt (\d+) failed", camera["fault"])[1])
    assert camera["reopens"] == attempts, camera  # the failed tries counted as they fail (one behind, before)


@pytest.mark.parametrize("lead", ["", "x"])  # one of the two puts the head's cut inside a two-byte character
def test_a_native_long_path_in_a_fault_is_cut_in_its_middle_never_inside_a_character(tmp_path: Path,
                                                                                      lead: str) -> None:
    """A split character is invalid text and the uploader would refuse the whole status: the path is cut in its
    middle as the Python detector cuts it (the same bytes), keeping the fix (tests/test_long_camera_paths.py)."""
    video = tmp_path / (lead + "é" * 120 + ".mp4")
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
               QUICKCAM_CAMERA__REALTIME="false")
    run = subprocess.run([str(native_detector())], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert run.returncode == 3, run.stderr
    raw = (tmp_path / "outbox" / "detector-status.json").read_bytes()
    fault = json.loads(raw.decode("utf-8"))["cameras"]["cam0"]["fault"]  # strict: a split character raises
    assert fault == f"cannot open {middle_cut(str(video), PATH_SHOWN_MAX)} — no such file; check [camera] path", fault


@pytest.mark.parametrize("delete", [False, True])  # emptied, or emptied and deleted: FFmpeg's open file says 0 bytes
def test_a_native_file_for_analysis_truncated_mid_analysis_ends_with_one_line_and_exit_3(
        tmp_path: Path, walk_video: Path, delete: bool) -> None:  # noqa: F811 - the fixture
    """As tests/test_camera_open.py's. Before, the native detector took the cut for the file's end: exit 0."""
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, delete=delete, detector=[str(native_detector())])
    try:
        _ended_incomplete(pipe, f"{video} was cut short while it was analysed ({walk_video.stat().st_size} bytes "
                                "when it opened, 0 at its end); analyse a complete copy of it (its analysis is "
                                "incomplete)")
    finally:
        pipe.close()


def test_a_native_file_for_analysis_still_being_written_ends_with_one_line_and_exit_3(
        tmp_path: Path, walk_video: Path) -> None:  # noqa: F811 - the fixture
    """As tests/test_camera_open.py's. Before, analysed to its size at the open, exit 0, no word (finding #15)."""
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, grow=100_000, detector=[str(native_detector())])
    try:
        size = walk_video.stat().st_size
        _ended_incomplete(pipe, f"{video} was still being written while it was analysed ({size} bytes when it opened, "
                                f"{size + 100_000} at its end): what was written later was not analysed; analyse it "
                                "again once it is complete (its analysis is incomplete)")
    finally:
        pipe.close()


def test_a_native_looped_file_for_analysis_that_goes_away_ends_after_3_reopens_with_one_line_and_exit_3(
        tmp_path: Path, walk_video: Path) -> None:  # noqa: F811 - the fixture
    """As tests/test_camera_open.py's. Before, the native detector retried for ever (its camera lost)."""
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, loop="true", reopen_max_s="1",
                                        detector=[str(native_detector())])
    try:
        _ended_incomplete(pipe, f"cannot open {video} — no such file; check [camera] path (gave up after 3 reopen "
                                "attempts")
    finally:
        pipe.close()
