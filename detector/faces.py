"""Faces: find faces where something moves, within a time budget.

Three ways to detect, picked by ``[faces] detector``:

- ``yunet``: OpenCV's ``FaceDetectorYN`` with a YuNet ONNX model the user
  points ``yunet_model`` at (no registry package ships that model, so it is
  never the default);
- ``haar``: OpenCV's Haar cascade ``haarcascade_frontalface_default.xml``.
  OpenCV 5 wheels no longer ship the cascades in ``cv2.data`` nor the
  ``CascadeClassifier`` that evaluates them; the XML comes from the system
  (Debian/Ubuntu package ``opencv-data``) or ``cascade``, and where
  ``cv2.CascadeClassifier`` is missing, ``HaarCascade`` below evaluates it
  with numpy (same features, normalisation and stage thresholds as OpenCV);
- ``auto``: YuNet if a model is configured, else the Haar cascade if one is
  found, else faces are off with one log line saying what to install.

Faces are looked for only inside the motion boxes, and only while the
``FaceBudget`` has time left, so a busy scene never eats the detector's core.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from quickcam.common.config import FacesConfig

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
CASCADE_NAME = "haarcascade_frontalface_default.xml"
CASCADE_DIRS = (
    "/usr/share/opencv4/haarcascades",
    "/usr/share/opencv/haarcascades",
    "/usr/local/share/opencv4/haarcascades",
)
ROI_MAX_SIDE = 480  # larger motion regions are shrunk before the face search
ROI_MARGIN = 0.15


class FaceModelError(Exception):
    """A face model file is missing or in a form this module cannot use."""


class FaceDetector(Protocol):
    name: str

    def detect(self, gray: np.ndarray, min_size: int) -> list[Box]: ...


# -- Haar cascade evaluated with numpy ----------------------------------------
@dataclass(frozen=True)
class _Stage:
    threshold: float
    corner_x: np.ndarray  # (weak, 3 rects, 4 corners: tl, tr, bl, br)
    corner_y: np.ndarray
    weights: np.ndarray  # (weak, 3)
    node_threshold: np.ndarray  # (weak,)
    left: np.ndarray  # leaf value when feature < threshold
    right: np.ndarray


class HaarCascade:
    """An OpenCV HAAR cascade of decision stumps, evaluated on all windows at once.

    Follows OpenCV's ``CascadeClassifier`` on an image pyramid: a window is
    normalised by the standard deviation of its inner rectangle, each stump
    compares its feature with ``threshold * area * stddev``, and a stage
    rejects a window whose summed leaves fall below the stage threshold.
    Tilted features and deeper trees (the ``alt`` cascades) are refused.
    """

    name = "haar-numpy"

    def __init__(self, width: int, height: int, stages: list[_Stage]) -> None:
        self.width, self.height, self.stages = width, height, stages

    @classmethod
    def load(cls, path: Path) -> HaarCascade:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise FaceModelError(f"face cascade {path} cannot be read: {exc}") from None
        cascade = root.find("cascade")
        if cascade is None or (cascade.findtext("featureType") or "").strip() != "HAAR":
            raise FaceModelError(f"{path} is not a HAAR cascade in OpenCV's current XML format")
        width, height = int(cascade.findtext("width") or 0), int(cascade.findtext("height") or 0)
        features = []
        for feature in cascade.iterfind("features/_"):
            if int((feature.findtext("tilted") or "0").strip()):
                raise FaceModelError(f"{path} uses tilted features, which this evaluator does not support")
            features.append([[float(v) for v in (r.text or "").split()] for r in feature.iterfind("rects/_")])
        stages = []
        for stage in cascade.iterfind("stages/_"):
            weak = []
            for classifier in stage.iterfind("weakClassifiers/_"):
                nodes = (classifier.findtext("internalNodes") or "").split()
                leaves = [float(v) for v in (classifier.findtext("leafValues") or "").split()]
                if len(nodes) != 4 or len(leaves) != 2:
                    raise FaceModelError(f"{path} has trees deeper than one split; use {CASCADE_NAME}")
                weak.append((int(nodes[2]), float(nodes[3]), leaves[0], leaves[1]))
            stages.append(cls._stage(float(stage.findtext("stageThreshold") or 0), weak, features))
        if not stages or not width:
            raise FaceModelError(f"{path} has no stages")
        return cls(width, height, stages)

    @staticmethod
    def _stage(threshold: float, weak: list[tuple[int, float, float, float]],
               features: list[list[list[float]]]) -> _Stage:
        n = len(weak)
        cx, cy = np.zeros((n, 3, 4), np.int64), np.zeros((n, 3, 4), np.int64)
        weights = np.zeros((n, 3))
        for i, (feature, _, _, _) in enumerate(weak):
            for j, (x, y, w, h, weight) in enumerate(features[feature][:3]):
                cx[i, j] = (x, x + w, x, x + w)
                cy[i, j] = (y, y, y + h, y + h)
                weights[i, j] = weight
        return _Stage(threshold, cx, cy, weights, np.array([w[1] for w in weak]),
                      np.array([w[2] for w in weak]), np.array([w[3] for w in weak]))

    def _windows(self, gray: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the windows in ``gray`` that pass every stage."""
        height, width = gray.shape
        win_w, win_h = self.width, self.height
        total, squares = cv2.integral2(gray, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
        flat_sum, flat_sq = total.ravel(), squares.ravel()
        stride = width + 1
        ys, xs = np.mgrid[0:height - win_h + 1:step, 0:width - win_w + 1:step]
        xs, ys = xs.ravel(), ys.ravel()
        base = ys * stride + xs

        def rect_sum(flat: np.ndarray, at: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
            return (flat[at + (y + h) * stride + x + w] - flat[at + y * stride + x + w]
                    - flat[at + (y + h) * stride + x] + flat[at + y * stride + x])

        area = (win_w - 2) * (win_h - 2)  # OpenCV normalises on the window less a 1-pixel border
        s = rect_sum(flat_sum, base, 1, 1, win_w - 2, win_h - 2)
        q = rect_sum(flat_sq, base, 1, 1, win_w - 2, win_h - 2)
        norm = area * q - s * s
        norm = np.where(norm > 0, np.sqrt(np.maximum(norm, 0)), 1.0)
        alive = np.arange(base.size)
        for stage in self.stages:
            if alive.size == 0:
                break
            offsets = stage.corner_y * stride + stage.corner_x  # (weak, 3, 4)
            chunk = max(1, 2_000_000 // offsets.size)
            keep = []
            for start in range(0, alive.size, chunk):
                idx = alive[start:start + chunk]
                corners = flat_sum[base[idx][:, None, None, None] + offsets[None]]
                sums = corners[..., 3] - corners[..., 1] - corners[..., 2] + corners[..., 0]
                value = (sums * stage.weights[None]).sum(axis=2)
                leaves = np.where(value < stage.node_threshold[None] * norm[idx][:, None],
                                  stage.left[None], stage.right[None])
                keep.append(idx[leaves.sum(axis=1) >= stage.threshold])
            alive = np.concatenate(keep)
        return xs[alive], ys[alive]

    def detect(self, gray: np.ndarray, min_size: int, scale_factor: float = 1.2,
               min_neighbors: int = 3) -> list[Box]:
        height, width = gray.shape[:2]
        found: list[Box] = []
        factor = max(1.0, min_size / self.width)
        while width / factor >= self.width and height / factor >= self.height:
            size = (round(width / factor), round(height / factor))
            scaled = gray if factor == 1.0 else cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
            xs, ys = self._windows(scaled, 1 if factor > 2 else 2)
            w, h = round(self.width * factor), round(self.height * factor)
            found.extend((round(x * factor), round(y * factor), w, h) for x, y in zip(xs, ys, strict=True))
            factor *= scale_factor
        return group_rectangles(found, min_neighbors)


def group_rectangles(rects: list[Box], min_neighbors: int, eps: float = 0.2) -> list[Box]:
    """OpenCV's ``groupRectangles``: merge similar boxes; keep groups of more than ``min_neighbors``."""
    parent = list(range(len(rects)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (x1, y1, w1, h1) in enumerate(rects):
        for j in range(i):
            x2, y2, w2, h2 = rects[j]
            delta = eps * (min(w1, w2) + min(h1, h2)) * 0.5
            if (abs(x1 - x2) <= delta and abs(y1 - y2) <= delta and abs(x1 + w1 - x2 - w2) <= delta
                    and abs(y1 + h1 - y2 - h2) <= delta):
                parent[find(i)] = find(j)
    groups: dict[int, list[Box]] = {}
    for i, rect in enumerate(rects):
        groups.setdefault(find(i), []).append(rect)
    merged = [(tuple(int(round(v)) for v in np.mean(members, axis=0)), len(members))
              for members in groups.values() if len(members) > min_neighbors]
    result = []
    for (x, y, w, h), count in merged:
        inside = any(count2 >= count and (x2, y2, w2, h2) != (x, y, w, h)
                     and x >= x2 - w2 * eps and y >= y2 - h2 * eps
                     and x + w <= x2 + w2 * (1 + eps) and y + h <= y2 + h2 * (1 + eps)
                     for (x2, y2, w2, h2), count2 in merged)
        if not inside:
            result.append((x, y, w, h))
    return result


class OpenCVCascade:
    """``cv2.CascadeClassifier`` where the OpenCV build still has it (4.x, contrib)."""

    name = "haar-opencv"

    def __init__(self, path: Path) -> None:
        self.classifier = cv2.CascadeClassifier(str(path))  # type: ignore[attr-defined]
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
    dirs = [getattr(getattr(cv2, "data", None), "haarcascades", ""), *CASCADE_DIRS]
    for folder in dirs:
        if folder and (Path(folder) / CASCADE_NAME).is_file():
            return Path(folder) / CASCADE_NAME
    return None


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
            raise FaceModelError(f"no {CASCADE_NAME} found (install the opencv-data package, or set "
                                 "[faces] cascade)")
        if hasattr(cv2, "CascadeClassifier"):
            return OpenCVCascade(path)
        return HaarCascade.load(path)
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
