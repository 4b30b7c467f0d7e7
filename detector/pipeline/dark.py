"""Dark mode: when the picture is too dark for motion detection, look only now and then.

One place for the rule, so a change to how darkness is handled (e.g. a lower
pixel threshold in the dark) is made here and nowhere else in the pipeline.
"""

from __future__ import annotations

import logging

from quickcam.common.config import MotionConfig

log = logging.getLogger(__name__)


class DarkMode:
    """Enters below ``dark_threshold`` brightness; while dark and idle, checks every ``dark_interval_s``."""

    def __init__(self, camera_id: str, motion: MotionConfig) -> None:
        self.camera_id, self.motion = camera_id, motion
        self.dark = False
        self.next_check_ns = 0

    def skip(self, time_ns: int, recording: bool) -> bool:
        """True for a frame detection may skip: dark, no event running, not yet time to check."""
        return self.dark and not recording and time_ns < self.next_check_ns

    def update(self, brightness: float, time_ns: int) -> None:
        """Take a detection's brightness; logs entering and leaving dark mode."""
        dark = brightness < self.motion.dark_threshold
        if dark != self.dark:
            self.dark = dark
            if dark:
                log.info("camera %s: entering dark mode (brightness %.1f < %.1f); checking every %.1f s%s",
                         self.camera_id, brightness, self.motion.dark_threshold, self.motion.dark_interval_s,
                         f", pixel threshold {self.motion.dark_pixel_threshold}"
                         if self.motion.dark_pixel_threshold else "")
            else:
                log.info("camera %s: leaving dark mode (brightness %.1f)", self.camera_id, brightness)
        if self.dark:
            self.next_check_ns = time_ns + int(self.motion.dark_interval_s * 1e9)
