"""A camera whose main file (``path``) is missing beside its ``detect_path``: both detectors, the same words.

Detection goes on on the substream; the camera is ``degraded``, its fault naming the missing file and the fix;
the failure is said once in the log (each retry on an info line); an event's frames meanwhile are counted in
``not_recorded``. A file read as fast as possible is tried once (its substream is analysed in moments); one
standing in for a camera (``realtime = true``) is retried with back-off and recorded once it appears.

Before: the Python detector checked the substream's file against ``path`` and never opened it (the camera
``failing``, blind, no event); it retried the fast file for as long as it ran, a warning each time; the native
detector warned at every retry of a real-time one; neither counted the frames it could not record, nor said why
the file would not open.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.test_native_passthrough import KeepingPeer
from tests.waiting import wait_until

FPS = 10.0


def _setup(root: Path, main: Path, sub: Path, realtime: bool, detector: str) -> tuple[list[str], dict, KeepingPeer]:
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\nrealtime = {str(realtime).lower()}\nfps = {FPS:g}\npath = "{main}"\n'
        f'detect_path = "{sub}"\nreopen_max_s = 1\n'
        '[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\n'
        f'[link]\nendpoint = "{endpoint}"\n')
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    return command, env, KeepingPeer(endpoint)


def _camera(root: Path) -> dict:
    try:
        return json.loads((root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    except (OSError, ValueError, KeyError):
        return {}


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_missing_main_file_analysed_fast_is_said_once_and_detection_goes_on(tmp_path: Path, detector: str) -> None:
    sub = write_h264(tmp_path / "sub.mp4", 7.0, FPS, 1.0, walks=(Walk(2.0, 4.0),))
    main = tmp_path / "main.mp4"
    root = tmp_path / "run"
    root.mkdir()
    command, env, uploader = _setup(root, main, sub, False, detector)
    try:
        run = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        uploader.close()
    camera, log = _camera(root), run.stderr
    said = f"cannot open the recorded stream {main} — no such file; check [camera] path"
    assert log.count(said) == 1 and f"{said}; its events are not recorded" in log, log
    assert camera["fault"] == f"{said}; events are not recorded", camera
    assert camera["events"] >= 1 and camera["frames"] >= 7 * FPS - 1, camera  # the substream was watched
    assert not uploader.segments
    assert camera["not_recorded"] >= 1.5 * FPS, camera  # the event's frames: nothing to record them from
    assert f"end of file {sub}" in log, log  # the file that ended: the substream, not path


@pytest.mark.realtime  # the file appears while the detector runs
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_missing_main_file_is_retried_quietly_and_recorded_once_it_appears(tmp_path: Path, detector: str) -> None:
    first, second = Walk(1.0, 2.5), Walk(6.0, 8.0)  # the second once the file is there (~2 s) and open
    sub = write_h264(tmp_path / "sub.mp4", 11.0, FPS, 1.0, walks=(first, second))
    ready = write_h264(tmp_path / "ready.mp4", 11.0, FPS, 1.0, width=640, height=480, walks=())
    main = tmp_path / "main.mp4"
    root = tmp_path / "run"
    root.mkdir()
    command, env, uploader = _setup(root, main, sub, True, detector)
    process = subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # the first walker's event goes unrecorded, counted; the camera says why, and watches on
        assert wait_until(lambda: _camera(root).get("not_recorded", 0) > 0 and _camera(root).get("events", 0) >= 1,
                          seconds=20), _camera(root)
        missing = _camera(root)
        ready.rename(main)
        assert wait_until(lambda: _camera(root).get("state") == "ok", seconds=10), _camera(root)
        assert wait_until(lambda: any(h["final"] for h in list(uploader.segments)), seconds=25), uploader.segments
    finally:
        process.terminate()
        log = process.communicate(timeout=40)[1]
        uploader.close()
    assert process.returncode == 0, log
    said = f"cannot open the recorded stream {main} — no such file; check [camera] path"
    assert missing["state"] == "degraded" and missing["fault"].startswith(
        f"{said}; events are not recorded until it opens; retrying (attempt "), missing
    assert log.count(said) == 1, log  # said once; each retry on an info line
    assert "recorded stream open attempt 2 failed; next in 1.0 s" in log, log
    assert f"the recorded stream {main} opened after " in log and "events are recorded again" in log, log
    # what is recorded, said once, naming both streams; not the substream's own mode (the Python detector said
    # "recording by passthrough" of the substream, which is never recorded while path passes through)
    assert log.count(f"camera cam0: recording {main} by passthrough (h264, keyframes every 1.0 s); detecting on "
                     f"{sub}") == 1, log
    assert "camera cam0: recording by " not in log and "fps; recording by" not in log, log
    segments = list(uploader.segments)
    assert segments and all((h["width"], h["height"]) == (640, 480) for h in segments), segments


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_missing_main_file_retried_does_not_keep_the_detector_running_once_its_substream_ends(
        tmp_path: Path, detector: str) -> None:
    """The substream (a file in real time) ends while path is still retried: nothing is left to record, the
    detector stops as every source has ended. Before, the Python detector ran on until stopped, retrying."""
    sub = write_h264(tmp_path / "sub.mp4", 3.0, FPS, 1.0, walks=())
    root = tmp_path / "run"
    root.mkdir()
    command, env, uploader = _setup(root, tmp_path / "main.mp4", sub, True, detector)
    try:
        run = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "120"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        uploader.close()
    assert run.returncode == 0 and "detector: every source has ended; stopping" in run.stderr, run.stderr[-3000:]
