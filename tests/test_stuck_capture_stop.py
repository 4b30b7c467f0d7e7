"""A camera stuck in a read at the stop: its open segment is stored all the same, and the detector exits in budget.

A source that stops answering in the middle of a read (a stream, a disk or a network share gone
silent) holds its capture thread in that read. The capture thread is what told the rest of the
camera that the stop had come (its end marker): the Python detector waited 10 s for it, gave up,
and exited with the running event's open segment left in staging, swept at the next start, lost;
the native detector's stop joined the thread with no deadline at all and hung until the service
manager's SIGKILL (30 s), losing the same segment. Now both give a capture 2 s to end after the
stop; one still in its read is given up, its recorder commits the open segment from the frames
already handed over, and the stop goes on within its 25 s budget (``STOP_MAX_S``), saying so.

The read is stuck for real: a shim preloaded into the process (``tests/fakes/hang_reads.c``, built
here with the C compiler the native build installs) makes every ``read()`` of the camera's video
file block for ever once the test creates a file. The camera is that file played at its own pace
(``realtime``), a walker crossing it from the first second to the last: an event runs at the stop.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.detector.app import STOP_MAX_S
from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM
from tests.fakes.h264 import write_h264
from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import Pipeline
from tests.waiting import wait_until

CLIP_S = 12.0
FPS = 10.0
# A dense clip: FFmpeg reads 32 KB at a time, a fraction of a second of it; the read that hangs comes soon
BITRATE = 2_000_000



def _segments(pipe: Pipeline) -> set[str]:
    return {row["id"] for row in pipe.produced() if row["type"] == "segment"}



@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled; the one bound is the stop's budget, 10 times what it takes
@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_capture_stuck_in_a_read_at_the_stop_is_given_up_its_open_segment_stored_and_the_detector_exits_in_budget(
        tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    shim = preload_shim("hang_reads", tmp_path)
    clip = write_h264(tmp_path / "yard.mp4", CLIP_S, FPS, 1.0, 320, 240, walks=(Walk(1.0, CLIP_S),), bitrate=BITRATE)
    hang = tmp_path / "hang-now"
    pipe = Pipeline(tmp_path, detector=command, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(clip),
                    QUICKCAM_CAMERA__REALTIME="true", QUICKCAM_CAMERA__FPS=str(FPS),
                    QUICKCAM_RECORDING__SEGMENT_S="1")
    try:
        pipe.start_uploader_listening()
        process = pipe.start("detector", env={"LD_PRELOAD": str(shim), "QC_HANG_READS_FILE": str(clip.resolve()),
                                              "QC_HANG_READS_WHEN": str(hang)})
        # The event runs and is recorded: a segment of it committed, then the disk under the file stops answering.
        assert wait_until(lambda: _segments(pipe), 60), pipe.output("detector")[-3000:]
        hang.touch()
        assert pipe.wait_for("detector", "hang_reads: a read of", 30), pipe.output("detector")[-3000:]
        time.sleep(1.0)  # the frames read before the hang reach the recorder; no segment is cut without new frames
        before = _segments(pipe)
        assert process.poll() is None, pipe.output("detector")[-3000:]
        stopped_at = time.monotonic()
        try:
            code = pipe.stop("detector", timeout=STOP_MAX_S + 10)  # the old native detector: killed at 35 s
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {STOP_MAX_S + 10:.0f} s after SIGTERM:\n{pipe.output('detector')[-3000:]}")
        stop_s = time.monotonic() - stopped_at
        after = _segments(pipe)
        assert pipe.wait_drained(30), pipe.output("detector")[-3000:]
        pipe.stop("uploader")
    finally:
        pipe.close()
    output = pipe.output("detector")
    print(f"{detector}: exited {stop_s:.1f} s after SIGTERM, {len(after - before)} segment(s) committed at the stop")
    # The open segment (the frames handed over before the hang) is committed and stored, not left in staging to be
    # swept at the next start (the old Python detector: 0 segments at the stop, "all footage handed to the
    # uploader"); the stuck capture is said.
    assert after > before, (len(before), len(after), output[-3000:])
    assert "camera cam0: capture has not ended " in output and " s after the stop (a read from " in output, \
        output[-3000:]
    assert "capture stuck at the stop during event " in output, output[-3000:]
    # The walk's one event, whole: every segment its recorder counted was committed (native: "(N segments)" at the
    # stop; Python: "recorded in N segment(s)").
    counted = re.search(r"\((\d+) segments\)|recorded in (\d+) segment\(s\)", output.split("stopping;")[-1])
    assert counted and len(after) == int(counted.group(1) or counted.group(2)), (len(after), output[-3000:])
    assert code == 0, output[-3000:]
    assert stop_s < STOP_MAX_S, output[-3000:]  # the old native detector: no exit; the old Python one: 10.2 s
    assert "Traceback" not in output, output[-3000:]
    pipe.check_invariant()  # every item produced is in storage, whole
