"""The optional person check: motion counts only once a person has been seen in it.

Off by default (``[motion] person_check``). Two people detectors that ship
inside OpenCV (nothing downloaded) look inside the motion boxes, within a budget of
``person_budget_ms_per_s`` milliseconds of the detection thread's CPU per second
of video (CPU, not wall time: on a loaded box a search that waits for a core
costs no more, and does not starve the next search). Once a person is
found, motion goes on counting as long as it does not stop for more than
``HOLD_S``; until then motion is held back (``person_waiting``) and the search
is repeated on the next frames, so one good view of the person is enough.
People under about 30 px tall are not found (the corpus's far walker, 21 px).

Why these choices (measured on the tune split of bench/detection_corpus.py;
docs/benchmarks.md, section 7, has the held-out figures):

- **Daimler's detector** (``cv2.HOGDescriptor_getDaimlerPeopleDetector``, a
  48x96 window) searches first, rather than the default INRIA one (64x128)
  alone: it was trained on pedestrians 72 px tall and finds people 30-70 px
  tall in a region resized to ``SEARCH_HEIGHT``, where the INRIA window alone
  found 12 % of the frames with a walker (81 % now). At OpenCV's hitThreshold
  of 0 it calls 3.9 % of boxes with no one in them a person; at
  ``DAIMLER_HIT``, 0.4 %.
- **The INRIA detector confirms** what Daimler's found, on the same region
  resized to ``CONFIRM_HEIGHT``: a person must satisfy both. Daimler's alone
  took a real tree swaying at 640x480 for a person within 3 s of motion;
  with the confirmation, not in 3 minutes. The confirmation runs only after a
  Daimler hit, so it costs little; the price is a few walkers Daimler's alone
  would have let through (tune split 40/41 -> 36/41).
- **Dark crops are brightened** to ``TARGET_MEAN`` before the search: at 8 %
  brightness the gradients of a walker are a few gray levels, under what the
  detectors learnt; with the gain Daimler's finds them in 90 % of frames
  (0 % before).
- **Every region is resized**, shrunk as well as enlarged: the person who made
  a motion box fills most of it, so windows much smaller than the box need no
  search (a large box on a tree at 640x480 was taken for a person 11 times in
  138 at its own size, once resized), and a search costs about the same
  whatever the box (~2 ms).
- the search runs on gray (a third of the gradient work of colour).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

Box = tuple[int, int, int, int]
HOLD_S = 3.0  # after a person was seen, motion counts until it pauses this long
MARGIN = 0.25  # share of the box added on each side before the search
TARGET_MEAN = 110.0  # a darker region is brightened to this mean gray level before the search
DAIMLER_WINDOW = (48, 96)  # width x height
SEARCH_HEIGHT = 160  # the region (box and margin) is resized to this height for Daimler's detector
DAIMLER_HIT = 0.8  # SVM margin a window needs to count as a person
INRIA_WINDOW = (64, 128)
CONFIRM_HEIGHT = 200  # ... and to this height for the INRIA detector
INRIA_HIT = 0.3


def people_detectors() -> tuple[cv2.HOGDescriptor, cv2.HOGDescriptor]:
    """OpenCV's built-in pedestrian detectors: Daimler's (48x96) and the default INRIA one (64x128)."""
    daimler = cv2.HOGDescriptor(DAIMLER_WINDOW, (16, 16), (8, 8), (8, 8), 9)
    daimler.setSVMDetector(cv2.HOGDescriptor_getDaimlerPeopleDetector())
    inria = cv2.HOGDescriptor()
    inria.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return daimler, inria


class PersonCheck:
    """Says whether the motion in a frame belongs to a person; one per camera."""

    def __init__(self, budget_ms_per_s: float, fps: float) -> None:
        self.daimler, self.inria = people_detectors()
        self.budget_ms_per_s = budget_ms_per_s
        self.tokens = budget_ms_per_s
        self.frame_s = 1.0 / fps
        self.now_s = 0.0
        self.confirmed_until = -1.0
        self.searches = 0

    def allows(self, image: np.ndarray, boxes: list[Box], frames: int = 1) -> bool:
        """True if this frame's motion (``boxes``, full-frame pixels) may count; call once per look.

        ``frames``: source frames since the last look (its clock and budget run in real time).
        """
        self.now_s += self.frame_s * frames
        self.tokens = min(self.budget_ms_per_s, self.tokens + self.frame_s * frames * self.budget_ms_per_s)
        if not boxes:
            return False
        if self.now_s <= self.confirmed_until:
            self.confirmed_until = self.now_s + HOLD_S
            return True
        if self.tokens <= 0:
            return False
        started = time.thread_time()  # the budget is CPU: time waiting for a busy core is not the check's cost
        found = any(self.person_in(image, box) for box in sorted(boxes, key=lambda b: -b[2] * b[3])[:2])
        self.tokens -= (time.thread_time() - started) * 1000
        self.searches += 1
        if found:
            self.confirmed_until = self.now_s + HOLD_S
        return found

    def person_in(self, image: np.ndarray, box: Box) -> bool:
        """One search: is there a person in ``box`` (full-frame pixels) of ``image`` (BGR or gray)?"""
        region = region_of(image, box)
        return (_found(self.daimler, fit(region, SEARCH_HEIGHT, DAIMLER_WINDOW), DAIMLER_HIT)
                and _found(self.inria, fit(region, CONFIRM_HEIGHT, INRIA_WINDOW), INRIA_HIT))


def _found(hog: cv2.HOGDescriptor, image: np.ndarray, hit: float) -> bool:
    found, _ = hog.detectMultiScale(image, hitThreshold=hit, winStride=(8, 8), padding=(8, 8), scale=1.1)
    return len(found) > 0


def region_of(image: np.ndarray, box: Box) -> np.ndarray:
    """The box with a margin, in gray, brightened if dark."""
    height, width = image.shape[:2]
    x, y, w, h = box
    mx, my = int(w * MARGIN) + 8, int(h * MARGIN) + 8
    x0, y0, x1, y1 = max(0, x - mx), max(0, y - my), min(width, x + w + mx), min(height, y + h + my)
    region = image[y0:y1, x0:x1]
    if region.ndim == 3:
        region = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    mean = float(cv2.mean(region)[0])
    if mean < TARGET_MEAN:
        region = cv2.convertScaleAbs(region, alpha=TARGET_MEAN / max(mean, 1.0))
    return region


def fit(region: np.ndarray, height: int, window: tuple[int, int]) -> np.ndarray:
    """``region`` resized to ``height`` and padded to at least ``window`` (width x height)."""
    scale = height / max(1, region.shape[0])
    region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    win_w, win_h = window
    if region.shape[0] < win_h or region.shape[1] < win_w:
        region = cv2.copyMakeBorder(region, 0, max(0, win_h - region.shape[0]), 0, max(0, win_w - region.shape[1]),
                                    cv2.BORDER_REPLICATE)
    return region
