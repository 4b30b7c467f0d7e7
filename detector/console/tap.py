"""The live tap: the newest frame of each camera, for viewers of the console, and nothing when none watch.

Capture calls ``offer`` once per frame. With nobody watching that camera it is
one dictionary read and returns: no copy, no resize, no JPEG. With a viewer it
keeps a *reference* to the frame (frames are never modified after capture:
detection and recording already share them) at most ``max_fps`` times a second.
JPEG encoding happens on the viewer's side, in the console's worker threads,
once per kept frame however many viewers there are.

A slot holds only the newest frame, so a slow or stuck viewer can never make
capture wait or memory grow: it simply gets the newest frame when it asks
again, and the frames it missed are counted (``skipped``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class _Slot:
    seq: int = 0  # frames kept so far; viewers compare it with the last one they had
    time_ns: int = 0  # the kept frame's capture time
    kept_ns: int = -(1 << 62)  # when it was kept (monotonic clock)
    image: np.ndarray | None = None
    jpeg: bytes | None = None  # the encoding of ``image``, made by the first viewer that asks
    jpeg_seq: int = -1
    viewers: int = 0
    watching: list[Viewer] = field(default_factory=list)
    sent: int = 0  # frames handed to viewers (all viewers together)
    skipped: int = 0  # kept frames a viewer never got because it was slower than the camera


class LiveTap:
    """Thread-safe newest-frame slots, one per camera, filled only while someone watches."""

    def __init__(self, max_width: int = 640, max_fps: float = 5.0, quality: int = 70,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.max_width, self.quality = max_width, quality
        self.gap_ns = int(1e9 / max_fps)
        self.clock = clock  # the rate is wall-clock: a file read faster than real time is not sent faster
        self._watching: dict[str, int] = {}  # read without the lock by offer(): an int per camera
        self._slots: dict[str, _Slot] = {}
        self._cond = threading.Condition()
        self._encode_lock = threading.Lock()

    # -- the capture side ----------------------------------------------------------
    def offer(self, camera_id: str, image: np.ndarray | Callable[[], np.ndarray], time_ns: int) -> None:
        """Called by capture for every frame; returns at once unless someone watches ``camera_id``.

        ``image`` may be a function making the colour picture (``Frame.bgr``): a decoder's frame
        holds only luma for detection, and the colour picture is made only for a frame kept here.
        """
        if not self._watching.get(camera_id):
            return
        now = self.clock()
        with self._cond:
            slot = self._slots[camera_id]
            if now - slot.kept_ns < self.gap_ns:
                return  # faster than the view rate: not kept, not counted
            if slot.image is not None:
                for viewer in slot.watching:  # the frame replaced never reached this viewer: counted
                    if viewer.seq < slot.seq:
                        viewer.skipped += 1
                        slot.skipped += 1
            slot.seq += 1
            slot.time_ns, slot.kept_ns = time_ns, now
            slot.image = image() if callable(image) else image
            self._cond.notify_all()

    # -- the viewer side -----------------------------------------------------------
    @contextmanager
    def watch(self, camera_id: str) -> Iterator[Viewer]:
        """Register a viewer of ``camera_id`` for the block; the tap fills the slot only meanwhile."""
        with self._cond:
            slot = self._slots.setdefault(camera_id, _Slot())
            slot.viewers += 1
            self._watching[camera_id] = slot.viewers
            viewer = Viewer(self, camera_id, slot.seq)
            slot.watching.append(viewer)
        try:
            yield viewer
        finally:
            with self._cond:
                slot.watching.remove(viewer)
                slot.viewers -= 1
                self._watching[camera_id] = slot.viewers
                if not slot.viewers:  # let the last frame go; the next viewer waits for a fresh one
                    slot.image, slot.jpeg, slot.kept_ns = None, None, -(1 << 62)

    def viewers(self, camera_id: str) -> int:
        return self._watching.get(camera_id, 0)

    def status(self) -> dict[str, dict[str, int]]:
        """Per camera: viewers now, frames sent and frames skipped for slow viewers."""
        with self._cond:
            return {cam: {"viewers": s.viewers, "sent": s.sent, "skipped": s.skipped}
                    for cam, s in self._slots.items()}

    def _next(self, camera_id: str, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        with self._cond:
            slot = self._slots[camera_id]
            if not self._cond.wait_for(lambda: slot.seq > after_seq and slot.image is not None, timeout):
                return None
            seq, image = slot.seq, slot.image
            slot.sent += 1
        with self._encode_lock:  # one encoding per kept frame, outside the lock capture takes
            if slot.jpeg_seq != seq:
                slot.jpeg, slot.jpeg_seq = self._encode(image), seq
            jpeg = slot.jpeg
        assert jpeg is not None
        return seq, jpeg

    def _encode(self, image: np.ndarray) -> bytes:
        height, width = image.shape[:2]
        if width > self.max_width:
            size = (self.max_width, max(1, round(height * self.max_width / width)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding of the live view failed")
        return jpeg.tobytes()


class Viewer:
    """One viewer's place in a camera's stream (from ``LiveTap.watch``)."""

    def __init__(self, tap: LiveTap, camera_id: str, seq: int) -> None:
        self.tap, self.camera_id, self.seq = tap, camera_id, seq
        self.frames = 0
        self.skipped = 0  # kept frames replaced before this viewer took them (counted by offer)

    def next_jpeg(self, timeout: float) -> bytes | None:
        """The next kept frame as JPEG, waiting up to ``timeout`` s (blocks: call from a worker thread)."""
        got = self.tap._next(self.camera_id, self.seq, timeout)
        if got is None:
            return None
        self.seq, jpeg = got
        self.frames += 1
        return jpeg
