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

NEIGHBOURHOOD = np.ones((3, 3), np.uint8)  # a shift of one pixel (at the detection size) in any direction


class RunningAverageMotion(MotionDetector):
    name = "running_average"

    def _foreground(self, gray: np.ndarray, threshold: float, relearning: bool) -> np.ndarray:
        """Pixels outside [darkest, brightest background pixel around them] by more than ``threshold``.

        Comparing with the 3x3 neighbourhood's range, not the pixel alone, keeps
        a camera shaking by a pixel (or an edge swaying by one) from lighting up
        every edge of the scene; a person differs from all of it.
        """
        assert self.reference is not None
        lower = cv2.erode(self.reference, NEIGHBOURHOOD)
        upper = cv2.dilate(self.reference, NEIGHBOURHOOD)
        changed = (gray < lower - threshold) | (gray > upper + threshold)
        return changed.astype(np.uint8) * 255  # the base class then folds ``gray`` into the reference

    def _restart(self, gray: np.ndarray) -> None:
        pass  # the reference the base class just reset is the whole model
