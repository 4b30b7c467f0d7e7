"""A file analysed by the native detector that hits a read error goes on where it was: nothing analysed twice.

The native source took a failed read of a file for its end: the rest was never analysed and the
camera said ``end of file``, its analysis complete. A read error is now a lost source: closed,
opened again and resumed after the last packet read (``AvSource::resume``, Python's
``av_source.py`` ``_resume``): the frames from the keyframe before it are decoded again only as
references, none handed on twice, so the run gives what a run without the error gives (as
``tests/detector/test_file_read_error.py`` holds the Python detector to).

The error is real for the binary: a small shim preloaded into it (``tests/fakes/eio_once.c``,
built here with the C compiler the native build installs) makes the file's ``read()`` fail with
EIO from 55 % of its video data until the file is closed, once: a network share's hiccup.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

from quickcam.detector.sources import Walk
from tests.conftest import private_endpoint
from tests.fakes.h264 import write_h264
from tests.fakes.shims import preload_shim
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

FPS, SECONDS = 10.0, 12.0



def _mdat(video: Path) -> tuple[int, int]:
    """Where the MP4's video data lies: (first byte, end)."""
    data, at = video.read_bytes(), 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"mdat":
            return at + 8, at + size
        at += size
    raise AssertionError("no mdat box")


def _analyse(root: Path, video: Path, env: dict[str, str]) -> tuple[list[tuple], dict, str]:
    """Each segment's (event number, start and end from the first, frames, final), the camera, the log."""
    root.mkdir()
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = false\n'
        '[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\n'
        f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 1\n')
    uploader = AckingPeer(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "30"], cwd=root,
                             env=env, capture_output=True, text=True, timeout=60)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr
    camera = json.loads((root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    events: dict[str, int] = {}
    first = uploader.segments[0]["start_ms"] if uploader.segments else 0
    segments = [(events.setdefault(s["event"], len(events)), s["start_ms"] - first, s["end_ms"] - first, s["frames"],
                 s["final"]) for s in uploader.segments]
    return segments, camera, run.stderr


def test_a_native_file_read_error_resumes_after_what_was_read_without_duplicates_or_a_cut(tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walks.mp4", SECONDS, FPS, 1.0, walks=(Walk(1.0, 3.0), Walk(8.0, 9.5)),
                       bitrate=1_000_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    expected, plain, _ = _analyse(tmp_path / "plain", video, env)
    assert len({segment[0] for segment in expected}) == 2 and plain["frames"] == SECONDS * FPS, (expected, plain)

    start, end = _mdat(video)
    failing_env = {**env, "LD_PRELOAD": str(preload_shim("eio_once", tmp_path)), "QC_EIO_PATH": str(video.resolve()),
                   "QC_EIO_FROM": str(start + (end - start) * 55 // 100), "QC_EIO_TO": str(end)}
    segments, camera, log = _analyse(tmp_path / "failing", video, failing_env)
    assert "eio_once: reads of fd" in log, log  # the error did happen
    # before: taken for the end of the file, the second walk never analysed (one event, 60-odd frames)
    assert camera["state"] == "ended" and camera["frames"] == SECONDS * FPS, camera
    assert camera["events"] == 2, camera
    assert segments == expected  # no frame twice, none missing, the same events
    assert "camera cam0: read error in " in log and "resuming the file after what was read before the error" in log
    assert "cannot seek back" not in log, log  # resumed from the keyframe before the error, not from the start
