"""An encoder that fails on a frame mid-event (libx264 under memory pressure) loses no frame: said once, counted.

Under a ~680 MB address-space limit libx264 could not open now and then (``x264 [error]: malloc of size … failed``,
``encoding failed (1 frame(s) of event … lost); starting a new segment``): the frame it failed on was lost, and
the Python detector tried H.264 again at the next frame, the native one at every frame while it lasted (31 frames in
2.5 s). Now the segment's frames so far are committed and the frame starts a new segment in mp4v; H.264 is tried
again at the next segment; the camera's status line counts the failures while the last is recent (the native
detector's said nothing). The failure is made for real and on cue: a shim preloaded into the detector
(``tests/fakes/x264_fails.c``) makes libx264's encoder open fail while a file exists.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline


@pytest.mark.realtime
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_frame_the_encoder_fails_on_goes_into_a_new_segment(tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else None
    pipe = Pipeline(tmp_path, detector=command, QUICKCAM_RECORDING__SEGMENT_S="1", **QUICK_DEMO)
    trigger = tmp_path / "x264-fails"
    try:
        pipe.start_uploader_listening()
        pipe.start("detector", env={"LD_PRELOAD": str(preload_shim("x264_fails", tmp_path)),
                                    "QC_X264_FAILS_WHEN": str(trigger)})
        assert pipe.wait_for("detector", "motion, event", 30), pipe.output("detector")[-3000:]
        time.sleep(1.5)  # into its second segment
        trigger.touch()
        assert pipe.wait_for_count("detector", "x264_fails: encoder open refused", 2, 10), \
            pipe.output("detector")[-3000:]
        trigger.unlink()
        time.sleep(1.0)
        assert pipe.stop("detector") == 0, pipe.output("detector")[-3000:]
        assert pipe.wait_drained(20), pipe.output("detector")[-3000:]
        pipe.stop("uploader")
    finally:
        pipe.close()
    output = pipe.output("detector")
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["not_recorded"] == 0, (camera, output[-3000:])
    assert "frame(s) lost" not in output, output[-3000:]
    assert output.count("encoder failed (") == 1, output[-3000:]  # said once
    assert "each written into a new segment" in output, output[-3000:]  # and counted in the event's last line
    # and in quickcam status while recent (the native detector's status said nothing)
    assert "the h264 encoder failed " in camera["fault"] and "went into a new segment, none lost" in camera["fault"], \
        camera
    pipe.check_invariant()
