"""Busy places: where the picture changes often (leaves, a curtain, water), a change must be larger to count.

Motion's "smart mask" masks pixels that change often; a hard mask would also
blind the camera to a person walking in front of the tree. Here each pixel
keeps how often it changed lately (an exponential average of "differs from
the background by more than the threshold", over about BUSY_S), and the
threshold there is raised, up to BUSY_GAIN times more, in proportion. A
person's passage makes a pixel busy for a moment only (they pass, it is
quiet again); a tree keeps its pixels busy for as long as the wind blows.
A person differs from the leaves behind them by more than the leaves differ
from each other, so they still show through the raised threshold.

Functional: fed the frame (at the background's exposure), the background and
the threshold of the moment, it holds nothing but the map.
"""

from __future__ import annotations

import cv2
import numpy as np

BUSY_S = 20.0  # how far back "often" looks (the average's time constant), seconds
BUSY_FLOOR = 0.02  # flips per frame under which a pixel is not busy at all (a person's own passage)
BUSY_FULL = 0.15  # a pixel that flips this often (share of frames) gets the full raise
REACH = np.ones((5, 5), np.uint8)
BUSY_GAIN = 2.0  # the threshold there is (1 + BUSY_GAIN) times the normal one


class BusyMap:
    """The per-pixel share of recent frames that changed, and the threshold it implies."""

    def __init__(self, fps: float) -> None:
        self.rate = min(1.0, 1.0 / (BUSY_S * fps))
        self.busy: np.ndarray | None = None  # float32 0..1, the detection size
        self.before: np.ndarray | None = None  # last frame's changed pixels
        self.seen = 0  # frames learnt

    def gate(self, normal: np.ndarray, reference: np.ndarray, threshold: float, mask: np.ndarray,
             learn: bool = True) -> None:
        """Learn this frame's changes, and clear in ``mask`` (in place) what a busy place's threshold does not pass.

        The map learns from the normal threshold, not the raised one: a raised
        threshold must not make the tree look quiet again and lower itself.
        """
        diff = cv2.absdiff(normal, reference)
        changed = diff > threshold
        if self.busy is None or self.busy.shape != changed.shape or self.before is None:
            self.busy = np.zeros(changed.shape, np.float32)
            self.before = changed
        flips = (changed != self.before).astype(np.float32)
        self.before = changed
        if learn:
            self.seen += 1  # a plain mean until BUSY_S has passed: a tree is known as busy from the start
            cv2.accumulateWeighted(flips, self.busy, max(self.rate, 1.0 / self.seen))
        raise_by = np.clip((self.busy - BUSY_FLOOR) * (1.0 / (BUSY_FULL - BUSY_FLOOR)), 0.0, 1.0)
        excess = np.maximum(cv2.erode(reference, REACH) - normal, normal - cv2.dilate(reference, REACH))
        mask[(raise_by > 0) & (excess <= threshold * (1.0 + BUSY_GAIN * raise_by))] = 0
