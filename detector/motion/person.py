"""The optional person check: motion counts only once a person has been seen in it.

Off by default (``[motion] person_check``). OpenCV's built-in HOG people
detector (``cv2.HOGDescriptor_getDefaultPeopleDetector``: a linear SVM that
ships inside OpenCV, nothing downloaded) looks inside the motion boxes, within
a budget of ``person_budget_ms_per_s`` milliseconds per second of video. Once
a person is found, motion goes on counting as long as it does not stop for
more than ``HOLD_S``; until then motion is held back (``person_waiting``).

The trade (docs/benchmarks.md, section 7): fewer events from things that are
not people (a tree, a curtain, light the shape test missed), at the price of
a later onset and of people the detector cannot see: HOG's window is 64x128
pixels, so a person must be about 100 px tall once the region is enlarged
(``UPSCALE_TO``), and it wants an upright, mostly visible body.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

Box = tuple[int, int, int, int]
HOLD_S = 3.0  # after a person was seen, motion counts until it pauses this long
UPSCALE_TO = 160  # a motion region is enlarged so that its height is at least this many pixels
MARGIN = 0.25  # share of the box added on each side before the search


class PersonCheck:
    """Says whether the motion in a frame belongs to a person; one per camera."""

    def __init__(self, budget_ms_per_s: float, fps: float) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.budget_ms_per_s = budget_ms_per_s
        self.tokens = budget_ms_per_s
        self.frame_s = 1.0 / fps
        self.now_s = 0.0
        self.confirmed_until = -1.0
        self.searches = 0

    def allows(self, image: np.ndarray, boxes: list[Box]) -> bool:
        """True if this frame's motion (``boxes``, full-frame pixels) may count; call once per frame."""
        self.now_s += self.frame_s
        self.tokens = min(self.budget_ms_per_s, self.tokens + self.frame_s * self.budget_ms_per_s)
        if not boxes:
            return False
        if self.now_s <= self.confirmed_until:
            self.confirmed_until = self.now_s + HOLD_S
            return True
        if self.tokens <= 0:
            return False
        started = time.perf_counter()
        found = any(self._person_in(image, box) for box in sorted(boxes, key=lambda b: -b[2] * b[3])[:2])
        self.tokens -= (time.perf_counter() - started) * 1000
        self.searches += 1
        if found:
            self.confirmed_until = self.now_s + HOLD_S
        return found

    def _person_in(self, image: np.ndarray, box: Box) -> bool:
        height, width = image.shape[:2]
        x, y, w, h = box
        mx, my = int(w * MARGIN) + 8, int(h * MARGIN) + 8
        x0, y0, x1, y1 = max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)
        roi = image[y0:y1, x0:x1]
        scale = max(1.0, UPSCALE_TO / max(1, y1 - y0))
        if scale > 1.0:
            roi = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        if roi.shape[0] < 128 or roi.shape[1] < 64:
            roi = cv2.copyMakeBorder(roi, 0, max(0, 128 - roi.shape[0]), 0, max(0, 64 - roi.shape[1]),
                                     cv2.BORDER_REPLICATE)
        found, _ = self.hog.detectMultiScale(roi, winStride=(8, 8), padding=(8, 8), scale=1.1)
        return len(found) > 0
