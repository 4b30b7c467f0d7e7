"""A real ``quickcam detector`` on a video whose lens gets covered: ``quickcam status`` says the camera cannot see,
and the moments before were recorded as an event though the motion core took the cover for a change of light.
The native detector (docs/native.md) runs the same scenario."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.detector.pipeline.view_guard import BLOCKED_S
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_covered_lens
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector

pytestmark = pytest.mark.one_worker  # the covered video (9-11 s to encode) is a module fixture: made once

FPS, CLEAR_S, FADE_S, COVERED_S = 10.0, 3.0, 1.0, 30.0


def covered_video(path: Path) -> Path:
    """The demo scene (no walker) for CLEAR_S, then a cloth over the lens: a smooth fade to a dark blur."""
    return write_covered_lens(path, CLEAR_S, COVERED_S, FPS, fade_s=FADE_S,
                              options={"preset": "veryfast", "g": str(int(FPS)), "bf": "0", "crf": "28"})


@pytest.fixture(scope="module")
def garage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The covered video, made once for both detectors (a few seconds of encoding)."""
    return covered_video(tmp_path_factory.mktemp("view_blocked") / "garage.mp4")


def _says_blocked(status_file: Path) -> bool:
    """The detector's status file says cam0 cannot see (it is replaced whole, every 2 s)."""
    try:
        return json.loads(status_file.read_text())["cameras"]["cam0"].get("view") == "blocked"
    except (OSError, ValueError, KeyError):
        return False


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_covered_lens_is_shown_blind_in_quickcam_status_and_the_covering_is_recorded(
        tmp_path: Path, garage: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update(QUICKCAM_LINK__ENDPOINT=private_endpoint(tmp_path), QUICKCAM_CAMERA__SOURCE="file",
               QUICKCAM_CAMERA__PATH=str(garage), QUICKCAM_CAMERA__RECORD="reencode")
    output_file, status_file = tmp_path / "detector.out", tmp_path / "outbox" / "detector-status.json"
    # An uploader that acks everything: at stop the detector has nothing left to wait for (with none there it
    # waits 5 s for one to come). The journal (produced.jsonl) keeps what was recorded.
    uploader = AckingPeer(env["QUICKCAM_LINK__ENDPOINT"])
    try:
        with open(output_file, "w") as output_to:
            process = subprocess.Popen([*command, "--seconds", "120"], cwd=tmp_path, env=env,
                                       stdout=output_to, stderr=subprocess.STDOUT, text=True)
    except BaseException:
        uploader.close()
        raise
    live = ""
    try:
        deadline = time.monotonic() + 90  # the file plays in real time; a loaded machine may lag behind it
        while time.monotonic() < deadline and not _says_blocked(status_file) and process.poll() is None:
            time.sleep(0.2)  # the file, not `quickcam status` (a process each time) until it says so
        live = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=30).stdout
        camera = json.loads(status_file.read_text())["cameras"]["cam0"]
    finally:
        process.terminate()
        process.wait(timeout=60)
        uploader.close()
    output = output_file.read_text()
    assert "camera cam0: view blocked: the picture has no detail for" in live, (live, output[-3000:])
    assert "lens covered or sprayed, or no light at all" in live
    assert "since start: 1 time(s) the camera could not see (covered, turned away or frozen)" in live, live
    assert camera["state"] == "degraded" and camera["view"] == "blocked" and camera["view_faults"] == 1, camera
    # the motion core saw a change of light, not motion; the guard started the event that kept the pre-roll
    assert "camera cam0: view blocked, event" in output, output[-3000:]
    assert "camera cam0: motion, event" not in output, output[-3000:]
    journal = tmp_path / "outbox" / "produced.jsonl"
    items = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
    segments = [item for item in items if item.get("type") == "segment"]
    assert segments and len({item["event"] for item in items}) == 1, items
    # The footage reaches back to where the cover began, BLOCKED_S (4 s) before the guard said so (the onset
    # snapshot): both hold 2 s beyond the 2 s pre-roll then (the native one only while a cover is suspected).
    # A native one that kept only the pre-roll started 2.1 s before the snapshot, the cloth already over the lens.
    said = next(item for item in items if item.get("type") == "snapshot")
    lead_s = (said["time_ms"] - min(item["start_ms"] for item in segments)) / 1000
    assert lead_s >= BLOCKED_S - 0.5, (lead_s, items)
