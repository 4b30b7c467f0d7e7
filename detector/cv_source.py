"""A USB camera, video file or stream through OpenCV's ``cv2.VideoCapture``.

The path of ``[camera] record = "reencode"`` (and of USB cameras off Linux, and of
raw USB video): OpenCV decodes every frame to BGR. A file analysed as fast as
possible, or given a start, is stamped on its own timeline (``FileTimeline``);
anything else when it is read, except a stream's first frames (``_read_burst``):
FFmpeg reads ~2 s of a stream while it opens and hands them over at once, so
they are read ahead at the open and timed from when they were sent, as
``av_source.py`` does with their packets.
The source interface, the demo scene and the choice of source are ``sources.py``'s.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from quickcam.common.config import CameraConfig
from quickcam.detector.clock import footage_ns
from quickcam.detector.sources import EndOfSource, Frame, _creation_time_ns, _Pacer, cut_short
from quickcam.detector.stream_clock import OpenBurst, opened_anchor

log = logging.getLogger("quickcam.detector.sources")  # the sources' lines, under the name they always had

BURST_MAX_S = 5.0  # a stream's frames read ahead at its open: at most this long of them (FFmpeg probes up to 5 s)


def _size(path: str) -> int:
    """A file's size now, -1 when it cannot be told (deleted: read to its end through the open file)."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def camera_backends() -> list[int]:
    """The OpenCV capture back ends to try, best first, for this OS."""
    if sys.platform.startswith("win"):
        return [cv2.CAP_DSHOW, cv2.CAP_MSMF, cv2.CAP_ANY]
    if sys.platform == "darwin":
        return [cv2.CAP_AVFOUNDATION, cv2.CAP_ANY]
    return [cv2.CAP_V4L2, cv2.CAP_ANY]


class FileTimeline:
    """Wall-clock times for a video file's frames: its start time plus each frame's own timestamp.

    The start is ``[camera] start`` (or ``quickcam detector --start``) when
    given; otherwise, analysed as fast as possible, the file's creation time
    (the container's ``creation_time``, else its mtime minus its length), so an
    event's time is when it happened on the video. Played in real time with no
    start (a stand-in for a live camera), frames get the wall clock instead.
    A looped file carries on where the last pass ended, so time never repeats.
    """

    def __init__(self, start_ns: int, fps: float) -> None:
        self.start_ns, self.period_ns = start_ns, int(1e9 / fps)
        self.offset_ns = 0  # the passes before this one (a looped file)
        self.last_ns = start_ns - self.period_ns

    @classmethod
    def for_file(cls, config: CameraConfig, capture: cv2.VideoCapture, fps: float) -> FileTimeline | None:
        """The file's timeline; None for a file played in real time with no start (the wall clock is its time)."""
        if config.start is not None:
            start = config.start if config.start.tzinfo else config.start.astimezone()  # naive: local time
            return cls(int(start.timestamp() * 1e9), fps)
        if config.realtime:
            return None
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        length_ns = int(frames / fps * 1e9) if frames > 0 else 0
        created, why = _creation_time_ns(Path(config.path)), "its creation time"
        if created is None:
            created, why = Path(config.path).stat().st_mtime_ns - length_ns, "its mtime minus its length"
        log.info("camera %s: the file's first frame is at %s (%s); set [camera] start or --start to change it",
                 config.id, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created / 1e9)), why)
        return cls(created, fps)

    def next_loop(self) -> None:
        self.offset_ns = self.last_ns + self.period_ns - self.start_ns

    def stamp(self, position_ms: float) -> int:
        """The time of the frame just read at ``position_ms`` into the file; always after the last one."""
        stamp = self.start_ns + self.offset_ns + int(max(0.0, position_ms) * 1e6)
        if stamp <= self.last_ns:  # a file without timestamps, or one that goes backwards
            stamp = self.last_ns + self.period_ns
        self.last_ns = stamp
        return stamp


class CaptureSource:
    """A USB camera, video file or stream through ``cv2.VideoCapture``.

    A failed read returns None (the caller reopens with backoff) rather than
    raising, because a camera that hiccups must never stop the detector. A
    USB camera is asked for MJPG (``mjpg = true``): most webcams deliver their
    full resolution and frame rate only compressed over USB 2.
    """

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.capture: cv2.VideoCapture | None = None
        self.index = 0
        self.fps = config.fps
        self.width, self.height = config.width, config.height
        self.pacer: _Pacer | None = None
        self.live = config.source in ("camera", "stream") or config.realtime
        self.started_ns = time.time_ns()
        self.timeline: FileTimeline | None = None
        self.opened_bytes = -1  # a file's size when it last opened (by its path: OpenCV keeps its file to itself)
        self.ahead: deque[tuple[np.ndarray, int]] = deque()  # a stream's frames read ahead at its open, timed
        self.ahead_failed = False  # ... and the read after them failed: the stream is lost once they are taken
        self.last_ns = 0  # the last frame's time

    @property
    def name(self) -> str:
        cfg = self.config
        return (cfg.path or f"device {cfg.index}") if cfg.source == "camera" else cfg.path

    def _open_device(self) -> cv2.VideoCapture | None:
        cfg = self.config
        if cfg.source == "camera":
            for backend in camera_backends():
                cap = cv2.VideoCapture(cfg.path or cfg.index, backend)
                if cap.isOpened():
                    if cfg.mjpg and cfg.input_format != "raw":
                        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
                    cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
                    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
                    cap.set(cv2.CAP_PROP_FPS, cfg.fps)
                    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
                    return cap
                cap.release()
            return None
        # os.path.isfile, not Path.is_file: that raised a path too long for the kernel (ENAMETOOLONG), and the
        # camera's fault was the exception's words instead of open_failure's text with the fix
        if cfg.source == "file" and not os.path.isfile(cfg.path):
            return None
        params: list[int] = []
        if cfg.source == "stream":  # fail fast instead of hanging on a dead stream
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, cfg.stream_timeout_s * 1000,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, cfg.stream_timeout_s * 1000]
        cap = cv2.VideoCapture(cfg.path, cv2.CAP_ANY, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def open(self) -> bool:
        """(Re)open the device; True on success. Names the real size and rate in the log."""
        self.close()
        cfg = self.config
        opened_ns = footage_ns()
        self.capture = self._open_device()
        if self.capture is None:
            return False
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 120 else cfg.fps
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or cfg.width
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or cfg.height
        if cfg.source == "file":
            self.opened_bytes = _size(cfg.path)
            if cfg.realtime:
                self.pacer = _Pacer(self.fps)
            if self.timeline is None:  # kept across reopens: one file, one timeline
                self.timeline = FileTimeline.for_file(cfg, self.capture, self.fps)
        fourcc = int(self.capture.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00") or "?"
        log.info("camera %s: opened %s (%s back end, %s) at %dx%d %.1f fps%s",
                 cfg.id, self.name, self.capture.getBackendName(), codec, self.width, self.height, self.fps,
                 "" if (self.width, self.height) == (cfg.width, cfg.height) or cfg.source != "camera"
                 else f" (asked for {cfg.width}x{cfg.height})")
        if cfg.source == "stream":
            self._read_burst(opened_ns)
        return True

    def _read_burst(self, opened_ns: int) -> None:
        """Read ahead the frames FFmpeg read while the stream opened, each timed from when it was sent.

        As ``AvSource._read_burst``: they come at once, then the next as they are sent
        (``stream_clock.OpenBurst`` says when that is); the stream's time 0 is where
        ``stream_clock.opened_anchor`` puts it, by their positions (``CAP_PROP_POS_MSEC``)
        and when each was handed over. Stamped when read, they were all ~2 s late. They are
        held as the pre-roll holds frames: as much of the stream as the open took, 5 s at most.
        """
        assert self.capture is not None
        burst = OpenBurst(opened_ns, footage_ns(), int(1e9 / self.fps))
        read: list[tuple[np.ndarray, int, int]] = []  # (picture, stream ns, handed over)
        while len(read) < round(BURST_MAX_S * self.fps):
            ok, image = self.capture.read()
            if not ok or image is None:
                self.ahead_failed = True
                break
            read.append((image, int(self.capture.get(cv2.CAP_PROP_POS_MSEC) * 1e6), footage_ns()))
            if burst.over(read[-1][1], read[-1][2]):
                break
        anchor_ns = opened_anchor([(stream_ns, at) for _, stream_ns, at in read], opened_ns)
        if anchor_ns is not None:  # none after it was handed over, whatever the positions say
            self.ahead.extend((image, min(at, anchor_ns + stream_ns)) for image, stream_ns, at in read)

    def read(self) -> Frame | None:
        if self.capture is None:
            return None
        if self.ahead:
            image, stamp = self.ahead.popleft()
            return self._frame(image, stamp)
        if self.ahead_failed:
            self.ahead_failed = False
            return None
        if self.pacer:
            self.pacer.wait()
        ok, image = self.capture.read()
        if not ok or image is None:
            if self.config.source != "file":
                return None
            if not self.config.loop or self.index == 0:
                path = self.config.path
                raise EndOfSource(path, cut_short(path, self.opened_bytes, _size(path)))
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            if self.timeline is not None:
                self.timeline.next_loop()
            ok, image = self.capture.read()
            if not ok or image is None:
                return None  # the file went away or broke: reopen with backoff
        if self.timeline is not None:
            stamp = self.timeline.stamp(self.capture.get(cv2.CAP_PROP_POS_MSEC))
        else:
            stamp = footage_ns()
        return self._frame(image, stamp)

    def _frame(self, image: np.ndarray, stamp: int) -> Frame:
        if (image.shape[1], image.shape[0]) != (self.width, self.height):
            self.height, self.width = image.shape[:2]  # the frames, not the driver, tell the truth
        stamp = max(stamp, self.last_ns + 1)  # a stream's frames read ahead end before those read now begin
        frame = Frame(image, stamp, self.index)
        self.last_ns = stamp
        self.index += 1
        return frame

    def close(self) -> None:
        self.ahead.clear()
        self.ahead_failed = False
        if self.capture is not None:
            self.capture.release()
            self.capture = None
