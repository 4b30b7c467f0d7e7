"""A file analysed as fast as possible whose own times step back (two MPEG-TS files joined with ``cat``, the
second's times starting over): an event's segments never go back in time (protocol.md, section 4: in ``seq``
order a segment starts after the one before ended), and keep the file's spacing. Both detectors, the same line.

Before, the Python detector's times followed the file back: the segment after the step started 3.4 s before the
one before it ended; the native detector clamped each frame a nanosecond after the last: 50 frames in 0.9 s.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import jump_mpegts, write_h264
from tests.native_build import native_detector
from tests.test_native_passthrough import KeepingPeer, _playable

FPS = 10.0


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_files_times_stepping_back_never_take_an_events_segments_back(tmp_path: Path, detector: str) -> None:
    whole = write_h264(tmp_path / "whole.ts", 12.0, FPS, 1.0, walks=(Walk(1.5, 3.5), Walk(5.0, 9.0)),
                       container="mpegts")
    video = jump_mpegts(whole, tmp_path / "camera.ts", 65, -4.0)  # mid-GOP, during the second walk
    root = tmp_path / "run"
    root.mkdir()
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\nrealtime = false\nfps = {FPS:g}\npath = "{video}"\n'
        '[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\n'
        f'[link]\nendpoint = "{endpoint}"\n')
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = KeepingPeer(endpoint)
    try:
        run = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("camera cam0: the file's times step back by 3.9 s (parts joined without their times "
                            "made continuous?); its timeline goes on a frame after the latest, never back") == 1, \
        run.stderr
    events: dict[str, list[tuple[dict, Path]]] = {}
    for head in uploader.segments:
        path = root / f"{head['id']}.mp4"
        path.write_bytes(uploader.payloads[head["id"]])
        events.setdefault(head["event"], []).append((head, path))
    assert len(events) == 2, events
    for segments in events.values():
        segments.sort(key=lambda s: s[0]["seq"])
        _playable(segments)  # its frames at the file's spacing: (frames - 1) / fps apart
        heads = [h for h, _ in segments]
        assert all(b["start_ms"] > a["end_ms"] for a, b in zip(heads, heads[1:], strict=False)), heads
    second = sorted(events.values(), key=lambda s: s[0][0]["start_ms"])[1]
    assert sum(h["frames"] for h, _ in second) >= 5.0 * FPS, second  # the whole walk, none squeezed out
