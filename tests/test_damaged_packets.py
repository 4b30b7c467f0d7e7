"""Packets that do not decode cleanly: counted by both detectors, said once a streak, shown by ``quickcam status``.

A damaged stream (a bitrate the network cannot carry) leaves packets whose macroblocks the
decoder cannot read: FFmpeg flags their pictures corrupt, or the packet fails to decode.
Passthrough recording keeps the packets as they came, but detection was blind until the next
keyframe and nothing said so: the Python detector logged it at debug level, the native one
not at all. Each detector here analyses a real H.264 file whose P-frames 25-34 and 45-54 have the
middle third of their bytes inverted (keyframes every 2 s at 10 fps): two bursts less than 10 s
apart are one streak (a stream damaged in every GOP is one warning, not one a second), which ends
at the first clean keyframe 10 s after the last damaged packet (frame 160).

A damaged picture is recorded, not analysed: the one flagged corrupt and those predicted from
it up to the next keyframe (pictures 25-39 and 45-59). Analysed, on this footage, the broken
blocks held the walker's event open 3 s longer (the Python detector; 1 s the native one) and made
a snapshot of a broken picture. While the streak is open the camera is ``degraded``, its fault
saying since when and how much; the fault goes when the streak ends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.uploader.cli import camera_line
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import damage_h264, write_h264
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

DAMAGED = [*range(25, 35), *range(45, 55)]  # packets in decode order, all P-frames
NOT_ANALYSED = 30  # pictures 25-39 and 45-59: each burst's and those predicted from it, up to the next keyframe


@pytest.mark.parametrize("detector", ["python", "native"])
def test_damaged_packets_are_counted_said_once_a_streak_and_shown_by_quickcam_status(
        tmp_path: Path, detector: str) -> None:
    clean = write_h264(tmp_path / "clean.mp4", 17.0, fps=10.0, gop_s=2.0)
    video = damage_h264(clean, tmp_path / "damaged.mp4", DAMAGED)
    run, heard_statuses = _detect(tmp_path, video, detector)
    log = run.stdout + run.stderr
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
        f"from " in ended[0] and f", {NOT_ANALYSED} picture(s) not analysed ({damaged} packet(s), {NOT_ANALYSED} " \
        "picture(s) since start)" in ended[0], log
    heard = [status.get("damaged_packets", 0) for status in heard_statuses]
    assert heard and max(heard) <= damaged, heard  # the heartbeat carries it (the schema knows the field)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    camera_line = next((line for line in shown.stdout.splitlines() if line.startswith("camera cam0")), "")
    assert (f"{damaged} damaged packet(s) (detection blind until the next keyframe; recorded as they came)"
            in camera_line), shown.stdout + shown.stderr


def _detect(tmp_path: Path, video: Path, detector: str, realtime: bool = False, seconds: int = 30,
            camera: str = "") -> tuple[subprocess.CompletedProcess, list[dict]]:
    """``detector`` on ``video`` in ``tmp_path`` (``camera``: more of its ``[camera]`` keys): the run, and the
    camera statuses its heartbeats carried."""
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = {str(realtime).lower()}\n{camera}'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.5\n[faces]\nenabled = false\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    argv = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    uploader = AckingPeer(endpoint)
    try:
        run = subprocess.run([*argv, "--config", "quickcam.toml", "--seconds", str(seconds)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=seconds + 60)
        with uploader.lock:
            heard = list(uploader.cameras)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stdout + run.stderr
    return run, heard


def _events(outbox: Path) -> list[tuple[int, int, int]]:
    """Each event's snapshots, footage length (ms) and frames, from the outbox's journal."""
    rows = [json.loads(line) for line in (outbox / "produced.jsonl").read_text().splitlines()]
    events: dict[str, list[dict]] = {}
    for row in rows:
        events.setdefault(row["event"], []).append(row)
    found = []
    for event in events.values():
        segments = [row for row in event if row["type"] == "segment"]
        length = max(row["end_ms"] for row in segments) - min(row["start_ms"] for row in segments) if segments else 0
        found.append((sum(row["type"] == "snapshot" for row in event), length, sum(r["frames"] for r in segments)))
    return found


@pytest.mark.parametrize("detector", ["python", "native"])
def test_damaged_pictures_are_recorded_not_analysed_and_the_event_is_the_clean_footages(
        tmp_path: Path, detector: str) -> None:
    clean = write_h264(tmp_path / "clean.mp4", 17.0, fps=10.0, gop_s=2.0)  # a walker from 1 s to 3 s
    video = damage_h264(clean, tmp_path / "damaged.mp4", DAMAGED)
    (tmp_path / "clean").mkdir()
    (tmp_path / "damaged").mkdir()
    _detect(tmp_path / "clean", clean, detector)
    run, _ = _detect(tmp_path / "damaged", video, detector)
    expected = _events(tmp_path / "clean" / "outbox")
    assert len(expected) == 1 and expected[0][0] == 1, expected  # one event, its onset snapshot
    # before: a second snapshot (of a broken picture at 2.5 s), and the event 3 s (native: 1 s) longer
    assert _events(tmp_path / "damaged" / "outbox") == expected, run.stderr


FAULT = re.compile(r"damaged stream since \d\d:\d\d:\d\d: (\d+) packet\(s\) did not decode cleanly, (\d+) picture\(s\) "
                   r"not analysed \(recorded as they came\)")


@pytest.mark.realtime  # the heartbeats read while the file plays at its own pace
@pytest.mark.parametrize("detector", ["python", "native"])
def test_an_open_damage_streak_makes_the_camera_degraded_with_its_fault_until_the_streak_ends(
        tmp_path: Path, detector: str) -> None:
    # The streak ends 2 s after its last damaged packet ([camera] damaged_clear_s; 10 s by default, which
    # the test above checks): at the keyframe at 8 s instead of 16 s, and the file plays 10 s instead of 19 s.
    clean = write_h264(tmp_path / "clean.mp4", 10.0, fps=10.0, gop_s=2.0)
    video = damage_h264(clean, tmp_path / "damaged.mp4", DAMAGED)
    run, heard = _detect(tmp_path, video, detector, realtime=True, camera="damaged_clear_s = 2\n")
    said = [(status["state"], status["fault"]) for status in heard]
    damaged = [index for index, (_, fault) in enumerate(said) if FAULT.fullmatch(fault)]
    # before: "ok", no fault, while detection did not analyse a picture in three
    assert damaged and all(said[index][0] == "degraded" for index in damaged), said
    counts = [tuple(int(n) for n in FAULT.fullmatch(said[index][1]).groups()) for index in damaged]
    assert counts[0][0] < counts[-1][0] <= len(DAMAGED) and counts[-1][1] == NOT_ANALYSED, counts  # both bursts
    # the streak ends at the keyframe at 8 s (not 16 s: the setting honoured): ok again, no fault, until the file ends
    after = said[damaged[-1] + 1:]
    assert ("ok", "") in after and all(state in ("ok", "ended") and not fault for state, fault in after), said
    assert "camera cam0: no damaged packet for 2 s; " in run.stdout + run.stderr, run.stderr  # the end line says it
    line = camera_line("cam0", heard[damaged[-1]], time.time())
    assert line.startswith(f"camera cam0: {said[damaged[-1]][1]} at "), line  # quickcam status: the fault first
