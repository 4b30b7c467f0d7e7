"""Frame sources: the interface every source meets, the demo scene, and which source a camera gets.

The sources themselves: ``av_source.py`` (a file or stream demuxed by PyAV),
``usb_source.py`` (a USB camera on Linux), ``cv_source.py`` (OpenCV's capture).

Every source yields ``Frame`` objects stamped with a wall-clock time in Unix
nanoseconds, so recordings, snapshots and latency measurements share one clock.
A video file analysed as fast as possible (or given a start time) is stamped on
its own timeline (its start plus each frame's timestamp, ``cv_source.FileTimeline``), so
an event's time is when it happened on the video.
A source returns ``None`` from ``read()`` when it has no frame right now (a lost
camera) and raises ``EndOfSource`` when a file has ended for good; ``open()``
(re)connects and says whether it worked, so the caller can retry with backoff.

A source is ``live`` when frames arrive whether or not anyone reads them (a
camera, a stream, a file or demo paced in real time): the pipeline must never
make it wait. A file or demo read as fast as possible is not live: it simply
waits for the pipeline, so nothing is dropped and a test sees every frame.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from quickcam.common.config import CameraConfig
from quickcam.detector.clock import footage_ns

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Frame:
    """A frame for detection; ``image`` is BGR (HxWx3) or, from a decoder, only its luma (HxW).

    A decoder's luma may be shrunk by ``scale`` (a whole number) towards the
    detection size: ``image`` pixels times ``scale`` are picture pixels, and
    ``width``/``height`` are the picture's.
    """

    image: np.ndarray  # BGR HxWx3, or gray HxW (the Y plane of ``decoded``, 1/scale of its size), uint8
    time_ns: int  # wall clock, Unix ns
    index: int
    decoded: Any = None  # the decoder's own frame (PyAV VideoFrame, YUV), when there is one
    scale: int = 1
    full: Callable[[], np.ndarray | None] | None = None  # ``decoded`` was decoded cheaply: the full decode
    damaged: bool = False  # a damaged picture (``damaged_packets.py``): recorded, not analysed for motion

    @property
    def width(self) -> int:
        if isinstance(self.decoded, np.ndarray):  # I420
            return self.decoded.shape[1]
        return self.decoded.width if self.decoded is not None else self.image.shape[1] * self.scale

    @property
    def height(self) -> int:
        if isinstance(self.decoded, np.ndarray):  # I420: the Y plane's rows, then U and V
            return self.decoded.shape[0] * 2 // 3
        return self.decoded.height if self.decoded is not None else self.image.shape[0] * self.scale

    def bgr(self) -> np.ndarray:
        """The full picture in colour: made only for the few frames that need it (snapshots, re-encoding)."""
        if self.image.ndim == 3:
            return self.image
        if isinstance(self.decoded, np.ndarray):
            return cv2.cvtColor(self.decoded, cv2.COLOR_YUV2BGR_I420)
        if self.decoded is not None:
            return self.decoded.to_ndarray(format="bgr24")
        return cv2.cvtColor(self.image, cv2.COLOR_GRAY2BGR)

    def picture(self) -> np.ndarray:
        """The full picture at full quality, for a person to look at (a snapshot): ``bgr()``, or where detection
        decoded it cheaply (``[camera] fast_decode``), the frame decoded again in full (``redecode.py``)."""
        if self.full is not None:
            image = self.full()
            if image is not None:
                return image
        return self.bgr()

    def yuv(self) -> Any:
        """The picture as YUV 4:2:0 when it is kept so (a PyAV VideoFrame, or an I420 array), else None."""
        if isinstance(self.decoded, np.ndarray) or hasattr(self.decoded, "planes"):
            return self.decoded
        return None

    def gray(self) -> np.ndarray:
        """The full picture in gray (a face search), without a colour conversion where there is YUV."""
        if isinstance(self.decoded, np.ndarray):
            return self.decoded[:self.height]
        if self.yuv() is not None and self.decoded.format.name.startswith(("yuv", "yuvj", "nv12", "gray")):
            plane = self.decoded.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(self.decoded.height, plane.line_size)
            return rows[:, :self.decoded.width]
        if self.scale == 1:
            return self.image if self.image.ndim == 2 else cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(self.bgr(), cv2.COLOR_BGR2GRAY)


class EndOfSource(Exception):
    """A finite source (a video file without loop) has no more frames.

    ``cut_short``: why it ended before its end (the file was truncated while it was
    read), for the camera's fault; empty when it was read to its end.
    """

    def __init__(self, path: str, cut_short: str = "") -> None:
        super().__init__(path)
        self.cut_short = cut_short


def cut_short(path: str, opened_bytes: int, now_bytes: int) -> str:
    """Why a file that ended was not read to its end: smaller than when it opened, or larger (still being written:
    the end read was not its end, and a demuxer does not wait for more); '' when neither (or a size is unknown, -1:
    a file deleted while it was read is read to its end through the open file). The native detector says the same
    (av_source.cpp's unfinished)."""
    if opened_bytes < 0 or now_bytes < 0 or now_bytes == opened_bytes:
        return ""
    sizes = f"({opened_bytes} bytes when it opened, {now_bytes} at its end)"
    if now_bytes > opened_bytes:
        return (f"{path} was still being written while it was analysed {sizes}: what was written later was not "
                "analysed; analyse it again once it is complete")
    return f"{path} was cut short while it was analysed {sizes}; analyse a complete copy of it"


class FrameSource(Protocol):
    fps: float
    width: int
    height: int
    live: bool

    def open(self) -> bool: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class _Pacer:
    """Sleeps so that frames come out at ``fps`` in real time, without drift.

    The sleep ends at the detector's stop (``stopping``, the capture loop's stop event): at ``fps = 0.1`` a 10 s
    sleep outlasted the stop's wait, which then gave the capture up as stuck in a read (the wrong cause).
    """

    def __init__(self, fps: float) -> None:
        self.period_ns = int(1e9 / fps)
        self.next_ns = time.monotonic_ns()
        self.stopping = threading.Event()  # the capture loop's, once it reads this source (CaptureStage)

    def wait(self) -> None:
        delay = self.next_ns - time.monotonic_ns()
        if delay > 0:
            self.stopping.wait(delay / 1e9)
        elif delay < -self.period_ns * 5:
            self.next_ns = time.monotonic_ns()  # fell far behind: don't burst
        self.next_ns += self.period_ns


@dataclass(frozen=True)
class Walk:
    """A person-sized object crossing the demo scene between two times (seconds)."""

    start_s: float
    end_s: float
    left_to_right: bool = True


# The demo's script, repeating every DEMO_PERIOD_S seconds: quiet, a walk,
# quiet, a walk back, quiet. Benchmarks use these times as ground truth.
DEMO_PERIOD_S = 30.0
DEMO_WALKS = (Walk(4.0, 10.0, True), Walk(18.0, 23.0, False))
DEMO_GAP_S = DEMO_WALKS[1].start_s - DEMO_WALKS[0].end_s  # 8 s between the walk and the walk back


def demo_script(gap_s: float = DEMO_GAP_S) -> tuple[tuple[Walk, ...], float]:
    """The demo's walks and period with ``gap_s`` of quiet between the walk and the walk back.

    The walks keep their lengths (6 s, 5 s) and the quiet around them; only the gap and
    with it the period shrink, so a test waits less for the second walk without the
    walker crossing any faster (``[camera] demo_gap_s``; the native detector's script
    is the same, detector/native/src/sources.cpp).
    """
    first, back = DEMO_WALKS
    shift = gap_s - DEMO_GAP_S
    return (first, Walk(back.start_s + shift, back.end_s + shift, back.left_to_right)), DEMO_PERIOD_S + shift


class DemoSource:
    """A generated scene: textured background, sensor noise, scripted walkers.

    It exists so that the whole pipeline can be run and tested with no camera;
    the motion is scripted, so tests and benchmarks know when it starts.
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        realtime: bool = True,
        seed: int = 7,
        walks: tuple[Walk, ...] = DEMO_WALKS,
        period_s: float = DEMO_PERIOD_S,
        start_s: float = 0.0,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.walks, self.period_s = walks, period_s
        self.start_s = start_s  # the script's time at the first frame: a later start brings the first walker sooner
        rng = np.random.default_rng(seed)
        texture = rng.integers(40, 200, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
        background = cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
        self.background = cv2.GaussianBlur(background, (0, 0), 3)
        cv2.rectangle(self.background, (width // 10, height // 3), (width // 4, height - 20), (90, 60, 40), -1)
        self.noise = np.empty_like(self.background)
        self.pacer = _Pacer(fps) if realtime else None
        self.live = realtime
        self.index = 0
        self.started_ns = time.time_ns()

    def open(self) -> bool:
        log.info("demo source: %dx%d at %.1f fps (%s)", self.width, self.height, self.fps,
                 "real time" if self.live else "as fast as possible")
        return True

    def scene_time_s(self, index: int) -> float:
        return self.start_s + index / self.fps

    def walker_box(self, t: float) -> tuple[int, int, int, int] | None:
        """Where the walker is at scene time ``t`` (x, y, w, h), or None when nobody is there."""
        phase = t % self.period_s
        for walk in self.walks:
            if walk.start_s <= phase < walk.end_s:
                progress = (phase - walk.start_s) / (walk.end_s - walk.start_s)
                if not walk.left_to_right:
                    progress = 1 - progress
                w, h = self.width // 8, self.height // 2
                x = int(-w + progress * (self.width + w))
                return x, self.height - h - 10, w, h
        return None

    def read(self) -> Frame:
        if self.pacer:
            self.pacer.wait()
        image = self.background.copy()
        box = self.walker_box(self.scene_time_s(self.index))
        if box is not None:
            x, y, w, h = box
            cv2.ellipse(image, (x + w // 2, y + h // 8), (w // 4, h // 8), 0, 0, 360, (150, 170, 210), -1)
            cv2.rectangle(image, (x + w // 6, y + h // 4), (x + 5 * w // 6, y + h), (30, 30, 120), -1)
        cv2.randn(self.noise, 0, 4)
        image = cv2.add(image, self.noise)
        # As fast as possible, a synthetic clock keeps durations truthful.
        stamp = footage_ns() if self.pacer else self.started_ns + int(self.index * 1e9 / self.fps)
        if self.index == 0:
            # Scene time 0 on the wall clock (before the first frame if the script starts later): benchmarks
            # turn the scripted walks into onsets with it.
            log.info("demo scene clock starts at %d ms", (stamp - int(self.start_s * 1e9)) // 1_000_000)
        frame = Frame(image, stamp, self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


def _creation_time_ns(path: Path) -> int | None:
    """The container's ``creation_time`` tag (set by most cameras and phones), or None."""
    try:
        import av  # optional here: only the H.264 encoder needs it

        with av.open(str(path)) as container:
            tag = container.metadata.get("creation_time")
        if not tag:
            return None
        return int(datetime.fromisoformat(tag.replace("Z", "+00:00")).timestamp() * 1e9)
    except Exception:  # no tag, no PyAV, or a tag that is not a time: fall back to the mtime
        return None


def make_source(config: CameraConfig) -> FrameSource:
    """The source the camera config asks for, not yet opened.

    A file or stream is demuxed by PyAV (its packets can be recorded as they
    are) unless ``[camera] record = "reencode"``; a ``detect_path`` is the
    stream detection reads (see ``detector/pipeline/packet_capture.py``). A
    USB camera on Linux is read through PyAV's v4l2 demuxer in the format
    ``input_format`` chooses (``detector/usb_source.py``); elsewhere through OpenCV.
    """
    if config.source == "demo":
        walks, period_s = demo_script(config.demo_gap_s)
        return DemoSource(config.width, config.height, config.fps, realtime=config.realtime,
                          walks=walks, period_s=period_s, start_s=config.demo_start_s)
    if config.source == "camera" and sys.platform.startswith("linux"):
        from quickcam.detector.usb_source import UsbCamera  # H.264 / MJPEG through PyAV's v4l2 demuxer

        return UsbCamera(config)
    if config.source in ("file", "stream") and (config.record != "reencode" or config.detect_path):
        from quickcam.detector.av_source import AvSource

        return AvSource(config, config.detect_path or config.path)
    from quickcam.detector.cv_source import CaptureSource  # imports this module: imported when used

    return CaptureSource(config)
