"""A camera whose open never returns is said to be still opening, and at the stop never to have opened.

A file on a disk that stopped answering (a hard NFS mount, a USB disk in a reset) holds a
detector's open in its first read (both detectors; the native one in FFmpeg's open): the camera
showed ``starting`` with no fault until the health check's 30 s grace ended, and the stop said
``never delivered a frame (opened, but no frame came)`` of a source that never opened.
The hang is real: ``tests/fakes/hang_reads.c`` preloaded, every ``read()`` of the video file
blocking from the start.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from quickcam.detector.pipeline.stats import OPEN_SLOW_S
from tests.conftest import QUICKCAM
from tests.fakes.h264 import write_h264
from tests.fakes.shims import preload_shim
from tests.pipeline import Pipeline
from tests.waiting import wait_until


def test_an_open_that_never_returns_is_said_in_status_and_the_stop_does_not_call_it_opened(
    tmp_path: Path, detector_command: list[str] | None,
) -> None:
    shim = preload_shim("hang_reads", tmp_path)
    clip = write_h264(tmp_path / "yard.mp4", 2.0, 10.0, 1.0, 160, 120)
    hang = tmp_path / "hang-now"
    hang.touch()  # from the first read on
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_CAMERA__SOURCE="file",
                    QUICKCAM_CAMERA__PATH=str(clip), QUICKCAM_CAMERA__REALTIME="true")
    status_file = tmp_path / "outbox" / "detector-status.json"

    def status() -> str:
        return subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                              timeout=30).stdout

    try:
        pipe.start("detector", env={"LD_PRELOAD": str(shim), "QC_HANG_READS_FILE": str(clip.resolve()),
                                    "QC_HANG_READS_WHEN": str(hang)})
        assert pipe.wait_for("detector", "hang_reads: a read of", 60), pipe.output("detector")[-3000:]
        assert wait_until(status_file.exists, 30), pipe.output("detector")[-3000:]
        time.sleep(OPEN_SLOW_S)
        assert wait_until(lambda: "still opening after" in status(), 20), (status(), pipe.output("detector")[-3000:])
        live = status()
        camera = json.loads(status_file.read_text())["cameras"]["cam0"]
        code = pipe.stop("detector", timeout=60)
    finally:
        pipe.close()
    output = pipe.output("detector")
    assert "camera cam0: starting (still opening after " in live, live  # before: `starting`, no fault
    assert camera["state"] == "starting" and "the open has not returned" in camera["fault"], camera
    # Counted, as other faults (before: said in the fault only, no counter once it went)
    assert camera["slow_opens"] == 1, camera
    assert "since start: 1 open(s) that took 5 s or more (or never returned" in live, live
    assert code == 3, output[-3000:]
    assert "opened, but no frame came" not in output, output[-3000:]
    assert "camera cam0 never delivered a frame (its open had not returned after " in output, output[-3000:]
