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

A face is reported only if it is plausible and seen twice (a Haar cascade
finds "faces" in torsos, pavement and night noise, bench/face_precision.py):

- the region searched must be lit and have contrast (``MIN_LEVEL``,
  ``MIN_CONTRAST``): equalising the histogram of dark noise makes faces of it;
- in a person-shaped motion box (taller than wide) a face is between 1/12 and
  1/4 of the box's height, as a head is about 1/7 of a standing person;
- ``FaceConfirmer``: the previous search, at most ``CONFIRM_GAP_NS`` earlier,
  found a face in the same place.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from quickcam.common.config import FacesConfig
from quickcam.common.protocol_schema import error_text

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
CASCADE_NAME = "haarcascade_frontalface_default.xml"
VERIFIER_NAME = "haarcascade_frontalface_alt.xml"  # the second opinion on each hit
ROI_MAX_SIDE = 480  # larger motion regions are shrunk before the face search
ROI_MARGIN = 0.15
MIN_LEVEL = 30.0  # mean gray level of the searched region below which no face is looked for (night)
MIN_CONTRAST = 12.0  # standard deviation of gray levels below which no face is looked for (noise, fog)
FACE_SHARE = (1 / 12, 1 / 4)  # a face's height as a share of a person-shaped motion box's height
CONFIRM_IOU = 0.3  # a face is confirmed by one found at least this much overlapping in the previous search
CONFIRM_GAP_NS = 1_000_000_000  # ... if that search was at most this long ago


class FaceModelError(Exception):
    """A face model file is missing or in a form this module cannot use; the words name the fix."""


SHOWN_PATH_MAX = 160  # bytes of a model path shown in a message (a mistyped path may be any length)


def _shown(path: Path) -> str:
    """``path`` for a log line or a status: one line, at most ``SHOWN_PATH_MAX`` bytes (cut with an ellipsis)."""
    return error_text(str(path), SHOWN_PATH_MAX)


def _model_file(path: Path, what: str, key: str) -> None:
    """Raise FaceModelError naming ``key`` unless ``path`` is a file this process can look at.

    ``Path.is_file`` raises rather than answers for some paths (a name too long for the kernel:
    ``OSError: [Errno 36]``); that failed the detection loop once instead of turning faces off.
    """
    try:
        found = path.is_file()
    except OSError as exc:
        raise FaceModelError(f"{what} {_shown(path)} cannot be looked at ({exc.strerror or exc}); "
                             f"set [faces] {key} to the model file's path") from None
    if not found:
        raise FaceModelError(f"{what} {_shown(path)} not found; set [faces] {key} to the model file's path")


class FaceDetector(Protocol):
    name: str

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]: ...


class OpenCVCascade:
    """``cv2.CascadeClassifier`` on a grayscale region, each hit checked by a second cascade.

    The second cascade (``VERIFIER_NAME``, beside the first, as OpenCV ships
    both) was trained apart and errs elsewhere: a hit both agree on is far
    more often a face. Without it, hits are taken as they are.
    """

    name = "haar-opencv"

    def __init__(self, path: Path) -> None:
        _model_file(path, "face cascade", "cascade")
        self.classifier = _cascade(path)
        if self.classifier is None:
            raise FaceModelError(f"OpenCV cannot load the face cascade {_shown(path)} (not a cascade XML file); "
                                 f"set [faces] cascade to OpenCV's {CASCADE_NAME}, or leave it out")
        verifier = path.with_name(VERIFIER_NAME)
        try:
            self.verifier = _cascade(verifier) if verifier.is_file() else None
        except OSError:  # a second opinion that cannot be looked at: hits are taken as they are
            self.verifier = None

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]:
        found = self.classifier.detectMultiScale(gray, 1.2, 3, minSize=(min_size, min_size))
        boxes = [tuple(int(v) for v in box) for box in found]
        return [box for box in boxes if self._verified(gray, box)]

    def _verified(self, gray: np.ndarray, box: Box) -> bool:
        if self.verifier is None:
            return True
        x, y, w, h = box
        margin = w // 4
        patch = gray[max(0, y - margin):y + h + margin, max(0, x - margin):x + w + margin]
        side = int(w * 0.7)
        return len(self.verifier.detectMultiScale(patch, 1.1, 2, minSize=(side, side))) > 0


def _cascade(path: Path) -> cv2.CascadeClassifier | None:
    """The cascade in ``path``, or None when OpenCV cannot load it.

    OpenCV raises for a file that is not XML (``SystemError`` from its Python binding, around a
    ``cv2.error``) and answers an empty classifier for other failures: both are the same mistake here.
    """
    try:
        classifier = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError):
        return None
    return None if classifier.empty() else classifier


class YuNet:
    """OpenCV's ``FaceDetectorYN`` (a small CNN); needs the model file."""

    name = "yunet"

    def __init__(self, model: Path) -> None:
        _model_file(model, "YuNet model", "yunet_model")
        try:
            self.model = cv2.FaceDetectorYN.create(str(model), "", (320, 320), 0.8, 0.3, 50)
        except cv2.error as exc:  # a file that is not an ONNX model (a download cut short, an HTML page)
            log.debug("faces: OpenCV on %s: %s", _shown(model), error_text(str(exc)))
            raise FaceModelError(f"OpenCV cannot load the YuNet model {_shown(model)} (not an ONNX model it can "
                                 "read); set [faces] yunet_model to OpenCV's face_detection_yunet ONNX file, "
                                 "or leave it out") from None

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


def load_face_detector(config: FacesConfig) -> FaceDetector | None:
    """The configured face detector; None when faces are off by config.

    Raises FaceModelError (its words name the fix) when faces are on but the model cannot be used:
    ``quickcam doctor`` says it in red, the detector turns faces off (``open_face_detector``).
    """
    if not config.enabled:
        return None
    if config.detector == "yunet" or (config.detector == "auto" and config.yunet_model is not None):
        if config.yunet_model is None:
            raise FaceModelError("[faces] detector = 'yunet' needs yunet_model = path to the ONNX model")
        return YuNet(config.yunet_model)
    path = find_cascade(config)
    if path is None:
        raise FaceModelError(f"this OpenCV has no bundled {CASCADE_NAME}; set [faces] cascade to its path")
    return OpenCVCascade(path)


def open_face_detector(config: FacesConfig, camera_id: str) -> tuple[FaceDetector | None, str]:
    """The configured face detector, or None; and why faces are off when configured but unusable ('' if not).

    The reason is logged here once, and the camera's status carries it (``faces off: ...``): a
    mistyped model path used to fail the detection loop instead, once, and leave faces off unsaid.
    """
    try:
        return load_face_detector(config), ""
    except FaceModelError as exc:
        log.warning("camera %s: faces off: %s", camera_id, exc)
        return None, f"faces off: {exc}"


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
    mean, std = cv2.meanStdDev(gray)
    if float(mean[0, 0]) < MIN_LEVEL or float(std[0, 0]) < MIN_CONTRAST:
        return []  # too dark or too flat: equalised, its noise would make faces
    scale = min(1.0, ROI_MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)
    found = detector.detect(gray, max(8, int(min_size * scale)))
    faces = [(x0 + int(x / scale), y0 + int(y / scale), int(w / scale), int(h / scale)) for x, y, w, h in found]
    faces = [face for face in faces if _fits_person(face, boxes)]
    return sorted(faces, key=lambda b: b[2] * b[3], reverse=True)


def _overlap(a: Box, b: Box) -> int:
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def iou(a: Box, b: Box) -> float:
    shared = _overlap(a, b)
    return shared / max(1, a[2] * a[3] + b[2] * b[3] - shared)


def _fits_person(face: Box, boxes: list[Box]) -> bool:
    """False if the face's size cannot be a head of the person-shaped motion box it lies in."""
    box = max(boxes, key=lambda b: _overlap(face, b))
    if _overlap(face, box) == 0 or box[3] < 1.5 * box[2]:
        return True  # not in a person-shaped box (a head and shoulders, a seated person): no size rule
    low, high = FACE_SHARE
    return low * box[3] <= face[3] <= high * box[3]


class FaceConfirmer:
    """Faces found in two searches in a row, in the same place: one search's hit may be a pattern."""

    def __init__(self) -> None:
        self.previous: list[Box] = []
        self.previous_ns = -CONFIRM_GAP_NS - 1

    def confirm(self, found: list[Box] | None, time_ns: int) -> list[Box]:
        """The faces of ``found`` that the previous search saw too; None (not searched) confirms none."""
        if found is None:
            return []
        recent = time_ns - self.previous_ns <= CONFIRM_GAP_NS
        confirmed = [face for face in found
                     if recent and any(iou(face, seen) >= CONFIRM_IOU for seen in self.previous)]
        self.previous, self.previous_ns = found, time_ns
        return confirmed


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
