"""The optional person check: motion counts only once a person has been seen in it.

Off by default (``[motion] person_check``). A people detector that ships inside
OpenCV (nothing downloaded) looks inside the motion boxes, within a budget of
``person_budget_ms_per_s`` milliseconds per second of video. Once a person is
found, motion goes on counting as long as it does not stop for more than
``HOLD_S``; until then motion is held back (``person_waiting``) and the search
is repeated on the next frames, so one good view of the person is enough.

Why these choices (measured on the tune split of bench/detection_corpus.py;
docs/benchmarks.md, section 7, has the held-out figures):

- **Daimler's detector** (``cv2.HOGDescriptor_getDaimlerPeopleDetector``, a
  48x96 window) rather than the default INRIA one (64x128): it was trained on
  pedestrians 72 px tall and finds people 30-70 px tall enlarged to
  ``SEARCH_HEIGHT``, where the INRIA window found 12 % of the frames with a
  walker (81 % now).
- **Every region is resized to** ``SEARCH_HEIGHT``, shrunk as well as enlarged:
  the person who made a motion box fills most of it, so windows much smaller
  than the box are not looked at. A large box on a tree at 640x480 was taken
  for a person in 11 of 138 boxes at its own size, 1 of 138 resized, and the
  search costs the same whatever the box (about 2 ms).
- **hitThreshold** ``HIT_THRESHOLD``: at OpenCV's 0 Daimler's detector calls
  3.9 % of boxes with no one in them a person (leaves, noise, JPEG blocks);
  at 0.8, 0.4 %, while still finding the walker in 81 % of frames.
- **Dark crops are brightened** to ``TARGET_MEAN`` before the search: at 8 %
  brightness the gradients of a walker are a few gray levels, under the
  detector's learnt contrast; with the gain it finds them in 90 % of frames
  (0 % before).
- the search runs on gray (a third of the gradient work of colour).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

Box = tuple[int, int, int, int]
HOLD_S = 3.0  # after a person was seen, motion counts until it pauses this long
SEARCH_HEIGHT = 160  # a motion region (with its margin) is resized to this height, up or down
MARGIN = 0.25  # share of the box added on each side before the search
WINDOW = (48, 96)  # Daimler's detection window, width x height
HIT_THRESHOLD = 0.8  # SVM margin a window needs to count as a person
TARGET_MEAN = 110.0  # a darker crop is brightened to this mean gray level before the search


def daimler_detector() -> cv2.HOGDescriptor:
    """OpenCV's built-in Daimler pedestrian detector (48x96 window, 8x8 cells)."""
    hog = cv2.HOGDescriptor(WINDOW, (16, 16), (8, 8), (8, 8), 9)
    hog.setSVMDetector(cv2.HOGDescriptor_getDaimlerPeopleDetector())
    return hog


class PersonCheck:
    """Says whether the motion in a frame belongs to a person; one per camera."""

    def __init__(self, budget_ms_per_s: float, fps: float) -> None:
        self.hog = daimler_detector()
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
        found = any(self.person_in(image, box) for box in sorted(boxes, key=lambda b: -b[2] * b[3])[:2])
        self.tokens -= (time.perf_counter() - started) * 1000
        self.searches += 1
        if found:
            self.confirmed_until = self.now_s + HOLD_S
        return found

    def person_in(self, image: np.ndarray, box: Box) -> bool:
        """One search: is there a person in ``box`` (full-frame pixels) of ``image`` (BGR or gray)?"""
        roi = crop_for_search(image, box)
        found, _ = self.hog.detectMultiScale(roi, hitThreshold=HIT_THRESHOLD, winStride=(8, 8), padding=(8, 8),
                                             scale=1.1)
        return len(found) > 0


def crop_for_search(image: np.ndarray, box: Box) -> np.ndarray:
    """The box with a margin, in gray, brightened if dark, enlarged and padded to at least the window."""
    height, width = image.shape[:2]
    x, y, w, h = box
    mx, my = int(w * MARGIN) + 8, int(h * MARGIN) + 8
    x0, y0, x1, y1 = max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)
    roi = image[y0:y1, x0:x1]
    if roi.ndim == 3:
        roi = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY)
    mean = float(cv2.mean(roi)[0])
    if mean < TARGET_MEAN:
        roi = cv2.convertScaleAbs(roi, alpha=TARGET_MEAN / max(mean, 1.0))
    scale = SEARCH_HEIGHT / max(1, y1 - y0)
    if scale != 1.0:
        roi = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    win_w, win_h = WINDOW
    if roi.shape[0] < win_h or roi.shape[1] < win_w:
        roi = cv2.copyMakeBorder(roi, 0, max(0, win_h - roi.shape[0]), 0, max(0, win_w - roi.shape[1]),
                                 cv2.BORDER_REPLICATE)
    return roi
