"""What every motion algorithm shares: shrink, normalise lighting, zones, blobs, verdict.

An algorithm (one file beside this one) only says which pixels differ from its
background (``_foreground``) and how to forget it (``_restart``). The steps
around it are the same for all, so they are written once here:

1. the frame is shrunk to ``detection_width`` and turned gray;
2. a brightness change (auto-exposure, a dimmer, a lamp) is divided out: the
   frame is scaled by a smooth gain map (median ratios of the reference to it
   on a coarse grid), so a change of exposure moves no pixel relative to the
   background;
3. the algorithm marks foreground pixels; pixels outside the zones are dropped;
4. if most of the watched area changed at once (a light switched on or off)
   it is lighting, not a person: the background restarts from this frame and
   detection pauses for ``relearn_s`` while it re-learns quickly;
5. changed pixels are grouped into blobs; blobs smaller than
   ``min_area_fraction`` are noise; a large blob whose pixels are an affine
   function of the background's (same texture, other brightness: a lamp, a
   shadow, a cloud) is lighting too and is absorbed into the background.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import numpy as np

from quickcam.common.config import MotionConfig

RELEARN_RATE = 0.25  # background learning rate just after a global change
GAIN_DEADBAND = 0.02  # brightness ratios closer to 1 than this are left alone
MAX_GAIN = 3.0  # a larger brightness ratio is a light switched, not an exposure change
GAIN_GRID = (3, 4)  # rows, columns of the exposure/lighting gain estimate
CLIPPED = 240  # gray levels at or above this are taken as clipped by the sensor
LIGHTING_RESIDUAL = 0.45  # blob is lighting if an affine fit leaves less than this share of the change


@dataclass(frozen=True)
class MotionResult:
    motion: bool
    area_fraction: float  # share of the frame covered by blobs large enough to count
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # full-frame pixels
    brightness: float = 0.0  # mean gray level 0..255 before any correction
    global_change: bool = False  # lighting changed the whole picture; the background is re-learning
    lighting_blobs: int = 0  # large blobs recognised as a brightness change and ignored


class MotionDetector(ABC):
    """Feed frames to ``detect``; it holds the background and nothing else.

    ``zone_mask`` (see ``quickcam.detector.zones``) may be any size; it is
    resized to the detection size. ``fps`` turns ``relearn_s`` into frames.
    """

    name: ClassVar[str]

    def __init__(self, config: MotionConfig, fps: float = 15.0, zone_mask: np.ndarray | None = None) -> None:
        self.config = config
        self.relearn_frames = max(1, round(config.relearn_s * fps))
        self._zone_source = zone_mask
        self.zone: np.ndarray | None = None
        self.zone_area = 0
        self.reference: np.ndarray | None = None  # float32 running average of normalised frames
        self.relearn_left = 0
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    # -- what an algorithm provides -------------------------------------------
    @abstractmethod
    def _foreground(self, gray: np.ndarray, threshold: int, relearning: bool) -> np.ndarray:
        """255 where ``gray`` differs from the background, else 0, and learn ``gray``.

        ``threshold`` is the gray-level change that counts now (lower at night if
        configured); ``relearning`` asks for fast learning after a global change.
        """

    @abstractmethod
    def _restart(self, gray: np.ndarray) -> None:
        """Forget the background and start again from ``gray``."""

    # -- the shared steps ------------------------------------------------------
    def _prepare(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        target_w = min(self.config.detection_width, width)
        target_h = max(1, round(height * target_w / width))
        small = cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        blur = 3 if target_w <= 240 else 5
        return cv2.GaussianBlur(gray, (blur, blur), 0)

    def _set_zone(self, shape: tuple[int, int]) -> None:
        height, width = shape
        if self._zone_source is None:
            self.zone, self.zone_area = None, height * width
            return
        zone = cv2.resize(self._zone_source, (width, height), interpolation=cv2.INTER_NEAREST)
        self.zone = np.where(zone >= 128, 255, 0).astype(np.uint8)
        self.zone_area = max(1, cv2.countNonZero(self.zone))

    def reset(self, gray: np.ndarray) -> None:
        self.reference = gray.astype(np.float32)
        self._restart(gray)

    def _normalise_gain(self, gray: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``gray`` brought to the reference's exposure, and the pixels that cannot be compared.

        None instead of the frame when the overall brightness changed more than
        MAX_GAIN times: a light switched on or off, a global change whatever
        the pixels say.

        The gain is the median ratio reference/frame in each cell of a coarse
        grid (GAIN_GRID), interpolated smoothly across the frame: a camera's
        exposure change is uniform, a lamp in a corner is not, and both are
        smooth. A cell is far larger than a person at any distance the camera
        is meant for, and a median ignores what covers less than half of it.

        A pixel clipped at white, now or in the reference, no longer scales with
        the exposure: those are left out of the foreground and of learning while
        a gain is divided out (else a brighter room lights up every white wall).
        """
        assert self.reference is not None
        ref = self.reference[::2, ::2]
        cur = gray[::2, ::2].astype(np.float32)
        level, now = float(ref.mean()), float(cur.mean())
        if max(level, now) > 16 and not 1 / MAX_GAIN <= (level + 1) / (now + 1) <= MAX_GAIN:
            return None, None
        usable = (cur > 8) & (cur < CLIPPED) & (ref < CLIPPED)
        if usable.sum() < cur.size // 4:
            return gray, None  # too dark or too bright to estimate a gain
        ratios = ref / np.maximum(cur, 1.0)
        overall = float(np.median(ratios[usable]))
        if not 1 / MAX_GAIN <= overall <= MAX_GAIN:
            return None, None
        rows, cols = GAIN_GRID
        grid = np.full((rows, cols), overall, np.float32)
        height, width = cur.shape
        for r in range(rows):
            for c in range(cols):
                cell = (slice(r * height // rows, (r + 1) * height // rows),
                        slice(c * width // cols, (c + 1) * width // cols))
                pick = usable[cell]
                if pick.sum() >= pick.size // 4:
                    grid[r, c] = np.median(ratios[cell][pick])
        np.clip(grid, 1 / MAX_GAIN, MAX_GAIN, out=grid)
        if np.all(np.abs(grid - 1) < GAIN_DEADBAND):
            return gray, None
        gain = cv2.resize(grid, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
        normal = cv2.convertScaleAbs(cv2.multiply(gray.astype(np.float32), gain))
        clipped = cv2.dilate(((gray >= CLIPPED) | (self.reference >= CLIPPED)).astype(np.uint8), self.kernel)
        return normal, clipped.astype(bool)

    def threshold_for(self, brightness: float) -> int:
        """The gray-level change that counts; lower in the dark if configured."""
        cfg = self.config
        if cfg.dark_pixel_threshold is not None and brightness < cfg.dark_threshold:
            return cfg.dark_pixel_threshold
        return cfg.pixel_threshold

    def detect(self, image: np.ndarray) -> MotionResult:
        cfg = self.config
        gray = self._prepare(image)
        brightness = float(cv2.mean(gray)[0])
        if self.reference is None or self.reference.shape != gray.shape:
            self._set_zone(gray.shape)
            self.reset(gray)
            return MotionResult(False, 0.0, brightness=brightness)
        normal, clipped = self._normalise_gain(gray)
        if normal is None:
            return self._global_change(gray, brightness, 1.0)
        relearning = self.relearn_left > 0
        rate = max(RELEARN_RATE, cfg.learning_rate) if relearning else cfg.learning_rate
        threshold = self.threshold_for(brightness)
        changed_mask = self._foreground(normal, threshold, relearning)
        if clipped is not None:
            changed_mask[clipped] = 0
        if self.zone is not None:
            changed_mask = cv2.bitwise_and(changed_mask, self.zone)
        changed = cv2.countNonZero(changed_mask) / self.zone_area
        if relearning:  # still settling after a global change: learn, report nothing
            self.relearn_left -= 1
            self._learn(normal, rate, clipped)
            return MotionResult(False, changed, brightness=brightness, global_change=True)
        if changed >= cfg.global_change_fraction:
            return self._global_change(gray, brightness, changed)
        self._learn(normal, rate, clipped)
        return self._blobs(image.shape[1], normal, changed_mask, brightness)

    def _global_change(self, gray: np.ndarray, brightness: float, changed: float) -> MotionResult:
        self.reset(gray)
        self.relearn_left = self.relearn_frames
        return MotionResult(False, changed, brightness=brightness, global_change=True)

    def _learn(self, normal: np.ndarray, rate: float, clipped: np.ndarray | None) -> None:
        assert self.reference is not None
        if clipped is None:
            cv2.accumulateWeighted(normal, self.reference, rate)
        else:
            cv2.accumulateWeighted(normal, self.reference, rate, mask=np.where(clipped, 0, 255).astype(np.uint8))

    def _blobs(self, full_width: int, normal: np.ndarray, changed_mask: np.ndarray,
               brightness: float) -> MotionResult:
        cfg = self.config
        mask = cv2.morphologyEx(changed_mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.dilate(mask, self.kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        frame_area = mask.size
        min_area = cfg.min_area_fraction * frame_area
        lighting_area = cfg.lighting_min_blob_fraction * frame_area
        scale = full_width / mask.shape[1]
        boxes, area, lighting = [], 0.0, 0
        for contour in contours:
            contour_area = cv2.contourArea(contour)
            if contour_area < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            if contour_area >= lighting_area and self._is_lighting(normal, changed_mask, (x, y, w, h)):
                lighting += 1
                self._absorb(normal, (x, y, w, h))
                continue
            area += contour_area
            boxes.append((int(x * scale), int(y * scale), int(w * scale), int(h * scale)))
        return MotionResult(bool(boxes), area / frame_area, boxes, brightness, lighting_blobs=lighting)

    def _is_lighting(self, normal: np.ndarray, changed_mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """True if the changed pixels in ``box`` are the background's, brighter or darker."""
        assert self.reference is not None
        x, y, w, h = box
        pick = changed_mask[y:y + h, x:x + w] > 0
        if pick.sum() < 16:
            return False
        cur = normal[y:y + h, x:x + w][pick].astype(np.float32)
        ref = self.reference[y:y + h, x:x + w][pick]
        change = cur - ref
        change_rms = float(np.sqrt(np.mean(change * change)))
        if change_rms == 0:
            return True
        ref_var = float(ref.var())
        if ref_var < 9.0:  # flat background: only an offset can be fitted
            residual = change - change.mean()
        else:
            gain = float(np.mean((cur - cur.mean()) * (ref - ref.mean()))) / ref_var
            if not 0.3 <= gain <= 3.0:
                return False
            residual = cur - (gain * (ref - ref.mean()) + cur.mean())
        return float(np.sqrt(np.mean(residual * residual))) < LIGHTING_RESIDUAL * change_rms

    def _absorb(self, normal: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Take a lit-up region into the background at once (algorithms may override)."""
        assert self.reference is not None
        x, y, w, h = box
        self.reference[y:y + h, x:x + w] = normal[y:y + h, x:x + w]
