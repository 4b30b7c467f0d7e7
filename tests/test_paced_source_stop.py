"""A source paced slower than the stop waits for its capture: the stop ends its sleep, not the stop's patience.

At ``[camera] fps = 0.1`` (demo, or a file in real time) each detector's pacer slept 10 s between two
frames; the stop gave the capture 2 s (``CAPTURE_JOIN_S``), then left it behind as "stuck in a read", the wrong
cause (bench/outside/config_extremes.py fps-0.1). The pacer's sleep now ends at the stop (Python: the capture
loop's stop event; native: the detector's Stop).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.native_build import native_detector
from tests.pipeline import Pipeline


@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_capture_asleep_between_two_frames_at_fps_0_1_ends_at_the_stop(tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    pipe = Pipeline(tmp_path, detector=command, QUICKCAM_CAMERA__FPS="0.1")
    try:
        pipe.start("detector")
        assert pipe.wait_for("detector", "demo source: ", 60), pipe.output("detector")[-3000:]
        time.sleep(1.0)  # its first frame read at once, the next due 10 s later: asleep in the pacer
        assert pipe.stop("detector") == 0, pipe.output("detector")[-3000:]  # (old: given up at CAPTURE_JOIN_S)
    finally:
        pipe.close()
    output = pipe.output("detector")
    assert "stuck in a read" not in output, output[-3000:]
