"""A snapshot whose JPEG encoding or commit fails is counted by both detectors and shown by ``quickcam status``.

Both logged such a failure at error level, but counted none: ``quickcam status`` showed an event
with no picture as if nothing had gone wrong. The failure is real here: each detector runs with a
file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) above its 16 KiB status file and below a 1280x720
snapshot, so writing the snapshot fails with EFBIG, an error that is not a full disk (a full disk
holds snapshots in memory instead: ``snapshots_replaced``).

The same limit is below each of the event's segments too, so nothing of the event is kept: the
recorder's last word on it says so (it said "its snapshots are kept", and that the disk refused
the frames; the native one "recorded in 0 segment(s)").
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector

LIMIT_BYTES = 40_000


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited through exec: writes fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


def _walk_under_the_limit(tmp_path: Path, detector: str, env: dict[str, str]) -> tuple[str, dict]:
    """A 5 s 720p walk through ``detector`` under ``_limited``; its log and its camera's last status."""
    video = write_h264(tmp_path / "walk.mp4", 5.0, fps=10.0, gop_s=1.0, width=1280, height=720)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = false\n[faces]\nenabled = false\n')
    argv = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    run = subprocess.run([*argv, "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60, preexec_fn=_limited)
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    return run.stdout + run.stderr, camera


@pytest.mark.parametrize("detector", ["python", "native"])
def test_failed_snapshots_are_counted_and_shown_by_quickcam_status(tmp_path: Path, detector: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    log, camera = _walk_under_the_limit(tmp_path, detector, env)
    assert camera["events"] >= 1, log
    failed = camera.get("snapshots_failed")
    assert failed is not None and failed >= 1, (camera, log)
    assert f"({failed} snapshot(s) failed since start)" in log or \
        f"; {failed} snapshot(s) failed since start)" in log, log
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    camera_line = next((line for line in shown.stdout.splitlines() if line.startswith("camera cam0")), "")
    assert f"{failed} snapshot(s) failed (JPEG encoding or writing them; each logged by the detector)" in camera_line, \
        shown.stdout + shown.stderr


@pytest.mark.parametrize("detector", ["python", "native"])
def test_an_event_whose_segments_and_snapshots_all_fail_is_said_to_have_nothing_kept(
        tmp_path: Path, detector: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    log, camera = _walk_under_the_limit(tmp_path, detector, env)
    assert camera["events"] == 1 and camera["snapshots_failed"] == 1 and camera["not_recorded"] > 0, (camera, log)
    said = re.findall(r'level=(\w+) .*msg="camera cam0: event \w+: no segment recorded \((\d+) frame\(s\) not '
                      r'recorded: lost to the failures logged above\); its 1 snapshot\(s\) failed too: nothing of '
                      r'it is kept"', log)
    assert len(said) == 1 and said[0][0] == "error" and int(said[0][1]) == camera["not_recorded"], log
    assert "snapshots are kept" not in log and "recorded in 0 segment(s)" not in log, log
