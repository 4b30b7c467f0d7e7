"""Dark mode, as the camera's status and log see it.

Whether a frame is dark, and how detection copes (every frame looked at, averaged over
time, a threshold from the measured noise), is the motion core's business
(``detector/motion/base.py``): this stage only follows ``MotionResult.dark`` and says
when the camera enters or leaves the dark, once each time.
"""

from __future__ import annotations

import logging

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import MotionResult

log = logging.getLogger(__name__)


class DarkMode:
    """Follows the motion core's verdict on darkness; logs each change."""

    def __init__(self, camera_id: str, motion: MotionConfig) -> None:
        self.camera_id, self.motion = camera_id, motion
        self.dark = False

    def update(self, result: MotionResult) -> None:
        """Take a detection's result; logs entering and leaving dark mode."""
        if result.dark == self.dark:
            return
        self.dark = result.dark
        if self.dark:
            log.info("camera %s: entering dark mode (brightness %.1f < %.1f): every frame denoised over time, "
                     "pixel threshold %.1f from the measured noise", self.camera_id, result.brightness,
                     self.motion.dark_threshold, result.threshold)
        else:
            log.info("camera %s: leaving dark mode (brightness %.1f)", self.camera_id, result.brightness)
