"""Memory that runs out under a running detector is said in one line naming the fix, not the library's words alone.

Under an address-space limit (bench/outside/memory_squeeze.py --native --headroom-mb -50) the native detector's
capture loop failed with ``Exception: OpenCV(4.6.0) ./modules/core/src/alloc.cpp:73: error: (-4:Insufficient
memory) Failed to allocate 460800 bytes in function 'OutOfMemoryError'``, in its log and its camera's fault: no fix
named. The Python detector's numpy said ``MemoryError: Unable to allocate …``. Both now say ``out of memory:``
and the fix, the library's detail after it. The allocation fails for real and on cue: a shim preloaded into
the native detector (``tests/fakes/oom_on_cue.c``) refuses one 640x480 picture's allocation.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from quickcam.detector.pipeline.supervise import describe
from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline

SAID = "out of memory: give the detector more memory (its limit: docker's mem_limit, systemd's MemoryMax=, ulimit -v"


def test_the_native_detectors_capture_loop_out_of_memory_names_the_fix(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, detector=[str(native_detector())], **QUICK_DEMO)
    trigger = tmp_path / "oom-now"
    trigger.touch()
    try:
        pipe.start("detector", env={"LD_PRELOAD": str(preload_shim("oom_on_cue", tmp_path)),
                                    "OPENCV_ENABLE_MEMALIGN": "1", "QC_OOM_WHEN": str(trigger),
                                    "QC_OOM_BYTES": str(640 * 480 * 3 // 2)})
        assert pipe.wait_for("detector", "capture loop failed (", 30), pipe.output("detector")[-3000:]
        pipe.stop("detector")  # (exit 1: refused at its first picture, the camera never delivered one)
    finally:
        pipe.close()
    output = pipe.output("detector")
    assert "oom_on_cue: refused 460800 bytes" in output, output[-3000:]
    assert f"capture loop failed ({SAID}" in output, output[-3000:]
    assert "(Failed to allocate 460800 bytes)" in output and "alloc.cpp" not in output, output[-3000:]


def test_the_python_detectors_out_of_memory_names_the_fix() -> None:
    try:
        np.empty(1 << 62, np.uint8)
    except MemoryError as exc:
        said = describe(exc)
    assert said.startswith(SAID) and "Unable to allocate" in said and len(said) <= 240, said
    opencv = cv2.error("OpenCV(4.10.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate 460800 bytes")
    opencv.code, opencv.err = -4, "Failed to allocate 460800 bytes"
    assert describe(opencv) == f"{SAID}; or free some on this machine) or lower camera.width and camera.height " \
        "(Failed to allocate 460800 bytes)", describe(opencv)
