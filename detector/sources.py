"""Frame sources: the demo scene, a video file, a stream, a USB camera.

Every source yields ``Frame`` objects stamped with a wall-clock time in Unix
nanoseconds, so recordings, snapshots and latency measurements share one clock.
A video file analysed as fast as possible (or given a start time) is stamped on
its own timeline (its start plus each frame's timestamp, ``FileTimeline``), so
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
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from quickcam.common.config import CameraConfig
from quickcam.detector.clock import footage_ns

log = logging.getLogger(__name__)

STREAM_TIMEOUT_MS = 10_000


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
    """A finite source (a video file without loop) has no more frames."""


class FrameSource(Protocol):
    fps: float
    width: int
    height: int
    live: bool

    def open(self) -> bool: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class _Pacer:
    """Sleeps so that frames come out at ``fps`` in real time, without drift."""

    def __init__(self, fps: float) -> None:
        self.period_ns = int(1e9 / fps)
        self.next_ns = time.monotonic_ns()

    def wait(self) -> None:
        delay = self.next_ns - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
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
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.walks, self.period_s = walks, period_s
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
        return index / self.fps

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
            # Scene time 0 on the wall clock: benchmarks turn the scripted walks into onsets with it.
            log.info("demo scene clock starts at %d ms", stamp // 1_000_000)
        frame = Frame(image, stamp, self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


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
        if cfg.source == "file" and not Path(cfg.path).is_file():
            return None
        params: list[int] = []
        if cfg.source == "stream":  # fail fast instead of hanging on a dead stream
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        cap = cv2.VideoCapture(cfg.path, cv2.CAP_ANY, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def open(self) -> bool:
        """(Re)open the device; True on success. Names the real size and rate in the log."""
        self.close()
        cfg = self.config
        self.capture = self._open_device()
        if self.capture is None:
            return False
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 120 else cfg.fps
        self.width = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or cfg.width
        self.height = int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or cfg.height
        if cfg.source == "file":
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
        return True

    def read(self) -> Frame | None:
        if self.capture is None:
            return None
        if self.pacer:
            self.pacer.wait()
        ok, image = self.capture.read()
        if not ok or image is None:
            if self.config.source != "file":
                return None
            if not self.config.loop or self.index == 0:
                raise EndOfSource(self.config.path)
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            if self.timeline is not None:
                self.timeline.next_loop()
            ok, image = self.capture.read()
            if not ok or image is None:
                return None  # the file went away or broke: reopen with backoff
        if (image.shape[1], image.shape[0]) != (self.width, self.height):
            self.height, self.width = image.shape[:2]  # the frames, not the driver, tell the truth
        if self.timeline is not None:
            stamp = self.timeline.stamp(self.capture.get(cv2.CAP_PROP_POS_MSEC))
        else:
            stamp = footage_ns()
        frame = Frame(image, stamp, self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


def make_source(config: CameraConfig) -> FrameSource:
    """The source the camera config asks for, not yet opened.

    A file or stream is demuxed by PyAV (its packets can be recorded as they
    are) unless ``[camera] record = "reencode"``; a ``detect_path`` is the
    stream detection reads (see ``detector/pipeline/packet_capture.py``). A
    USB camera on Linux is read through PyAV's v4l2 demuxer in the format
    ``input_format`` chooses (``detector/usb_source.py``); elsewhere through OpenCV.
    """
    if config.source == "demo":
        return DemoSource(config.width, config.height, config.fps, realtime=config.realtime)
    if config.source == "camera" and sys.platform.startswith("linux"):
        from quickcam.detector.usb_source import UsbCamera  # H.264 / MJPEG through PyAV's v4l2 demuxer

        return UsbCamera(config)
    if config.source in ("file", "stream") and (config.record != "reencode" or config.detect_path):
        from quickcam.detector.av_source import AvSource

        return AvSource(config, config.detect_path or config.path)
    return CaptureSource(config)
