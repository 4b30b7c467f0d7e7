"""Video segment encoders: H.264 through PyAV (default) or OpenCV's mp4v (fallback).

Each segment is its own MP4 file starting with a keyframe, so every segment
plays on its own even if the rest of the event never arrives.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)

FAILED_SHOWN_S = 300.0  # an encoder's failure is in the camera's status line this long after the last one


class SegmentEncoder(Protocol):
    codec: str

    def write(self, image: np.ndarray) -> None: ...

    def close(self) -> None: ...


class H264Encoder:
    """libx264 via PyAV: about 4x smaller than mp4v at similar quality."""

    codec = "h264"

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        import av  # imported here so the mp4v fallback works without PyAV

        self.container = av.open(str(path), mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(15)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.rate = rate
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"preset": "veryfast", "crf": "26", "tune": "zerolatency"}
        self.stream.codec_context.thread_count = 1
        self._av = av

    def write(self, image: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(image, format="bgr24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def write_decoded(self, frame: Any) -> None:
        """A frame still in YUV (a decoder's VideoFrame, or an I420 array): no round trip through BGR."""
        if isinstance(frame, np.ndarray):
            frame = self._av.VideoFrame.from_ndarray(frame, format="yuv420p")
        frame.pts = None  # a decoder's timestamps are not this segment's,
        frame.time_base = 1 / self.rate  # nor its time base (at another rate the frame count was rescaled: EINVAL)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


class Mp4vEncoder:
    """OpenCV's built-in MPEG-4 Part 2 writer: larger files, no extra dependency."""

    codec = "mp4v"

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not self.writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {path}")

    def write(self, image: np.ndarray) -> None:
        self.writer.write(image)

    def close(self) -> None:
        self.writer.release()


class EncoderChoice:
    """A camera's segment encoder: H.264 when configured and it opens, else mp4v.

    Under a low address-space limit PyAV could not be loaded, and "H.264 encoder unavailable …; falling back to
    mp4v" was warned at every segment (9 in 6 s) with nothing in ``quickcam status`` (bench/outside/FINDINGS.md
    #25). Now said once per camera, and again only when it changes (available again, then not); ``unavailable``
    is shown on the camera's status line while it lasts.
    """

    def __init__(self, camera_id: str, kind: str) -> None:
        self.camera_id, self.kind = camera_id, kind
        self.unavailable = ""  # why H.264 did not open for the newest segment ("" while it does, or mp4v is asked)
        self.failures = 0  # segments whose encoder failed on a frame (since start); the frame went into the next one
        self.failed_why = ""
        self._failed_at = 0.0  # (monotonic) the last failure: said in the status line for FAILED_SHOWN_S
        self._next_falls_back = False

    def failed(self, exc: BaseException) -> None:
        """A segment's encoder failed on a frame, which goes into a new segment: in mp4v if it was H.264.

        Said once (the first, with its cause), then counted in the camera's status line while recent.
        """
        self.failures += 1
        self.failed_why = " ".join(str(exc).split()) or type(exc).__name__
        self._failed_at = time.monotonic()
        self._next_falls_back = self.kind == "h264"
        if self.failures == 1:
            log.warning("camera %s: the %s encoder failed (%s); the frame goes into a new segment%s, no frame lost; "
                        "further failures are counted in the event's last line and quickcam status", self.camera_id,
                        self.kind, self.failed_why,
                        " in mp4v" if self.kind == "h264" else "")

    def open(self, path: Path, width: int, height: int, fps: float) -> SegmentEncoder:
        falls_back, self._next_falls_back = self._next_falls_back, False
        if self.kind == "h264" and not falls_back:
            try:
                encoder = H264Encoder(path, width, height, fps)
            except Exception as exc:  # PyAV missing, built without libx264, or unable to load (address space)
                if not self.unavailable:
                    log.warning("camera %s: H.264 encoder unavailable (%s); recording in mp4v until it is",
                                self.camera_id, exc)
                self.unavailable = " ".join(str(exc).split()) or type(exc).__name__
            else:
                if self.unavailable:
                    log.warning("camera %s: H.264 encoder available again; recording in h264", self.camera_id)
                    self.unavailable = ""
                return encoder
        return Mp4vEncoder(path, width, height, fps)

    def status_note(self) -> str:
        """For the camera's status line: what it records in instead, and why ("" when as configured); and the
        encoder's failures since start while the last is recent."""
        notes = [f"recording in mp4v: H.264 encoder unavailable ({self.unavailable})" if self.unavailable else ""]
        if self.failures and time.monotonic() - self._failed_at < FAILED_SHOWN_S:
            notes.append(f"the {self.kind} encoder failed {self.failures} time(s) since start ({self.failed_why}); "
                         "each frame it failed on went into a new segment, none lost")
        return "; ".join(filter(None, notes))
