"""What every motion algorithm shares: shrink, denoise, normalise lighting, zones, blobs, verdict.

An algorithm (one file beside this one) only says which pixels differ from its
background (``_foreground``) and how to forget it (``_restart``). The steps
around it are the same for all, so they are written once here:

1. the frame is shrunk to ``detection_width``, turned gray (float: in the dark
   a person is a few gray levels) and, below ``dark_threshold``, averaged
   over time (dark mode: every frame is still looked at);
2. a brightness change (auto-exposure, a dimmer, a lamp) is divided out by a
   smooth gain map (``lighting.normalise_gain``); a part of it off by
   LIGHT_MOVED says the light is changing (``light_context``, step 7), unless
   the light's own random flicker explains it (``lighting.FlickerBand``);
3. the noise of frame - background is measured on every frame; the pixel
   threshold is ``pixel_threshold`` scaled with the brightness, never under
   NOISE_K times that noise (``threshold_for``);
4. the algorithm marks foreground pixels; where pixels have been flipping
   (leaves, a curtain) a larger change is needed (``activity.BusyMap``);
   while a gain is divided out, pixels clipped white are dropped, except a
   body standing before a background clipped white (``lighting.left_out``);
   pixels outside the zones are dropped;
5. if most of the watched area changed at once (a light switched on or off)
   the background restarts from this frame; detection goes on from the next
   one while the background learns fast for ``relearn_s``, the frames as
   they are (not brought to its exposure: a background restarted from a
   frame taken mid-switch then never learnt the settled light, the gain
   divided it out on every frame, stayed LIGHT_MOVED off, and the light
   context never ran out);
6. the background learns ``learning_rate`` of the frame, except a person's
   pixels (changed, inside last frame's motion) for their first HOLD_S: a
   person who stands still stays motion (``_learn``);
7. changed pixels are grouped into blobs; blobs smaller than
   ``min_area_fraction`` are noise; every other blob is judged by the shape
   of its change (``lighting.looks_like_light``; within LIGHT_CONTEXT_S of
   a global change, a blob that moved since the last frame is not light for
   its smoothness alone: what the light left stands where it is, and a
   plain walker who came in with the light (or switched it on) was taken
   for it until LIGHT_CONTEXT_S ran out (and after a big switch of light up,
   ``SwitchWatch.watch``: the IR-cut filter moving as someone came in is
   under MAX_GAIN, no global change); and in that time a blob that is
   light only because the light just changed does not arm the context
   again: his blobs did, and it never ran out. Not after other changes of
   light: drifting cloud shadows and a curtain's folds are light by the
   context alone frame after frame, and need it kept alive (benchmarks
   section 7, "the light context re-armed only by light on its own
   evidence"); just after a switch of
   light (a jump of the mean brightness out of its flicker:
   ``switch_watch.SwitchWatch``), a blob that stands still since the last
   frame is what the light left behind (a highlight it had clipped white,
   the rim of its pool: no smooth gain explains those), not motion
   (``SwitchWatch.still``); in a flickering light (no switch) only a still
   blob that crept in is, and last frame's motion standing still counts
   (``switch_watch.crept_in``); if any blob is one or the other, the whole
   background is re-learnt at once except where the other blobs are;
   a blob that is not last frame's motion going on, or goes on motion only
   one frame old when no motion ran two looks in a row for GLINT_CALM_S
   (water's glints start an event in a calm scene; a person who moves again
   soon after his last event is not asked), and is only a few faint bright
   specks is not motion if it
   lies in a busy place (sun caught by ripples: ``glints.on_water``,
   ``glints.is_glint``) or is one round speck (an insect in IR:
   ``glints.is_speck``); while the picture is full of separate specks
   (snow or dust in the IR light: ``glints.snowing``) the specks need not
   be faint;
   in a busy place, a blob continues the last frame's motion only if it
   overlaps a blob of that frame (``activity.Persistence``: leaves jump, a
   walker stays), and so must a blob that only adds light in a quiet place
   (rain in the IR light falls further in a look than a streak is long),
   and when other blobs of the frame were taken for light (a gust turning
   leaves all over a tree) it never counts on its first frame;
   a smooth, faint change there that is not last frame's motion going on is
   held while it is watched, and if it stands still for a few frames it is
   the place's shading (blurred leaves swaying) and learnt at once, as light
   is (``shading.StillShading``); if it moves it is judged as any blob;
   in a very busy place, a faint change that is not last frame's motion
   going on and crept over the threshold (it was there on the frame before:
   a curtain's edge carried past its swing) is held, a second at most
   (``swing.SwingOvershoot``);
8. optionally (``person_check``) motion counts only once a person was seen
   in it (``person.PersonCheck``).
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion.activity import CLOSE_LOOKS_S, BusyMap, Persistence
from quickcam.detector.motion.glints import adds_light, is_glint, is_speck, on_water, snowing
from quickcam.detector.motion.lighting import SAMPLE, FlickerBand, left_out, looks_like_light, median, normalise_gain
from quickcam.detector.motion.looks import context_step, smoothing_weight
from quickcam.detector.motion.person import PersonCheck
from quickcam.detector.motion.shading import StillShading
from quickcam.detector.motion.swing import SwingOvershoot
from quickcam.detector.motion.switch_watch import SwitchWatch, crept_in

log = logging.getLogger(__name__)

RELEARN_RATE = 0.25  # background learning rate just after a global change
NOISE_K = 4.0  # a pixel changed if it moved this many times the measured noise (sigma of frame - background)
NOISE_MIN = 0.5  # the noise estimate never goes below this (gray levels, after shrinking and blurring)
NOISE_SMOOTHING = 0.1  # weight of each frame's noise measure in the running estimate
NORMAL_LEVEL = 100.0  # mean gray level at which ``pixel_threshold`` applies in full; dimmer scenes scale it
DARK_SMOOTHING = 0.5  # in the dark, each frame's weight in the average of the last ones (temporal denoising, per frame)
LIGHT_CONTEXT_S = 2.0  # within this of a recognised change of light, a smooth blob is light without more tests
GLINT_CALM_S = 15.0  # motion one look old is asked the glint test only if no motion ran two looks in a row this long
HOLD_S = 30.0  # a pixel of a person (in a motion box) joins the background only after changed this long, seconds


@contextmanager
def _without_ipp() -> Iterator[None]:
    """Run the motion core without Intel IPP: the same floats on every platform, and as the native detector's.

    The opencv-python wheel uses IPP on x86-64 only (not on aarch64, not in
    Debian's libopencv that the native detector links), and IPP rounds
    ``accumulateWeighted`` and the gain grid's ``resize`` differently in the
    last bit. The background carries that bit until a pixel or a gain cell
    lands on the other side of a threshold, so the same frames could give
    another verdict (docs/native.md, the drift). OpenCV keeps the switch per
    thread, so it is set here, in the thread that runs the core, and put back
    after: the rest of that thread (snapshots, faces, the person check) is
    left as it was.
    """
    used = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        yield
    finally:
        cv2.ipp.setUseIPP(used)


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
    glints: ClassVar[bool] = True  # glints (``glints.is_glint``) never start motion; benches may switch it off

    def __init__(self, config: MotionConfig, fps: float = 15.0, zone_mask: np.ndarray | None = None) -> None:
        self.config = config
        self.relearn_frames = max(1, round(config.relearn_s * fps))
        self.fps = fps
        self._zone_source = zone_mask
        self.zone: np.ndarray | None = None
        self.zone_area = 0
        self.reference: np.ndarray | None = None  # float32 running average of normalised frames
        self.relearn_left = 0
        self.light_context = 0  # frames left in which a recent change of light explains smooth blobs
        self.after_global = 0  # frames left of LIGHT_CONTEXT_S since a global change or a big switch (step 7)
        self.light_context_frames = max(1, round(LIGHT_CONTEXT_S * fps))
        self.switch_watch = SwitchWatch(self.light_context_frames)  # a switch or flicker of light (step 7)
        self.flicker = FlickerBand(self.light_context_frames)  # what the light's own flicker moves the gain (step 2)
        self._moving: list[tuple[int, int, int, int]] = []  # last frame's motion boxes, detection size (``_learn``)
        self._motion_run = 0  # looks in a row with motion, up to the last one (a glint confirms none: ``_blobs``)
        self.calm_frames = max(1, round(GLINT_CALM_S * fps))
        self._calm = self.calm_frames  # source frames since motion last ran two looks in a row (at most calm_frames)
        self._changed_for: np.ndarray | None = None  # per pixel, frames it has been changed in a row (``_learn``)
        self.hold_frames = max(1, round(HOLD_S * fps))
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.noise: float | None = None  # running estimate of the noise of frame - background, gray levels
        self.dark = False
        self._smoothed: np.ndarray | None = None  # the temporally denoised frame, in the dark
        self._next_look_ns = 0
        self.gray: np.ndarray | None = None  # the last frame shrunk, gray and blurred (the view guard reads it)
        self.busy = BusyMap(fps)
        self.persistence = Persistence()
        self.shading = StillShading()  # a busy place's smooth, faint change that stands still: learnt, not motion
        self.swing = SwingOvershoot(fps)  # a very busy place's faint change that crept in (a curtain's edge): held
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

    def restart(self) -> None:
        """The camera was away (lost, then reopened): start the background again from the next frame.

        What was learnt of the picture is stale: someone walked off or the light
        changed while nothing was seen. Kept, a walker's trail in the background
        made every frame look like a change of light, and a walker after the
        reconnect was taken for light every other frame (never two frames of
        motion in a row: no event). As after a global change, the next frame is
        the background (that frame alone is not looked at) and it is learnt fast
        for ``relearn_s``; unlike one, nothing says the light moved.
        """
        self.reference, self._smoothed = None, None  # (in the dark, no stale frame averaged into the new one)
        self.persistence.forget()
        self.shading.forget()
        self.swing.forget()
        self.relearn_left = self.relearn_frames
        self.light_context = self.after_global = 0
        self._moving, self._motion_run = [], 0

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
        sigma = max(NOISE_MIN, 1.4826 * float(median(diff)))
        self.noise = sigma if self.noise is None else self.noise + NOISE_SMOOTHING * (sigma - self.noise)

    def _denoise(self, gray: np.ndarray, brightness: float, frames: int = 1) -> np.ndarray:
        """In the dark, average each frame with the previous ones: noise falls, a walker stays visible.

        ``frames``: source frames since the last look. The average's memory is
        counted in frames, not looks (``looks.smoothing_weight``): a look 0.5 s
        after the last is not averaged with it, or a walker becomes two faint
        ghosts that look like light.
        """
        self.dark = brightness < self.config.dark_threshold
        if not self.dark:
            self._smoothed = None
            return gray
        if self._smoothed is None or self._smoothed.shape != gray.shape:
            self._smoothed = gray.copy()
        else:
            cv2.accumulateWeighted(gray, self._smoothed, smoothing_weight(DARK_SMOOTHING, frames))
        return self._smoothed

    def detect(self, image: np.ndarray, frames: int = 1) -> MotionResult:
        """The motion verdict on ``image``; the core's arithmetic is the same on every platform (``_without_ipp``).

        ``frames``: source frames since the last look, 1 when every frame is
        looked at; more when an opt-in looks less often (``idle_detect_fps``,
        keyframes only, the low-power governor, ``dark_interval_s``), so that
        the core's counters run in real time, not in looks (``looks.py``).
        """
        frames = max(1, frames)
        with _without_ipp():
            cfg = self.config
            gray = self.gray = self._prepare(image)
            brightness = float(cv2.mean(gray)[0])
            if self.switch_watch.watch(brightness, frames):  # a big switch of light: as a global change, for step 7
                self.after_global = self.light_context_frames
            gray = self._denoise(gray, brightness, frames)
            self.flicker.watch(float(cv2.mean(gray)[0]) if self.dark else brightness)  # (the dark's: denoised)
            if self.reference is None or self.reference.shape != gray.shape:
                self._set_zone(gray.shape)
                self.reset(gray)  # at start, or the first frame back after ``restart``
                return self._result(False, 0.0, brightness=brightness, global_change=self.relearn_left > 0)
            normal, clipped, moving = normalise_gain(gray, self.reference, self.flicker.band)
            if moving:
                self.light_context = self.light_context_frames  # the light is changing now (beyond its flicker)
            if normal is None:
                return self._global_change(gray, brightness, 1.0)
            relearning = self.relearn_left > 0
            step = context_step(frames, self.light_context_frames)
            self.light_context, self.after_global = max(0, self.light_context - step), max(0, self.after_global - step)
            rate = max(RELEARN_RATE, cfg.learning_rate) if relearning else cfg.learning_rate  # per look (``looks.py``)
            self._measure_noise(normal)
            threshold = self.threshold_for(brightness)
            changed_mask = self._foreground(normal, threshold, relearning)
            self.busy.gate(normal, self.reference, threshold, changed_mask, learn=not relearning)
            if clipped is not None:
                clipped = left_out(clipped, gray, normal, self.reference, threshold, changed_mask,
                                   self.light_context > 0)  # a body: compared
                changed_mask[clipped] = 0
            if self.zone is not None:
                changed_mask = cv2.bitwise_and(changed_mask, self.zone)
            changed = cv2.countNonZero(changed_mask) / self.zone_area
            if changed >= cfg.global_change_fraction:
                return self._global_change(gray, brightness, changed)
            if relearning:  # just after a global change: learn fast, but keep watching
                self.relearn_left = max(0, self.relearn_left - frames)
            self._learn(gray if relearning else normal, rate, clipped, changed_mask, frames)  # (step 5)
            result = self._blobs(image.shape[1], normal, changed_mask, brightness, relearning, threshold, frames)
            self.switch_watch.remember(normal, self._smoothed)  # for the stillness test on the next frame
        if self.person is not None and not self.person.allows(image, result.boxes, frames) and result.motion:
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
        self.persistence.forget()
        self.shading.forget()
        self.swing.forget()
        self.relearn_left = self.relearn_frames
        self.light_context = self.after_global = self.light_context_frames
        self.switch_watch.forget()
        self._moving, self._motion_run = [], 0
        return self._result(False, changed, brightness=brightness, global_change=True)

    def _learn(self, normal: np.ndarray, rate: float, clipped: np.ndarray | None, changed_mask: np.ndarray,
               frames: int = 1) -> None:
        """Fold ``normal`` into the background, except a person's pixels for their first HOLD_S.

        At ``learning_rate`` (a time constant of about 2 s) a person who stops
        (searching a drawer) or sneaks is part of the background within
        seconds, what little they still move is under the threshold, and the
        event ends while they are there. As Motion's reference frame does, a
        changed pixel inside last frame's motion boxes is not learnt until it
        has been changed for HOLD_S (a thing left behind, or a person still
        for longer, is then accepted: it cannot hold an event forever). A
        walker leaves no trail in the background either. Nor is a changed
        pixel inside a blob ``swing`` held on the frame before learnt: the
        hold delays, it must not let a person held there fade into the
        background (and what was left of him be learnt as shading).
        ``frames``: source frames since the last look; a pixel's count goes
        up by that many.
        """
        assert self.reference is not None
        keep = clipped  # pixels not learnt; copied below before the hold adds to it
        if not self._moving:
            self._changed_for = None  # no one to hold: counting starts again with the next motion
        else:
            changed = changed_mask > 0
            if self._changed_for is None or self._changed_for.shape != changed.shape:
                self._changed_for = np.zeros(changed.shape, np.uint16)
            self._changed_for += min(frames, self.hold_frames)
            np.minimum(self._changed_for, self.hold_frames, out=self._changed_for)
            self._changed_for *= changed
            keep = np.zeros(changed.shape, bool) if clipped is None else clipped.copy()
            for x, y, w, h in self._moving:
                keep[y:y + h, x:x + w] |= changed[y:y + h, x:x + w] & (
                    self._changed_for[y:y + h, x:x + w] < self.hold_frames)
        if self.swing.holding:  # nor a held overshoot's (``swing``): a person held there keeps his departure
            changed = changed_mask > 0
            keep = np.zeros(changed.shape, bool) if keep is None else keep.copy()
            for x, y, w, h in self.swing.holding:
                keep[y:y + h, x:x + w] |= changed[y:y + h, x:x + w]
        if keep is None:
            cv2.accumulateWeighted(normal, self.reference, rate)
        else:
            cv2.accumulateWeighted(normal, self.reference, rate, mask=np.where(keep, 0, 255).astype(np.uint8))

    def _young_after_calm(self) -> bool:
        """Motion is one look old and none ran two looks in a row for GLINT_CALM_S: its glints are asked.

        Water's glints start an event in a calm scene: a blob misses one of
        ``is_glint``'s limits by a hair and counts, and the glint on the next
        frame overlaps it, so it did not creep in (benchmarks 7c, issue 13:
        the last motion of two looks or more 34 s or more before; single looks
        of the pond's own in between). A person who paused and moves again
        may look like a glint on his second frame too (a faint walker before
        a curtain, 5.7 s after his last motion): his motion goes on as any.
        """
        return self._motion_run == 1 and self._calm >= self.calm_frames

    def _blobs(self, full_width: int, normal: np.ndarray, changed_mask: np.ndarray,
               brightness: float, relearning: bool, threshold: float, frames: int = 1) -> MotionResult:
        cfg, watch = self.config, self.switch_watch
        contours = self._contours(changed_mask)
        frame_area = changed_mask.size
        min_area = cfg.min_area_fraction * frame_area
        scale = full_width / changed_mask.shape[1]
        blobs, lighting, revealed, stood, lit = [], 0, 0, 0, False
        snow = bool(contours) and snowing(changed_mask)  # flakes all over: a glint need not be faint (``is_glint``)
        for contour in contours:
            contour_area = cv2.contourArea(contour)
            if contour_area < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            light_changed = self.light_context > 0 and not (self.after_global > 0 and watch.moved(
                normal, (x, y, w, h), round(contour_area), threshold))
            if looks_like_light(normal, self.reference, changed_mask, (x, y, w, h), light_changed):
                lighting += 1  # (after a global change, light by the context alone does not arm it again)
                lit = lit or not light_changed or not self.after_global or looks_like_light(
                    normal, self.reference, changed_mask, (x, y, w, h), False)
            elif watch.armed and watch.still(normal, (x, y, w, h), round(contour_area), threshold):
                if watch.switched or crept_in((x, y, w, h), self._moving):
                    revealed += 1  # left behind by the switch (a clipped highlight, a pool's rim), or crept in
                else:
                    stood += 1  # in a flicker, last frame's motion standing still: counted, learnt around
                    blobs.append(((x, y, w, h), contour_area))
            elif (self.glints and (crept_in((x, y, w, h), self._moving) or self._young_after_calm())
                  and (on_water(self.busy, (x, y, w, h)) or is_speck(changed_mask, (x, y, w, h)))
                  and is_glint(normal, self.reference, changed_mask, (x, y, w, h), threshold, min_area,
                               faint=not snow)):
                continue  # faint bright specks in a busy place (water's glints), or one round (an insect): not shown
            else:
                blobs.append(((x, y, w, h), contour_area))
        small_boxes = [box for box, _ in blobs]
        shading = self.shading.judge(small_boxes, self._moving, self.busy, normal, self.reference, changed_mask)
        swing = self.swing.judge(small_boxes, self._moving, self.busy, normal, self.reference, watch.previous,
                                 changed_mask, frames)
        held = [verdict != "" or over for verdict, over in zip(shading, swing, strict=True)]
        bright = ([adds_light(normal, self.reference, changed_mask, box) for box in small_boxes]
                  if frames / self.fps <= CLOSE_LOOKS_S else None)  # (a walker far apart at sparse looks)
        counted = self.persistence.counts(small_boxes, self.busy, stirred=lighting > 0, held=held, bright=bright)
        self._moving = [box for (box, _), ok in zip(blobs, counted, strict=True) if ok]
        self._motion_run = self._motion_run + 1 if self._moving else 0
        self._calm = 0 if self._motion_run >= 2 else min(self.calm_frames, self._calm + frames)
        boxes = [(int(x * scale), int(y * scale), int(w * scale), int(h * scale)) for x, y, w, h in self._moving]
        area = sum(a for (_, a), ok in zip(blobs, counted, strict=True) if ok)
        if lit:
            self.light_context = self.light_context_frames
        if lighting or revealed or stood or "shading" in shading:  # (shading is learnt with the rest of the picture)
            self._absorb(normal, [box for box, verdict in zip(small_boxes, shading, strict=True)
                                  if verdict != "shading"])
        return self._result(bool(boxes), area / frame_area, boxes=boxes, brightness=brightness,
                            lighting_blobs=lighting + revealed, global_change=relearning)

    def _contours(self, changed_mask: np.ndarray) -> Sequence[np.ndarray]:
        """The outlines of the changed pixels' blobs (opened, then dilated twice); none when nothing changed.

        A quiet picture (most frames of a watching camera) has no changed pixel:
        the opening, dilation and contour search would find nothing, and they
        were a tenth of the motion core's time.
        """
        if not cv2.countNonZero(changed_mask):
            return ()
        mask = cv2.morphologyEx(changed_mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.dilate(mask, self.kernel, iterations=2)
        return cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]

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
