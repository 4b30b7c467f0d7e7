"""The native detector on a full disk: detection goes on, footage is held, it says so, and it recovers.

Its outbox is a tmpfs of the test's own (root only, else a skip), filled to ENOSPC
before the demo's first walk (4-10 s of every 30 s). Before the disk ladder was
ported, the first refused write ended the camera's threads and the process exited
(code 4): a camera blind until its service manager restarted it, and the event's
snapshot lost. Now, as the Python detector (tests/test_disk_full.py): the snapshot
is held in memory, recording steps down to snapshots only, the status says
``DISK FULL``, and within a probe interval of the space coming back the held
snapshot is written and the rest of the walk is recorded in full.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector
from tests.tmpfs import fill, tmpfs


@pytest.fixture
def small_outbox(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "outbox", "size=24m,mode=0700") as outbox:
        yield outbox


def _camera(outbox: Path) -> dict:
    try:
        return json.loads((outbox / "detector-status.json").read_text())["cameras"]["cam0"]
    except (OSError, ValueError, KeyError):
        return {}


def _wait(predicate, seconds: float) -> bool:  # noqa: ANN001 - a small local helper
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.realtime
def test_the_native_detector_on_a_full_disk_holds_the_snapshot_says_so_and_records_in_full_once_space_is_back(
    tmp_path: Path, small_outbox: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_RECORDING__SEGMENT_S": "1.0",
            "QUICKCAM_RECORDING__POST_ROLL_S": "1.0"}
    log_path = tmp_path / "detector.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([str(native_detector())], cwd=tmp_path, env=env, stdout=log_file, stderr=log_file)
    log = log_path.read_text
    try:
        assert _wait(lambda: "demo scene clock starts" in log() and _camera(small_outbox), 15), log()
        scene_t0 = int(re.search(r"demo scene clock starts at (\d+) ms", log()).group(1)) / 1000
        assert time.time() < scene_t0 + 3.5, "too slow to fill the disk before the first walk"
        filler = fill(small_outbox)

        # The walk, with no room on the disk: detected, its snapshot held, recording down to snapshots only.
        assert _wait(lambda: "recording snapshots only" in log(), 20), log()[-3000:]
        assert _wait(lambda: _camera(small_outbox).get("state") == "degraded", 5), _camera(small_outbox)
        camera = _camera(small_outbox)  # rewritten in place: the disk has no room for a new copy
        # the onset snapshot, and the newest one if the walk grew: the event's first picture is never given up
        assert re.match(r"DISK FULL, recording snapshots only, [12] snapshot\(s\) and \d+ segment\(s\) held",
                        camera["fault"]), camera
        assert camera["events"] >= 1 and camera["write_failures"] >= 1 and camera["not_recorded"] >= 1, camera
        status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=30).stdout
        assert "camera cam0: DISK FULL, recording snapshots only" in status, status
        assert proc.poll() is None, log()[-3000:]  # never a crash, never an exit

        freed_at, before = time.monotonic(), len(log())
        filler.unlink()
        assert _wait(lambda: "the disk takes writes again; full recording resumes" in log()[before:], 10), log()[-3000:]
        resume_s = time.monotonic() - freed_at  # a probe every 0.5 s; the log's clock has only seconds
        assert resume_s <= 2.0, f"full recording resumed {resume_s:.2f} s after space came back"
        assert "written from memory" in log()[before:]
        journal = [json.loads(line) for line in (small_outbox / "produced.jsonl").read_text().splitlines()]
        event = journal[0]["event"]
        assert journal[0]["type"] == "snapshot" and journal[0]["seq"] == 0, journal  # the onset, held, first

        # The rest of the walk: full segments (640x480) of the same event, and the camera ok again.
        def full_segment() -> bool:
            headers = [msgpack.unpackb(path.read_bytes()) for path in small_outbox.glob("*.hdr")]
            return any(h["type"] == "segment" and h["event"] == event and h["width"] == 640 for h in headers)

        assert _wait(full_segment, 10), log()[-3000:]
        assert _wait(lambda: _camera(small_outbox).get("state") == "ok", 5), _camera(small_outbox)
        assert _camera(small_outbox)["fault"] == ""
        assert proc.poll() is None
        assert not list((small_outbox / ".staging").glob("probe-*"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
