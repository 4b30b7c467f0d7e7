"""Each camera's zones, replaceable while the detector runs (the zone editor saves, detection follows).

The detect stage holds a ``ZoneWatch``; once per frame it asks ``changed()``
(an integer comparison) and, when the editor has saved new zones, rebuilds its
motion detector with ``mask(width, height)``. The new background is learned
again in a second or so, as after any restart.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from quickcam.common.config import ZonesConfig
from quickcam.detector.zones import ZoneError, build_zone_mask

log = logging.getLogger(__name__)


class ZoneBoard:
    """The zones saved at run time, per camera (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zones: dict[str, tuple[int, ZonesConfig, np.ndarray | None]] = {}

    def replace(self, camera_id: str, zones: ZonesConfig, mask_image: np.ndarray | None = None) -> None:
        """New zones for ``camera_id`` (already validated); ``mask_image`` is the painted mask, if any."""
        with self._lock:
            version = self._zones.get(camera_id, (0, zones, None))[0] + 1
            self._zones[camera_id] = (version, zones, mask_image)

    def current(self, camera_id: str) -> tuple[int, ZonesConfig, np.ndarray | None] | None:
        with self._lock:
            return self._zones.get(camera_id)

    def watch(self, camera_id: str, configured: ZonesConfig) -> ZoneWatch:
        """The detect stage's view of one camera's zones, starting from the configured ones."""
        return ZoneWatch(self, camera_id, configured)


class ZoneWatch:
    """One camera's zones as the detect stage sees them."""

    def __init__(self, board: ZoneBoard, camera_id: str, configured: ZonesConfig) -> None:
        self.board, self.camera_id = board, camera_id
        self.version, self.zones, self.mask_image = 0, configured, None
        self.changed()

    def changed(self) -> bool:
        """True once after each replacement; then ``zones`` and ``mask`` give the new ones."""
        current = self.board.current(self.camera_id)
        if current is None or current[0] == self.version:
            return False
        self.version, self.zones, self.mask_image = current
        return True

    def mask(self, width: int, height: int) -> np.ndarray | None:
        """The watched area at this size (raises ZoneError when it is empty or the image is unreadable)."""
        return build_zone_mask(self.zones, width, height, self.mask_image)

    def new_mask(self, width: int, height: int) -> np.ndarray | None:
        """``mask`` for zones saved at run time; never raises, so detection never stops over a zone."""
        try:
            return self.mask(width, height)
        except ZoneError as exc:  # validated before saving, so only a frame size the editor did not see
            log.error("camera %s: the new zones cannot be used (%s); watching the whole picture", self.camera_id, exc)
            return None
