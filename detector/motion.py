"""Motion detection: a functional core fed frames, with no camera or clock inside.

The default detector keeps a running-average background of a small grayscale
copy of the frame (160 px wide by default): at that size a frame costs a
fraction of a millisecond, so a laptop can watch all day on a sliver of a core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from quickcam.common.config import MotionConfig


@dataclass(frozen=True)
class MotionResult:
    motion: bool
    area_fraction: float  # share of the frame covered by changed regions large enough to count
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # full-frame pixels
    brightness: float = 0.0  # mean gray level 0..255
    global_change: bool = False  # most of the frame changed at once: lighting, not a person


class RunningAverageMotion:
    """Background subtraction against an exponentially weighted running average."""

    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self.background: np.ndarray | None = None
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def _small_gray(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        target_w = min(self.config.detection_width, width)
        target_h = max(1, round(height * target_w / width))
        small = cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(gray, (5, 5), 0)

    def detect(self, image: np.ndarray) -> MotionResult:
        gray = self._small_gray(image)
        brightness = float(gray.mean())
        if self.background is None:
            self.background = gray.astype(np.float32)
            return MotionResult(False, 0.0, brightness=brightness)
        diff = cv2.absdiff(gray, cv2.convertScaleAbs(self.background))
        _, mask = cv2.threshold(diff, self.config.pixel_threshold, 255, cv2.THRESH_BINARY)
        changed = cv2.countNonZero(mask) / mask.size
        if changed >= self.config.global_change_fraction:
            # A light switched on or auto-exposure: adopt the new scene at once.
            self.background = gray.astype(np.float32)
            return MotionResult(False, changed, brightness=brightness, global_change=True)
        cv2.accumulateWeighted(gray, self.background, self.config.learning_rate)
        mask = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel), self.kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scale = image.shape[1] / gray.shape[1]
        min_area = self.config.min_area_fraction * mask.size
        boxes, area = [], 0.0
        for contour in contours:
            contour_area = cv2.contourArea(contour)
            if contour_area < min_area:
                continue
            area += contour_area
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append((int(x * scale), int(y * scale), int(w * scale), int(h * scale)))
        return MotionResult(bool(boxes), area / mask.size, boxes, brightness)
