"""Packets that do not decode cleanly: counted by both detectors, said once a streak, shown by ``quickcam status``.

A damaged stream (a bitrate the network cannot carry) leaves packets whose macroblocks the
decoder cannot read: FFmpeg flags their pictures corrupt, or the packet fails to decode.
Passthrough recording keeps the packets as they came, but detection was blind until the next
keyframe and nothing said so: the Python detector logged it at debug level, the native one
not at all. Each detector here analyses a real H.264 file whose P-frames 25-34 and 45-54 have the
middle third of their bytes inverted (keyframes every 2 s at 10 fps): two bursts less than 10 s
apart are one streak (a stream damaged in every GOP is one warning, not one a second), which ends
at the first clean keyframe 10 s after the last damaged packet (frame 160).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import damage_h264, write_h264
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

DAMAGED = [*range(25, 35), *range(45, 55)]  # packets in decode order, all P-frames


@pytest.mark.parametrize("detector", ["python", "native"])
def test_damaged_packets_are_counted_said_once_a_streak_and_shown_by_quickcam_status(
        tmp_path: Path, detector: str) -> None:
    clean = write_h264(tmp_path / "clean.mp4", 17.0, fps=10.0, gop_s=2.0)
    video = damage_h264(clean, tmp_path / "damaged.mp4", DAMAGED)
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = false\n'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.5\n[faces]\nenabled = false\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    argv = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    uploader = AckingPeer(endpoint)
    try:
        run = subprocess.run([*argv, "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        uploader.close()
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    damaged = camera.get("damaged_packets")
    assert damaged is not None and 10 <= damaged <= len(DAMAGED), (camera, log)  # FFmpeg flags most of them
    warnings = [line for line in log.splitlines() if "did not decode cleanly at" in line]
    assert len(warnings) == 1, log  # one a streak, not one a packet
    assert "error while decoding MB" not in log, log  # FFmpeg's own lines, one a macroblock (native: once encoding)
    assert "WARNING" in warnings[0] or "level=warning" in warnings[0], warnings
    assert ("camera cam0: a packet did not decode cleanly at " in warnings[0]
            and "(a damaged stream: detection is blind until the next keyframe, recording keeps the packets; "
                "check the camera's bitrate and the network to it)" in warnings[0]), warnings
    ended = [line for line in log.splitlines() if "no damaged packet for 10 s" in line]
    assert len(ended) == 1 and f"camera cam0: no damaged packet for 10 s; {damaged} packet(s) did not decode cleanly " \
        f"from " in ended[0] and f"({damaged} since start)" in ended[0], log
    with uploader.lock:
        heard = [status.get("damaged_packets", 0) for status in uploader.cameras]
    assert heard and max(heard) <= damaged, heard  # the heartbeat carries it (the schema knows the field)
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    camera_line = next((line for line in shown.stdout.splitlines() if line.startswith("camera cam0")), "")
    assert (f"{damaged} damaged packet(s) (detection blind until the next keyframe; recorded as they came)"
            in camera_line), shown.stdout + shown.stderr
