"""The motion core computes the same floats whether or not the calling thread lets OpenCV use Intel IPP.

The opencv-python wheel uses IPP on x86-64 only; Debian's libopencv (the
native detector) and the aarch64 wheel have none, and IPP rounds
``accumulateWeighted`` and the gain grid's ``resize`` differently in the last
bit. The background carried that bit until a threshold was crossed: 4 of 170
frames of a walker over a flickering curtain differed between the Python and
native detectors (docs/native.md). ``base._without_ipp`` turns IPP off around the
core, per thread (OpenCV keeps the switch per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import MotionDetector, MotionResult, create_detector

IPP_AVAILABLE = bool(cv2.ipp.useIPP())  # the process's default: on wherever this OpenCV was built with IPP
needs_ipp = pytest.mark.skipif(not IPP_AVAILABLE, reason="this OpenCV has no IPP: both runs are the same anyway")


def _frames(count: int = 40) -> list[np.ndarray]:
    """A textured wall under a random 2 % flicker with sensor noise; a dark figure crosses it from frame 15."""
    rng = np.random.default_rng(6)
    wall = cv2.GaussianBlur(rng.uniform(60, 200, (288, 384)).astype(np.float32), (0, 0), 3)
    frames = []
    for index in range(count):
        image = wall.copy()
        if index >= 15:
            x = 60 + 8 * (index - 15)
            image[100:180, x:x + 24] = 35
        image = image * (1 + 0.02 * float(rng.standard_normal())) + rng.normal(0, 2, image.shape)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def _in_thread(ipp: bool, work: Callable[[], object]) -> object:
    """``work()`` in a new thread whose IPP switch is ``ipp`` (as a camera's detect thread, or a caller's)."""
    out: list[object] = []

    def run() -> None:
        cv2.ipp.setUseIPP(ipp)
        out.append(work())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out[0]


def _run(frames: list[np.ndarray]) -> tuple[list[MotionResult], MotionDetector]:
    detector = create_detector(MotionConfig(), fps=10.0)
    return [detector.detect(frame) for frame in frames], detector


@needs_ipp
def test_the_motion_core_learns_the_same_background_bit_for_bit_with_ipp_on_or_off_in_its_thread() -> None:
    frames = _frames()
    with_ipp = _in_thread(True, lambda: _run(frames))
    without = _in_thread(False, lambda: _run(frames))
    assert isinstance(with_ipp, tuple) and isinstance(without, tuple)
    (results_on, core_on), (results_off, core_off) = with_ipp, without
    assert any(r.motion for r in results_off), "the figure is seen (the core did its full work)"
    assert core_on.reference is not None and core_off.reference is not None
    differ = int(np.count_nonzero(core_on.reference != core_off.reference))
    assert differ == 0, f"{differ} background pixels differ: the core's arithmetic follows the thread's IPP switch"
    assert results_on == results_off


def test_the_motion_core_leaves_the_calling_threads_ipp_switch_as_it_found_it() -> None:
    frames = _frames(5)
    assert _in_thread(True, lambda: (_run(frames), cv2.ipp.useIPP())[1]) is IPP_AVAILABLE
    assert _in_thread(False, lambda: (_run(frames), cv2.ipp.useIPP())[1]) is False
