"""Motion detection: a functional core fed frames, with no camera or clock inside.

One interface, ``MotionDetector.detect(image) -> MotionResult``, and one file
per algorithm beside it; ``create_detector`` picks the one the config names:

- ``running_average`` (default): an exponentially weighted mean background on a
  frame shrunk to ``detection_width`` (160 px: about 0.2 ms a frame);
- ``mog2`` and ``knn``: OpenCV's per-pixel mixture models, more robust to
  flicker and swaying plants, several times the cost.
"""

from __future__ import annotations

import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion.base import MotionDetector, MotionResult
from quickcam.detector.motion.running_average import RunningAverageMotion
from quickcam.detector.motion.subtractors import KnnMotion, Mog2Motion

ALGORITHMS: dict[str, type[MotionDetector]] = {
    cls.name: cls for cls in (RunningAverageMotion, Mog2Motion, KnnMotion)
}


def create_detector(config: MotionConfig, fps: float = 15.0,
                    zone_mask: np.ndarray | None = None) -> MotionDetector:
    """The algorithm ``config.algorithm`` names, watching ``zone_mask`` (None = everything)."""
    return ALGORITHMS[config.algorithm](config, fps=fps, zone_mask=zone_mask)


__all__ = ["ALGORITHMS", "MotionDetector", "MotionResult", "RunningAverageMotion", "create_detector"]
