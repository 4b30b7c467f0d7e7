"""The native capture loop throwing in the middle of an event, through the real process: the event carries on.

The Python detector's detection loop restarts with its state on the stage object, so a failure in
the middle of a walk leaves one event, recorded (tests/detector/test_supervision.py,
``test_a_detection_error_is_logged_once_counted_and_the_loop_restarts_with_the_event_recorded``).
The native detector's capture loop is capture and detection in one: here its source throws (no
converter for the picture: ``runtime_error: no converter from this video's pixel format``) at three
pictures in the middle of a walk, through a small shim preloaded into the binary
(``tests/fakes/no_scaler.c``: swscale gives no context for those pictures; the clip is Motion JPEG,
full-range 4:2:0, which every picture goes through swscale for). The file goes on after each
picture that threw, counted as dropped; the failure is said once and counted; the walk is one event,
recorded to its end.
"""

from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import av

from quickcam.detector.sources import DemoSource, Walk
from tests.conftest import private_endpoint
from tests.fakes.shims import preload_shim
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

FPS = 10.0
FAILURE = "runtime_error: no converter from this video's pixel format"
FAILING = (40, 3)  # pictures 40-42 of the 100: the walker (2 s to 7 s) in the middle of the picture



def _walk_mjpeg(path: Path, seconds: float = 10.0) -> Path:
    """The demo scene as Motion JPEG (full-range 4:2:0: every picture is converted by swscale), a walk 2-7 s."""
    demo = DemoSource(320, 240, FPS, realtime=False, walks=(Walk(2.0, 7.0),), period_s=10_000.0)
    with av.open(str(path), mode="w", format="matroska") as output:
        stream = output.add_stream("mjpeg", rate=Fraction(int(FPS)))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuvj420p"
        for _ in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(demo.read().image, format="bgr24").reformat(format="yuvj420p")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def _analyse(root: Path, video: Path, env: dict[str, str]) -> tuple[list[dict], dict, str]:
    """The native detector on ``video`` as fast as possible: the outbox's journal rows, the camera, the log."""
    root.mkdir()
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = false\n[link]\nendpoint = "{endpoint}"\n')
    uploader = AckingPeer(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "60"], cwd=root,
                             env=env, capture_output=True, text=True, timeout=90)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr
    outbox = root / "outbox"
    rows = [json.loads(line) for line in (outbox / "produced.jsonl").read_text().splitlines()]
    camera = json.loads((outbox / "detector-status.json").read_text())["cameras"]["cam0"]
    assert not list((outbox / ".staging").iterdir()), "an open segment was left in staging"
    return rows, camera, run.stderr


def test_a_native_capture_loop_throwing_mid_event_is_said_once_counted_and_the_event_carries_on(
        tmp_path: Path) -> None:
    video = _walk_mjpeg(tmp_path / "walk.mkv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    clean_rows, _, _ = _analyse(tmp_path / "clean", video, env)
    failing = env | {"LD_PRELOAD": str(preload_shim("no_scaler", tmp_path)), "QC_NO_SCALER_FROM": str(FAILING[0]),
                     "QC_NO_SCALER_COUNT": str(FAILING[1])}
    rows, camera, log = _analyse(tmp_path / "failing", video, failing)
    assert log.count("no_scaler: no converter for picture") == FAILING[1], log  # the failures did happen
    failed = [line for line in log.splitlines() if "capture loop failed (" in line]
    assert len(failed) == 1 and f"camera cam0: capture loop failed ({FAILURE}); restarting it" in failed[0], log
    assert camera["loops"]["capture"]["errors"] == FAILING[1] and camera["dropped"] == FAILING[1], camera
    assert camera["state"] == "ended" and camera["events"] == 1, camera  # before: the walk cut into 2 events
    segments = [row for row in rows if row["type"] == "segment"]
    clean = [row for row in clean_rows if row["type"] == "segment"]
    assert len({row["event"] for row in rows}) == 1, rows
    assert [row["seq"] for row in segments] == list(range(len(segments))), segments
    assert f"camera cam0: event {rows[0]['event']} recorded in {len(segments)} segment(s)" in log, log  # the final
    # the walk recorded to its end: the clean run's footage less the pictures that threw
    assert sum(row["frames"] for row in segments) == sum(row["frames"] for row in clean) - FAILING[1], (segments, clean)
    assert segments[-1]["end_ms"] - segments[0]["start_ms"] == clean[-1]["end_ms"] - clean[0]["start_ms"]
