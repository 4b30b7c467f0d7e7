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

import dataclasses
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion.person import PersonCheck

log = logging.getLogger(__name__)

RELEARN_RATE = 0.25  # background learning rate just after a global change
NOISE_K = 4.0  # a pixel changed if it moved this many times the measured noise (sigma of frame - background)
NOISE_MIN = 0.5  # the noise estimate never goes below this (gray levels, after shrinking and blurring)
NOISE_SMOOTHING = 0.1  # weight of each frame's noise measure in the running estimate
NORMAL_LEVEL = 100.0  # mean gray level at which ``pixel_threshold`` applies in full; dimmer scenes scale it
DARK_SMOOTHING = 0.5  # in the dark, each frame is averaged with the previous ones (temporal denoising)
GAIN_DEADBAND = 0.02  # brightness ratios closer to 1 than this are left alone
MAX_GAIN = 3.0  # a larger brightness ratio is a light switched, not an exposure change
GAIN_GRID = (3, 4)  # rows, columns of the exposure/lighting gain estimate
SAMPLE = 3  # the gain and noise estimates read every SAMPLE-th pixel of every SAMPLE-th row (medians: plenty)
CLIPPED = 240  # gray levels at or above this are taken as clipped by the sensor
RATIO_OFFSET = 4.0  # added to both sides of frame / background, so near-black pixels do not explode
LIGHTING_SLOPE = 0.25  # plain background: lighting if the log ratio's slopes stay under this share of its departure
LIGHTING_ROUGHNESS = 0.15  # lighting only if the ratio's fine detail is under this share of its departure
LIGHT_CONTEXT_S = 2.0  # within this of a recognised change of light, a smooth blob is light without more tests
LIGHT_MOVED = 0.05  # a gain cell this far from 1 means the light is changing (exposure, dimmer, lamp)
MIN_TEXTURE = 0.012  # background detail (std of log gray, high-pass) above which its texture can decide
TEXTURE_KEPT = 0.5  # textured background: lighting if the ratio's detail is under this share of the texture


@dataclass(frozen=True)
class MotionResult:
    motion: bool
    area_fraction: float  # share of the frame covered by blobs large enough to count
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # full-frame pixels
    brightness: float = 0.0  # mean gray level 0..255 before any correction
    global_change: bool = False  # lighting changed the whole picture; the background is re-learning
    lighting_blobs: int = 0  # blobs recognised as a brightness change and ignored
    dark: bool = False  # below ``dark_threshold``: frames are denoised over time before detection
    noise: float = 0.0  # measured noise of frame - background, gray levels at the detection size
    threshold: float = 0.0  # the pixel threshold used on this frame
    person_waiting: bool = False  # motion held back: the person check has not seen a person in it (yet)


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
        self.light_context = 0  # frames left in which a recent change of light explains smooth blobs
        self.light_context_frames = max(1, round(LIGHT_CONTEXT_S * fps))
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.noise: float | None = None  # running estimate of the noise of frame - background, gray levels
        self.dark = False
        self._smoothed: np.ndarray | None = None  # the temporally denoised frame, in the dark
        self._next_look_ns = 0
        self.person = PersonCheck(config.person_budget_ms_per_s, fps) if config.person_check else None
        if config.dark_interval_s is not None:
            log.warning("motion: dark_interval_s = %.1f: in the dark, motion is looked for only every %.1f s "
                        "while no event runs, so a person may walk through unseen; remove the key to detect on "
                        "every frame (the default)", config.dark_interval_s, config.dark_interval_s)

    # -- what an algorithm provides -------------------------------------------
    @abstractmethod
    def _foreground(self, gray: np.ndarray, threshold: float, relearning: bool) -> np.ndarray:
        """255 where ``gray`` differs from the background, else 0, and learn ``gray``.

        ``threshold`` is the gray-level change that counts now (lower at night if
        configured); ``relearning`` asks for fast learning after a global change.
        """

    @abstractmethod
    def _restart(self, gray: np.ndarray) -> None:
        """Forget the background and start again from ``gray``."""

    # -- the shared steps ------------------------------------------------------
    def skip(self, time_ns: int, recording: bool) -> bool:
        """True if the frame at ``time_ns`` should not be looked at (opt-in ``dark_interval_s`` only).

        By default every frame is, in the dark too. With ``dark_interval_s`` set,
        in the dark and while no event runs, one frame every ``dark_interval_s``.
        """
        interval = self.config.dark_interval_s
        if interval is None or not self.dark or recording:
            return False
        if time_ns < self._next_look_ns:
            return True
        self._next_look_ns = time_ns + int(interval * 1e9)
        return False

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        target_w = min(self.config.detection_width, width)
        target_h = max(1, round(height * target_w / width))
        small = cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        blur = 3 if target_w <= 240 else 5
        # float from here on: in the dark a person is a few gray levels, rounding would eat them
        return cv2.GaussianBlur(gray.astype(np.float32), (blur, blur), 0)

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
        ref = self.reference[::SAMPLE, ::SAMPLE]
        cur = gray[::SAMPLE, ::SAMPLE]
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
        if np.any(np.abs(grid - 1) >= LIGHT_MOVED):
            self.light_context = self.light_context_frames  # the light is changing now
        if np.all(np.abs(grid - 1) < GAIN_DEADBAND):
            return gray, None
        gain = cv2.resize(grid, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
        normal = cv2.multiply(gray, gain)
        clipped = cv2.dilate(((gray >= CLIPPED) | (self.reference >= CLIPPED)).astype(np.uint8), self.kernel)
        return normal, clipped.astype(bool)

    def threshold_for(self, brightness: float) -> float:
        """The gray-level change that counts now.

        ``pixel_threshold`` in normal light, scaled down with the brightness in a
        dim scene (a person's contrast falls with the light), but never below
        NOISE_K times the noise measured on the picture itself: at night the
        threshold follows the sensor's noise, not a fixed gray level. A
        configured ``dark_pixel_threshold`` overrides it in the dark.
        """
        cfg = self.config
        if cfg.dark_pixel_threshold is not None and brightness < cfg.dark_threshold:
            return float(cfg.dark_pixel_threshold)
        scaled = cfg.pixel_threshold * min(1.0, brightness / NORMAL_LEVEL)
        return max(scaled, NOISE_K * (self.noise or NOISE_MIN))

    def _measure_noise(self, normal: np.ndarray) -> None:
        """Update the noise estimate: the robust sigma of frame - background (median absolute deviation).

        The median ignores anything covering under half of the picture (a person).
        """
        assert self.reference is not None
        diff = np.abs(normal[::SAMPLE, ::SAMPLE] - self.reference[::SAMPLE, ::SAMPLE])
        if self.zone is not None:
            diff = diff[self.zone[::SAMPLE, ::SAMPLE] > 0]
        sigma = max(NOISE_MIN, 1.4826 * float(np.median(diff)))
        self.noise = sigma if self.noise is None else self.noise + NOISE_SMOOTHING * (sigma - self.noise)

    def _denoise(self, gray: np.ndarray, brightness: float) -> np.ndarray:
        """In the dark, average each frame with the previous ones: noise falls, a walker stays visible."""
        self.dark = brightness < self.config.dark_threshold
        if not self.dark:
            self._smoothed = None
            return gray
        if self._smoothed is None or self._smoothed.shape != gray.shape:
            self._smoothed = gray.copy()
        else:
            cv2.accumulateWeighted(gray, self._smoothed, DARK_SMOOTHING)
        return self._smoothed

    def detect(self, image: np.ndarray) -> MotionResult:
        cfg = self.config
        gray = self._prepare(image)
        brightness = float(cv2.mean(gray)[0])
        gray = self._denoise(gray, brightness)
        if self.reference is None or self.reference.shape != gray.shape:
            self._set_zone(gray.shape)
            self.reset(gray)
            return self._result(False, 0.0, brightness=brightness)
        normal, clipped = self._normalise_gain(gray)
        if normal is None:
            return self._global_change(gray, brightness, 1.0)
        relearning = self.relearn_left > 0
        self.light_context = max(0, self.light_context - 1)
        rate = max(RELEARN_RATE, cfg.learning_rate) if relearning else cfg.learning_rate
        self._measure_noise(normal)
        threshold = self.threshold_for(brightness)
        changed_mask = self._foreground(normal, threshold, relearning)
        if clipped is not None:
            changed_mask[clipped] = 0
        if self.zone is not None:
            changed_mask = cv2.bitwise_and(changed_mask, self.zone)
        changed = cv2.countNonZero(changed_mask) / self.zone_area
        if changed >= cfg.global_change_fraction:
            return self._global_change(gray, brightness, changed)
        if relearning:  # just after a global change: learn fast, but keep watching
            self.relearn_left -= 1
        self._learn(normal, rate, clipped)
        result = self._blobs(image.shape[1], normal, changed_mask, brightness, relearning)
        if self.person is not None and not self.person.allows(image, result.boxes) and result.motion:
            return dataclasses.replace(result, motion=False, person_waiting=True)
        return result

    def _result(self, motion: bool, area: float, **fields: object) -> MotionResult:
        return MotionResult(motion, area, dark=self.dark, noise=self.noise or 0.0,
                            threshold=self.threshold_for(float(fields.get("brightness", 0.0))), **fields)

    def _global_change(self, gray: np.ndarray, brightness: float, changed: float) -> MotionResult:
        """The whole picture changed at once (a light switched): start the background again from this frame.

        Detection goes on from the next frame, against the new background, so a
        person who comes in with the light is still seen; the background learns
        fast for ``relearn_s`` while the camera's exposure settles.
        """
        self.reset(gray)
        self.relearn_left = self.relearn_frames
        self.light_context = self.light_context_frames
        return self._result(False, changed, brightness=brightness, global_change=True)

    def _learn(self, normal: np.ndarray, rate: float, clipped: np.ndarray | None) -> None:
        assert self.reference is not None
        if clipped is None:
            cv2.accumulateWeighted(normal, self.reference, rate)
        else:
            cv2.accumulateWeighted(normal, self.reference, rate, mask=np.where(clipped, 0, 255).astype(np.uint8))

    def _blobs(self, full_width: int, normal: np.ndarray, changed_mask: np.ndarray,
               brightness: float, relearning: bool) -> MotionResult:
        cfg = self.config
        mask = cv2.morphologyEx(changed_mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.dilate(mask, self.kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        frame_area = mask.size
        min_area = cfg.min_area_fraction * frame_area
        scale = full_width / mask.shape[1]
        boxes, small_boxes, area, lighting = [], [], 0.0, 0
        for contour in contours:
            contour_area = cv2.contourArea(contour)
            if contour_area < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            if self._is_lighting(normal, changed_mask, (x, y, w, h)):
                lighting += 1
                continue
            area += contour_area
            small_boxes.append((x, y, w, h))
            boxes.append((int(x * scale), int(y * scale), int(w * scale), int(h * scale)))
        if lighting:
            self.light_context = self.light_context_frames
            self._absorb(normal, small_boxes)
        return self._result(bool(boxes), area / frame_area, boxes=boxes, brightness=brightness,
                            lighting_blobs=lighting, global_change=relearning)

    def _is_lighting(self, normal: np.ndarray, changed_mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """True if the change in ``box`` has the shape of light: the background, scaled by a smooth gain.

        Light (a lamp, a door onto a lit corridor, a cloud) multiplies the
        background by a gain that varies slowly across the region, so the log
        of the ratio frame / background is smooth there. In order:

        1. rough ratio (fine detail, what a small blur removes, over
           LIGHTING_ROUGHNESS of its departure from 1): something replaced the
           background, a person. Real walkers measure 0.15-0.4, light under 0.12;
        2. smooth, and the light changed within LIGHT_CONTEXT_S (a global
           change, another lighting blob, a gain cell off by LIGHT_MOVED): light;
        3. smooth, on a textured background whose texture survives (the
           ratio's detail under TEXTURE_KEPT of the background's): light;
        4. smooth on a plain background (a plain wall, or a uniformly coloured
           object on it): only the outline can tell: light fades out, an
           object's edge is a jump. The ratio's steepest slopes (90th
           percentile, per pixel) are compared with its departure from 1.
        """
        assert self.reference is not None
        x, y, w, h = box
        pick = changed_mask[y:y + h, x:x + w] > 0
        if pick.sum() < 16:
            return False
        height, width = normal.shape
        x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(width, x + w + 2), min(height, y + h + 2)
        log_ref = np.log(self.reference[y0:y1, x0:x1] + RATIO_OFFSET)
        log_ratio = np.log(normal[y0:y1, x0:x1] + RATIO_OFFSET) - log_ref
        inner = (slice(y - y0, y - y0 + h), slice(x - x0, x - x0 + w))
        departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
        detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
        if detail >= LIGHTING_ROUGHNESS * departure:
            return False  # the ratio is rough: something replaced the background
        if self.light_context:
            return True  # the light just changed, and this is as smooth as light
        texture = float(np.std((log_ref - cv2.GaussianBlur(log_ref, (0, 0), 1.5))[inner][pick]))
        if texture >= MIN_TEXTURE and detail < TEXTURE_KEPT * texture:
            return True  # the background's texture shows through, scaled
        slope = cv2.magnitude(cv2.Sobel(log_ratio, cv2.CV_32F, 1, 0, ksize=3),
                              cv2.Sobel(log_ratio, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
        return float(np.percentile(slope, 90)) < LIGHTING_SLOPE * departure  # plain background: a soft outline

    def _absorb(self, normal: np.ndarray, keep: list[tuple[int, int, int, int]]) -> None:
        """Light changed somewhere: take the whole picture into the background at once, except ``keep``.

        Not only the lit-up blob: light fades out beyond the pixels that
        crossed the threshold, and a background patched in one box would leave
        a seam there that the next frame takes for an outline. The boxes in
        ``keep`` (motion that is not light) stay as they were. Algorithms with
        their own model may override this.
        """
        assert self.reference is not None
        saved = [(box, self.reference[box[1]:box[1] + box[3], box[0]:box[0] + box[2]].copy()) for box in keep]
        self.reference[:] = normal
        for (x, y, w, h), patch in saved:
            self.reference[y:y + h, x:x + w] = patch
