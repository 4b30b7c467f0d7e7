"""A file analysed as fast as possible (``realtime = false``) is on its own timeline in both detectors.

The Python detector puts a file's first frame at the file's creation time (its container's
``creation_time``, else its mtime minus its length: ``av_source.py``'s ``_file_start_ns``) and
every frame at its own presentation time after it, so an event's footage says when it was
filmed. The native detector timed each frame from when the detector started, a frame interval
apart: the same walk in the same file had times days apart between the two detectors (and in
the future, once the file was read faster than real time). Now both give the same times:
each event's snapshots, and its segments' starts and ends, within one frame.
"""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from quickcam.common import protocol
from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

FPS = 10.0
FRAME_MS = 1000 / FPS
CLIP_S = 16.0
# Apart: the second event's pre-roll starts after the first event's footage (the native one's pre-roll would
# reach back into it by up to a GOP, Python's does not: a difference of its own, not of the timeline)
WALKS = (Walk(2.0, 5.0), Walk(11.0, 14.0))
MTIME_NS = 1_764_105_243_000_000_000  # 2025-11-25T21:14:03Z: a file filmed long before it is analysed


class _Keeper(AckingPeer):
    """Acks everything; keeps every snapshot's and segment's header."""

    def __init__(self, endpoint: str) -> None:
        self.items: list[dict[str, Any]] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type in ("snapshot", "segment"):
            with self.lock:
                self.items.append(message.header)
        return super().answer(peer, message)


def _events(folder: Path, command: list[str], clip: Path) -> tuple[dict[str, dict[str, int]], str]:
    """Each event's first snapshot time and its footage's start and end (ms), in the order they came; the log."""
    folder.mkdir()
    endpoint = private_endpoint(folder)
    (folder / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{clip}"\nrealtime = false\n'
        f'[recording]\nsegment_s = 1.0\n[link]\nendpoint = "{endpoint}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = _Keeper(endpoint)
    try:
        run = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "60"], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr[-3000:]
    events: dict[str, dict[str, int]] = defaultdict(dict)
    for head in uploader.items:
        times = events[head["event"]]
        if head["type"] == "snapshot" and head["seq"] == 0:
            times["snapshot"] = head["time_ms"]
        if head["type"] == "segment":
            times["start"] = min(times.get("start", head["start_ms"]), head["start_ms"])
            times["end"] = max(times.get("end", head["end_ms"]), head["end_ms"])
    return dict(events), run.stderr


@pytest.mark.slow
def test_both_detectors_time_a_file_analysed_as_fast_as_possible_on_its_own_timeline(tmp_path: Path) -> None:
    clip = write_h264(tmp_path / "yard.mp4", CLIP_S, FPS, 1.0, 320, 240, walks=WALKS)
    os.utime(clip, ns=(MTIME_NS, MTIME_NS))
    python, python_log = _events(tmp_path / "python", [QUICKCAM, "detector"], clip)
    native, native_log = _events(tmp_path / "native", [str(native_detector())], clip)
    assert len(python) == len(WALKS), python_log[-3000:]
    assert len(native) == len(python), (native, python, native_log[-3000:])
    first_frame_ms = (MTIME_NS - round(CLIP_S * 1e9)) // 1_000_000  # its mtime minus its length
    for walk, theirs, ours in zip(WALKS, python.values(), native.values(), strict=True):
        # on the file's own timeline: the walk's onset is at its time in the file
        assert 0 <= theirs["snapshot"] - (first_frame_ms + walk.start_s * 1000) <= 1000, (walk, theirs)
        for key in ("snapshot", "start", "end"):  # before: days apart (the native times were the run's)
            assert abs(ours[key] - theirs[key]) <= FRAME_MS, (key, ours, theirs, native_log[-2000:])
    assert "the file's first frame is at " in native_log, native_log[-3000:]
