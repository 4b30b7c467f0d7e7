"""OpenCV's statistical background subtractors, MOG2 and KNN, behind one adapter.

Both model each pixel as a mixture (MOG2: Gaussians; KNN: recent samples),
which copes with swaying leaves and flicker better than a single mean, at
several times the cost. They learn at their own pace (1/``HISTORY`` a frame),
not at ``learning_rate``: at 0.05 a mixture adopts a uniformly coloured walker
as a new background mode within two frames. Their shadow marking is off, as it
also marks dark clothes on a light floor; the base class's lighting test
handles large shadows instead.
Their sensitivity knobs are ``mog2_var_threshold`` and ``knn_dist2_threshold``;
a night ``dark_pixel_threshold`` scales them by the square of its ratio to
``pixel_threshold``, as both thresholds are squared distances.
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.detector.motion.base import RELEARN_RATE, MotionDetector

HISTORY = 500
WARM_UP_FRAMES = 4


class _Subtractor(MotionDetector):
    def _create(self) -> cv2.BackgroundSubtractor:
        raise NotImplementedError

    def _base_threshold(self) -> float:
        raise NotImplementedError

    def _set_threshold(self, value: float) -> None:
        raise NotImplementedError

    def _foreground(self, gray: np.ndarray, threshold: float, relearning: bool) -> np.ndarray:
        scale = (threshold / self.config.pixel_threshold) ** 2
        wanted = self._base_threshold() * scale
        if wanted != self._threshold_now:
            self._set_threshold(wanted)
            self._threshold_now = wanted
        return self.subtractor.apply(cv2.convertScaleAbs(gray), learningRate=RELEARN_RATE if relearning else -1)

    def _restart(self, gray: np.ndarray) -> None:
        self.subtractor = self._create()
        self._threshold_now = self._base_threshold()
        for _ in range(WARM_UP_FRAMES):  # KNN needs a few samples before it answers
            self.subtractor.apply(cv2.convertScaleAbs(gray), learningRate=0.5)  # KNN learns nothing at 1.0

    def _absorb(self, normal: np.ndarray, keep: list[tuple[int, int, int, int]]) -> None:
        # A mixture model cannot be patched in one region: start again from this frame.
        super()._absorb(normal, keep)
        self._restart(normal)


class Mog2Motion(_Subtractor):
    name = "mog2"

    def _create(self) -> cv2.BackgroundSubtractor:
        return cv2.createBackgroundSubtractorMOG2(HISTORY, self.config.mog2_var_threshold, False)

    def _base_threshold(self) -> float:
        return self.config.mog2_var_threshold

    def _set_threshold(self, value: float) -> None:
        self.subtractor.setVarThreshold(value)


class KnnMotion(_Subtractor):
    name = "knn"

    def _create(self) -> cv2.BackgroundSubtractor:
        return cv2.createBackgroundSubtractorKNN(HISTORY, self.config.knn_dist2_threshold, False)

    def _base_threshold(self) -> float:
        return self.config.knn_dist2_threshold

    def _set_threshold(self, value: float) -> None:
        self.subtractor.setDist2Threshold(value)
