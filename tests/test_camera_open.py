"""A camera that cannot be opened is named with its source and the fix, shown FAILING, and fails the run.

A file analysed as fast as possible (``realtime = false``) is read once and is not coming
back: it is not retried, and the run ends at once. A camera or a stream may come back at
any moment, so it is retried for as long as the detector runs, and its status says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from quickcam.common.protocol_schema import middle_cut
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX
from tests.conftest import QUICKCAM, REPO, free_port, private_endpoint, run_script
from tests.fakes.h264 import write_h264
from tests.pipeline import Pipeline


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update({"QUICKCAM_LINK__ENDPOINT": private_endpoint(root), **extra})
    return env


def _status_until(tmp_path: Path, env: dict[str, str], seen: Callable[[str], bool], within_s: float,
                  detector: subprocess.Popen) -> str:
    """``quickcam status`` read again until ``seen`` holds of it, the time is up or the detector ended."""
    status_file, live = tmp_path / "outbox" / "detector-status.json", ""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not seen(live) and detector.poll() is None:
        time.sleep(0.3)
        if status_file.exists():
            live = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=30).stdout
    return live


def test_a_missing_video_file_is_named_with_the_fix_shown_failing_and_the_detector_exits_non_zero(
        tmp_path: Path) -> None:
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(tmp_path / "garage.mp4"))
    # Stopped once `quickcam status` has seen it failing (a fixed --seconds could end before a loaded
    # machine got to look: the status of a stopped detector is its last report, not "FAILING").
    output_file = tmp_path / "detector.out"
    with open(output_file, "w") as output_to:
        detector = subprocess.Popen([QUICKCAM, "detector", "--seconds", "120"], cwd=tmp_path, env=env,
                                    stdout=output_to, stderr=subprocess.STDOUT, text=True)
    try:
        live = _status_until(tmp_path, env, lambda live: "FAILING" in live, 60, detector)  # running: not ok
    finally:
        detector.terminate()
        detector.wait(timeout=60)
    output = output_file.read_text()
    assert detector.returncode == 3, output
    assert f"camera cam0: cannot open {tmp_path / 'garage.mp4'} — no such file; check [camera] path" in output
    assert "camera cam0 never delivered a frame" in output
    assert "camera cam0: FAILING (cannot open" in live, live
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and "no such file" in camera["fault"]


def test_a_usb_camera_index_that_does_not_exist_names_the_device_and_how_to_list_cameras(tmp_path: Path) -> None:
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="camera", QUICKCAM_CAMERA__INDEX="57")
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "2"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "cannot open /dev/video57 (camera index 57) — no such device; list cameras with" in run.stderr


def test_an_empty_path_for_a_file_source_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "file"\npath = ""\n')
    run = subprocess.run([QUICKCAM, "detector", "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "config error: camera.path: " in run.stderr and "is empty" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_run_all_with_seconds_exits_non_zero_when_a_camera_never_delivered_a_frame(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "file"\npath = "nowhere.mp4"\n')
    key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "tokens.env").write_text(key)
    (tmp_path / "tokens.env").chmod(0o600)
    # 6 s: at load ~20 a 3 s run ended before the detector had opened its camera
    run = run_script([str(REPO / "scripts/run_all.sh"), "--config", "quickcam.toml", "--seconds", "6"],
                     cwd=tmp_path, env=_env(tmp_path), timeout=120)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "nowhere.mp4 — no such file" in run.stderr


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


PATH_TOO_LONG = ("path too long for the system (a name in it over 255 bytes, or all of it over 4095); "
                 "check [camera] path")


@pytest.mark.parametrize("record", ["", "reencode"])  # PyAV's source (by default), OpenCV's (re-encoding)
def test_a_file_path_too_long_for_the_system_is_a_camera_that_cannot_be_opened_not_a_failed_loop(
        tmp_path: Path, record: str) -> None:
    # The kernel refuses to look the path up at all (ENAMETOOLONG): pathlib's exists() raised it, and the capture
    # loop failed (a loop failure, restarted for ever) instead of naming the camera as one that cannot be opened;
    # OpenCV's source raised it from Path.is_file, and the fault was the exception's words, without the fix.
    video = str(tmp_path / ("m" * 100_000 + ".mp4"))
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=video,
               QUICKCAM_CAMERA__REALTIME="false", **({"QUICKCAM_CAMERA__RECORD": record} if record else {}))
    run = subprocess.run([QUICKCAM, "detector"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=90)  # no --seconds: it must end by itself
    output = run.stdout + run.stderr
    assert "loop failed" not in output and "Traceback" not in output, output[:3000]
    assert run.returncode == 3, output[:3000]
    assert (f"camera cam0: cannot open {video} — {PATH_TOO_LONG} (not retried: a file analysed as fast as "
            "possible, [camera] realtime = false, is read once)") in output, output[:3000]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    # the path cut in its middle (tests/test_long_camera_paths.py): the fix is in the fault, not cut off after it
    assert camera["state"] == "failing", camera
    assert camera["fault"] == f"cannot open {middle_cut(video, PATH_SHOWN_MAX)} — {PATH_TOO_LONG}", camera
    assert all(not loop["errors"] for loop in camera["loops"].values()), camera["loops"]


def test_a_stream_that_will_not_open_is_retried_and_its_status_says_so(tmp_path: Path) -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/live"  # nothing listens there
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="stream", QUICKCAM_CAMERA__PATH=url)
    detector = subprocess.Popen([QUICKCAM, "detector", "--seconds", "60"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        live = _status_until(tmp_path, env, lambda live: bool(re.search(r"retrying \(attempt [2-9]\d* failed", live)),
                             30, detector)
    finally:
        detector.terminate()
        output = detector.communicate(timeout=60)[0]
    assert "detector: running" in live and "camera cam0: FAILING (cannot open stream " in live, live
    assert re.search(r"; retrying \(attempt [2-9]\d* failed, next in \d+\.\d s\)\)", live), live
    assert "open attempt 2 failed" in output, output
    assert "not retried" not in output
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    attempts = int(re.search(r"attempt (\d+) failed", camera["fault"])[1])
    assert camera["reopens"] == attempts, camera  # the failed tries counted as they fail (one behind, before)


@pytest.fixture(scope="module")
def walk_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s (a walk at 1-3 s) at 5 fps, 1 Mbit/s: far past the demuxer's 32 KiB buffer, and analysed in about
    a second, so a test that acts once the first segment is committed acts mid-analysis."""
    return write_h264(tmp_path_factory.mktemp("video") / "walk.mp4", seconds=40.0, fps=5.0, bitrate=1_000_000)


def _analysis_cut_mid_way(tmp_path: Path, walk_video: Path, delete: bool = True, detector: list[str] | None = None,
                          grow: int = 0, **camera: str) -> tuple[Pipeline, Path]:
    """A detector (beside an uploader) analysing a copy of ``walk_video`` as fast as possible, that copy emptied
    (and deleted) once its first segment is committed; returned once the detector has ended (or 60 s on).

    ``detector``: another detector's argv (tests/test_native_camera_open.py runs the native one); ``grow``: that
    many bytes added to the copy instead (a file still being written)."""
    video = tmp_path / "garage.mp4"
    shutil.copy(walk_video, video)
    overrides = {f"QUICKCAM_CAMERA__{key.upper()}": value for key, value in camera.items()}
    pipe = Pipeline(tmp_path, detector=detector, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
                    QUICKCAM_CAMERA__REALTIME="false", QUICKCAM_CAMERA__START="2026-03-01T12:00:00+00:00",
                    **overrides)
    pipe.start_uploader_listening()
    detector = pipe.start("detector")  # no --seconds: it must end by itself
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(row["type"] == "segment" for row in pipe.produced()):
        time.sleep(0.05)
    assert pipe.produced(), pipe.output("detector")[-3000:]  # an event recorded, then:
    if grow:
        with video.open("ab") as still_written:
            still_written.write(bytes(grow))
    else:
        os.truncate(video, 0)
        if delete:
            video.unlink()
    gone_at = time.monotonic()
    while detector.poll() is None and time.monotonic() - gone_at < 60:
        time.sleep(0.1)
    return pipe, video


def _ended_incomplete(pipe: Pipeline, said: str) -> None:
    """Exit 3 on its own, one error line saying ``said``, the camera failing, everything recorded stored."""
    output = pipe.output("detector")
    assert pipe.procs["detector"].returncode == 3, output[-3000:]  # on its own, not killed: not waited for
    lines = [line for line in output.splitlines()  # Python's logfmt line, or the native detector's plain one
             if ('level=error' in line and 'msg="camera cam0: ' in line) or " ERROR   camera cam0: " in line]
    assert len(lines) == 1 and said in lines[0], output[-3000:]
    assert "Traceback" not in output
    assert "camera cam0 did not analyse its file to the end" in output
    camera = json.loads((pipe.root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and said in camera["fault"], camera
    assert not list((pipe.root / "outbox" / ".staging").iterdir())  # the open event ended, its segment committed
    assert pipe.wait_drained(30), pipe.missing()  # and everything recorded reached storage
    pipe.check_invariant()


@pytest.mark.parametrize("record", ["passthrough", "reencode"])  # read by PyAV (its open file), by OpenCV (its path)
def test_a_file_for_analysis_truncated_mid_analysis_ends_with_one_line_and_exit_3(tmp_path: Path, walk_video: Path,
                                                                                   record: str) -> None:
    """Before, a file cut short while it was read simply ended: exit 0, as if it had been analysed to its end."""
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, delete=record == "passthrough", record=record)
    try:
        _ended_incomplete(pipe, f"{video} was cut short while it was analysed ({walk_video.stat().st_size} bytes "
                                "when it opened, 0 at its end); analyse a complete copy of it (its analysis is "
                                "incomplete)")
    finally:
        pipe.close()


@pytest.mark.parametrize("record", ["passthrough", "reencode"])  # read by PyAV (its open file), by OpenCV (its path)
def test_a_file_for_analysis_still_being_written_ends_with_one_line_and_exit_3(tmp_path: Path, walk_video: Path,
                                                                            record: str) -> None:
    """Before, a file that grew while it was read (an MPEG-TS still being written) was analysed to its size at the
    open, exit 0, no word: the rest of it never looked at, and nothing said so (outside finding #15)."""
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, grow=100_000, record=record)
    try:
        size = walk_video.stat().st_size
        _ended_incomplete(pipe, f"{video} was still being written while it was analysed ({size} bytes when it opened, "
                                f"{size + 100_000} at its end): what was written later was not analysed; analyse it "
                                "again once it is complete (its analysis is incomplete)")
    finally:
        pipe.close()


def test_a_looped_file_for_analysis_that_goes_away_ends_after_a_few_reopens_with_one_line_and_exit_3(
        tmp_path: Path, walk_video: Path) -> None:
    """A looped file emptied and deleted: its next pass reads nothing, and it never opens again.

    A camera may come back, a file analysed as fast as possible does not: a few reopens (a
    passing hiccup of a network share), then one line and exit 3. Before, retried for ever.
    """
    pipe, video = _analysis_cut_mid_way(tmp_path, walk_video, loop="true", reopen_max_s="1")
    try:
        _ended_incomplete(pipe, f"cannot open {video} — no such file; check [camera] path (gave up after 3 reopen "
                                "attempts")
    finally:
        pipe.close()


@pytest.mark.parametrize("lead", ["", "x"])  # one of the two puts the head's cut inside a two-byte character
def test_a_long_path_in_a_fault_is_cut_in_its_middle_never_inside_a_character(tmp_path: Path, lead: str) -> None:
    """docs/protocol.md: a camera's fault is at most 300 bytes of UTF-8, in the heartbeat and the status
    file alike (the native detector's test is the same). Its path is cut in the middle to keep the fix
    (tests/test_long_camera_paths.py); before, the whole fault was cut at 300 bytes, the fix with it."""
    video = tmp_path / (lead + "é" * 120 + ".mp4")
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
               QUICKCAM_CAMERA__REALTIME="false")
    run = subprocess.run([QUICKCAM, "detector"], cwd=tmp_path, env=env, capture_output=True, timeout=90)
    assert run.returncode == 3, run.stderr
    raw = (tmp_path / "outbox" / "detector-status.json").read_bytes()
    fault = json.loads(raw.decode("utf-8"))["cameras"]["cam0"]["fault"]  # strict: a split character raises
    assert fault == f"cannot open {middle_cut(str(video), PATH_SHOWN_MAX)} — no such file; check [camera] path", fault


def test_a_named_pipe_as_a_video_file_is_not_a_file_in_one_line_not_an_open_that_never_returns(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    # PyAV's open of a pipe no one writes to never returned: the Python detector's camera stayed `starting` with no
    # fault until the health check's grace ran out, and a file for analysis was never done with. The native one, and
    # the Python one's OpenCV source, refused it already.
    pipe = tmp_path / "garage.mp4"
    os.mkfifo(pipe)
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(pipe),
               QUICKCAM_CAMERA__REALTIME="false")
    run = subprocess.run([*(detector_command or [QUICKCAM, "detector"])], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=90)  # no --seconds: it must end by itself
    output = run.stdout + run.stderr
    assert run.returncode == 3, output[-3000:]
    assert (f"camera cam0: cannot open {pipe} — not a file; set [camera] path to a video file (not retried: a file "
            "analysed as fast as possible, [camera] realtime = false, is read once)") in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["state"] == "failing" and "not a file" in camera["fault"], camera
