"""A full disk never blinds the camera: the real detector with its outbox on a small tmpfs.

The test mounts its own tmpfs as the outbox (root only; it skips with the reason
otherwise), runs the detector on the demo scene with no uploader, fills the disk
before the first walk, and checks that detection goes on (the walk is an event),
that `quickcam status` shows the fault, that full recording resumes within 2 s
of the space coming back, and that the second walk is in the journal and, once
the uploader runs, in storage (the no-loss invariant).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgpack
import pytest

from quickcam.common.status_shape import detector_problem
from quickcam.uploader import cli as uploader_cli
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.tmpfs import fill, tmpfs

# The budget policy reduces segments below 256 MB free (detector/outbox.py), so the disk is a
# little larger than that: with the filler gone, recording is full again.
DISK_MB = 320
# The demo's script from its start (the disk is filled before the first walk) with 5 s between the walks
# ([camera] demo_gap_s): the walk at 4-10 s, the walk back at 15-20 s instead of 18-23 s, again every 27 s.
GAP_S = 5
WALKS = ((4.0, 10.0), (10.0 + GAP_S, 15.0 + GAP_S))


@pytest.fixture
def small_outbox(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "outbox", f"size={DISK_MB}m,mode=0700") as outbox:
        yield outbox


def _log_time(line: str) -> float:
    """The Unix time of a logfmt line (``ts=2026-11-25T12:03:35.120Z``)."""
    stamp = re.search(r"ts=(\S+)Z", line).group(1)
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def _status(pipe: Pipeline) -> tuple[str, dict]:
    text = subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30).stdout
    # Read as `quickcam status` reads it: on a full disk the detector rewrites it in place, so a read may
    # catch it half written and is made again.
    status = uploader_cli._read_json(pipe.root / "outbox" / "detector-status.json", detector_problem)
    return text, status["cameras"]["cam0"]


def _segments(outbox: Path, event: str) -> list[dict]:
    headers = [msgpack.unpackb(p.read_bytes()) for p in outbox.glob("*.hdr")]
    return [h for h in headers if h["type"] == "segment" and h["event"] == event]


@pytest.mark.slow
def test_a_full_disk_keeps_detection_running_says_so_and_full_recording_resumes_when_space_is_back(
    tmp_path: Path, small_outbox: Path,
) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_RECORDING__SEGMENT_S="1.0", QUICKCAM_RECORDING__POST_ROLL_S="1.0",
                    QUICKCAM_CAMERA__DEMO_GAP_S=str(GAP_S))
    try:
        pipe.start("detector")  # no uploader: everything stays in the outbox
        assert pipe.wait_for("detector", "demo scene clock starts", 30), pipe.output("detector")[-3000:]
        scene_t0 = int(re.search(r"demo scene clock starts at (\d+) ms", pipe.output("detector")).group(1)) / 1000
        status_file = small_outbox / "detector-status.json"
        deadline = time.monotonic() + 10
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert time.time() < scene_t0 + WALKS[0][0] - 1, "too slow to fill the disk before the first walk"
        filler = fill(small_outbox)

        # The first walk, with no room on the disk: detected, counted, and said.
        filled_at = len(pipe.output("detector"))
        assert pipe.wait_for("detector", "recording snapshots only", 30), pipe.output("detector")[-3000:]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the status file is rewritten every 2 s, in place
            text, camera = _status(pipe)
            if "DISK FULL" in text and camera["events"] >= 1:
                break
            time.sleep(0.5)
        assert "camera cam0: DISK FULL, recording snapshots only" in text, text
        assert camera["state"] == "degraded" and camera["write_failures"] >= 1, camera
        assert camera["events"] >= 1, camera  # the walk was seen with no room to write
        assert pipe.wait_for("detector", " ends", 30)  # the walk is over (its snapshot still in memory)
        while_full = pipe.output("detector")[filled_at:]
        events_while_full = while_full.count("motion, event")
        assert events_while_full >= 1

        before_free = len(pipe.output("detector"))
        freed_at = time.time()
        filler.unlink()
        deadline = time.monotonic() + 10
        while "full recording resumes" not in pipe.output("detector")[before_free:] and time.monotonic() < deadline:
            time.sleep(0.05)
        after = pipe.output("detector")[before_free:]
        resumed = next((line for line in after.splitlines() if "full recording resumes" in line), None)
        assert resumed, pipe.output("detector")[-3000:]
        resume_s = _log_time(resumed) - freed_at
        assert -0.05 <= resume_s <= 2.0, f"full recording resumed {resume_s:.2f} s after space came back"
        assert any(row["type"] == "snapshot" for row in pipe.produced())  # the held snapshot, journaled
        text, camera = _status(pipe)
        deadline = time.monotonic() + 30
        while "DISK FULL" in text and time.monotonic() < deadline:
            time.sleep(0.5)
            text, camera = _status(pipe)
        assert camera["state"] == "ok" and camera["fault"] == "", camera

        # The next walk (the second, or on a slow machine the third): recorded in full, in the journal.
        deadline = time.monotonic() + 50
        last = None
        while time.monotonic() < deadline:
            starts = re.findall(r"motion, event (\w+) starts", pipe.output("detector")[before_free:])
            last = starts[-1] if starts else None
            if last and f"event {last} recorded in" in pipe.output("detector"):
                break
            time.sleep(0.5)
        journal = [row for row in pipe.produced() if row["event"] == last]
        assert any(row["type"] == "snapshot" for row in journal), journal
        full = _segments(small_outbox, last)
        assert full and all((h["width"], h["height"], h["fps"]) == (640, 480, 15.0) for h in full), full
        assert len([r for r in journal if r["type"] == "segment"]) == len(full)

        pipe.start("uploader")  # everything held in the outbox now reaches storage
        assert pipe.wait_drained(60), f"missing after drain: {pipe.missing()}"
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(60), f"missing after drain: {pipe.missing()}"
        assert pipe.stop("uploader") == 0
        figures = pipe.check_invariant()
        pipe.record("9. disk full: outbox disk filled up", f"outbox on a {DISK_MB} MB tmpfs filled to ENOSPC with the "
                    f"uploader away: {events_while_full} event(s) detected while full, {camera['write_failures']} "
                    f"write(s) refused and retried; full recording {max(0.0, resume_s):.2f} s after space was back",
                    figures)
    finally:
        pipe.close()
