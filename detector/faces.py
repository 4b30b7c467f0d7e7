"""Faces: find faces where something moves, within a time budget.

Three ways to detect, picked by ``[faces] detector``:

- ``yunet``: OpenCV's ``FaceDetectorYN`` with a YuNet ONNX model the user
  points ``yunet_model`` at (no registry package ships that model, so it is
  never the default);
- ``haar``: OpenCV's Haar cascade ``haarcascade_frontalface_default.xml``,
  bundled with the OpenCV 4 wheel in ``cv2.data`` (OpenCV 5 wheels dropped
  both the cascades and ``CascadeClassifier``, which is why quickcam pins
  OpenCV 4), or the file ``[faces] cascade`` names;
- ``auto``: YuNet if a model is configured, else the Haar cascade if one is
  found, else faces are off with one log line saying what to install.

Faces are looked for only inside the motion boxes, and only while the
``FaceBudget`` has time left, so a busy scene never eats the detector's core.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from quickcam.common.config import FacesConfig

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
CASCADE_NAME = "haarcascade_frontalface_default.xml"
ROI_MAX_SIDE = 480  # larger motion regions are shrunk before the face search
ROI_MARGIN = 0.15


class FaceModelError(Exception):
    """A face model file is missing or in a form this module cannot use."""


class FaceDetector(Protocol):
    name: str

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]: ...


class OpenCVCascade:
    """``cv2.CascadeClassifier`` on a grayscale region."""

    name = "haar-opencv"

    def __init__(self, path: Path) -> None:
        self.classifier = cv2.CascadeClassifier(str(path))
        if self.classifier.empty():
            raise FaceModelError(f"OpenCV cannot load the face cascade {path}")

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]:
        found = self.classifier.detectMultiScale(gray, 1.2, 3, minSize=(min_size, min_size))
        return [tuple(int(v) for v in box) for box in found]


class YuNet:
    """OpenCV's ``FaceDetectorYN`` (a small CNN); needs the model file."""

    name = "yunet"

    def __init__(self, model: Path) -> None:
        if not model.is_file():
            raise FaceModelError(f"YuNet model {model} not found")
        self.model = cv2.FaceDetectorYN.create(str(model), "", (320, 320), 0.8, 0.3, 50)

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]:
        image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        self.model.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self.model.detect(image)
        if faces is None:
            return []
        boxes = [tuple(int(v) for v in face[:4]) for face in faces]
        return [b for b in boxes if min(b[2], b[3]) >= min_size]


def find_cascade(config: FacesConfig) -> Path | None:
    """The configured cascade, or the frontal-face cascade from a standard place."""
    if config.cascade is not None:
        return config.cascade
    bundled = Path(cv2.data.haarcascades) / CASCADE_NAME
    return bundled if bundled.is_file() else None


def open_face_detector(config: FacesConfig) -> FaceDetector | None:
    """The configured face detector, or None (logged with the reason) when there is none."""
    if not config.enabled:
        return None
    try:
        if config.detector == "yunet" or (config.detector == "auto" and config.yunet_model is not None):
            if config.yunet_model is None:
                raise FaceModelError("[faces] detector = 'yunet' needs yunet_model = path to the ONNX model")
            return YuNet(config.yunet_model)
        path = find_cascade(config)
        if path is None:
            raise FaceModelError(f"this OpenCV has no bundled {CASCADE_NAME}; set [faces] cascade to its path")
        return OpenCVCascade(path)
    except FaceModelError as exc:
        log.warning("faces: off: %s", exc)
        return None


class FaceBudget:
    """A token bucket of milliseconds: ``ms_per_s`` of face search per second of video."""

    def __init__(self, ms_per_s: float) -> None:
        self.ms_per_s = ms_per_s
        self.tokens = ms_per_s
        self.last_ns: int | None = None

    def allows(self, time_ns: int) -> bool:
        if self.last_ns is not None:
            gained = (time_ns - self.last_ns) / 1e9 * self.ms_per_s
            self.tokens = min(self.ms_per_s, self.tokens + max(0.0, gained))
        self.last_ns = time_ns
        return self.tokens > 0

    def spend(self, ms: float) -> None:
        self.tokens -= ms


def faces_in_motion(detector: FaceDetector, image: np.ndarray, boxes: list[Box], min_size: int) -> list[Box]:
    """Faces (full-frame pixels, largest first) inside the union of the motion ``boxes``."""
    if not boxes:
        return []
    height, width = image.shape[:2]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    mx, my = int((x1 - x0) * ROI_MARGIN), int((y1 - y0) * ROI_MARGIN)
    x0, y0, x1, y1 = max(0, x0 - mx), max(0, y0 - my), min(width, x1 + mx), min(height, y1 + my)
    if x1 - x0 < min_size or y1 - y0 < min_size:
        return []
    roi = image[y0:y1, x0:x1]
    gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
    scale = min(1.0, ROI_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    found = detector.detect(gray, max(8, int(min_size * scale)))
    faces = [(x0 + int(x / scale), y0 + int(y / scale), int(w / scale), int(h / scale)) for x, y, w, h in found]
    return sorted(faces, key=lambda b: b[2] * b[3], reverse=True)


def timed_faces(detector: FaceDetector, budget: FaceBudget, image: np.ndarray, boxes: list[Box],
                min_size: int, time_ns: int) -> list[Box] | None:
    """Faces if the budget allows a search now, else None (not searched)."""
    if not budget.allows(time_ns):
        return None
    started = time.perf_counter()
    try:
        return faces_in_motion(detector, image, boxes, min_size)
    finally:
        budget.spend((time.perf_counter() - started) * 1000)
