"""Running average: the background is an exponentially weighted mean of past frames.

The cheapest algorithm (about 0.2 ms a frame at 160x120) and the default: a
pixel is foreground when it differs from that mean by more than
``pixel_threshold`` gray levels. The mean itself is the shared reference the
base class keeps, so this file only thresholds against it.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.detector.motion.base import MotionDetector


class RunningAverageMotion(MotionDetector):
    name = "running_average"

    def _foreground(self, gray: np.ndarray, threshold: int, relearning: bool) -> np.ndarray:
        assert self.reference is not None
        diff = cv2.absdiff(gray, cv2.convertScaleAbs(self.reference))
        _, mask = cv2.threshold(diff, threshold - 1, 255, cv2.THRESH_BINARY)
        return mask  # the base class then folds ``gray`` into the reference

    def _restart(self, gray: np.ndarray) -> None:
        pass  # the reference the base class just reset is the whole model
