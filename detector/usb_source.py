"""A USB camera on Linux, read through FFmpeg's v4l2 demuxer: its own H.264 recorded as it came.

Which format is read (``[camera] input_format``) decides what recording costs:

- ``h264`` (UVC H.264 cameras): the camera's packets are passed through into
  the segments like an IP camera's (``AvSource``: pre-roll back to a keyframe,
  cut at keyframes, ``max_gop_s`` fallback to re-encoding), and decoded for
  detection with only the luma kept;
- ``mjpeg`` (most webcams): each JPEG is decoded at 1/2-1/8 scale in gray for
  detection and kept as its bytes in the pre-roll; events are re-encoded;
- ``raw`` (YUYV and the like): read through OpenCV as before, and re-encoded;
- ``auto`` (the default): whatever the device lists first in that order of
  preference (``v4l2.choose_input``), decided when it first opens, since a
  camera may be plugged in after the detector started.

Times: V4L2 stamps each buffer when the camera delivered it, on the monotonic
clock (UVC's default) or the wall clock; either is turned into wall-clock time
exactly (``driver_clock``), so a segment's start and end are when its frames
were taken, not when they were read. A stream with no such clock (a raw
elementary stream read from a pipe) is counted at its nominal rate from the
first frame, re-anchored to the wall clock if it drifts (``AvSource``).
Counted or not, every packet's timestamps increase, as the MP4 muxer needs: a
stamp the driver repeats (or sets back by less than a frame) is moved just past
the last one; a larger jump back ends the segment, and the next starts at a keyframe.

``demuxer`` other than ``v4l2`` reads the same elementary stream the v4l2
demuxer yields (``h264``: Annex B; ``mjpeg``: JPEGs back to back) from a path
such as a FIFO: how the tests run this code without a camera.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from quickcam.common.config import CameraConfig
from quickcam.detector.av_source import STREAM_TIMEOUT_S, AvSource, Packet, StreamInfo
from quickcam.detector.clock import footage_ns
from quickcam.detector.cv_source import CaptureSource
from quickcam.detector.sources import Frame
from quickcam.detector.v4l2 import DeviceError, choose_input, device_error, query, request_keyframe_period

log = logging.getLogger(__name__)

CLOCK_WINDOW_NS = 10_000_000_000  # a driver timestamp this close to a system clock is on that clock (as FFmpeg's)
CLOCK_STEP_NS = 1_000_000_000  # the wall clock stepped (NTP) by more than this: follow it
# Probe at most this long at open (FFmpeg's default is 5 s): the v4l2 demuxer has the size and rate from
# the driver and needs only the first keyframe's parameter sets.
ANALYZE_US = 1_000_000
# A stream without a clock (from a pipe) is probed no further than its first frame: it is timed as it is
# read, and FFmpeg would otherwise read it for seconds (or to its end) before handing on the first frame.
PIPE_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


def camera_device(config: CameraConfig) -> str:
    """The device node: ``[camera] path`` when set (e.g. a stable /dev/v4l/by-id/... link), else /dev/videoN."""
    return config.path or f"/dev/video{config.index}"


def driver_clock(stamp_ns: int, wall_ns: int, monotonic_ns: int) -> str:
    """Which clock a device's first timestamp is on: ``wall``, ``monotonic``, or ``none`` (to be counted)."""
    if abs(stamp_ns - wall_ns) < CLOCK_WINDOW_NS:
        return "wall"
    if abs(stamp_ns - monotonic_ns) < CLOCK_WINDOW_NS:
        return "monotonic"
    return "none"


def increasing(stamp: int, last: int | None, frame_ticks: int) -> int:
    """``stamp``, or just past ``last`` when the driver repeated it or set it back by less than a frame
    (the MP4 muxer needs increasing stamps); a larger jump back is left to end the segment."""
    if last is not None and 0 <= last - stamp < frame_ticks:
        return last + 1
    return stamp


class V4l2Source(AvSource):
    """A device's H.264 or MJPEG demuxed by PyAV; stamps from the driver's clock (see the module's docstring)."""

    def __init__(self, config: CameraConfig, device: str, input_format: str, demuxer: str = "v4l2",
                 name: str | None = None) -> None:
        super().__init__(config, device)
        self.live = True
        self.input_format, self.demuxer_name, self.name = input_format, demuxer, name or device
        self.open_error = ""
        self.clock: str | None = None  # wall / monotonic / none, decided at each open's first packet
        self.to_wall_ns = 0  # added to a monotonic stamp
        self.counted = 0  # frames so far, for a stream without a clock
        self.last_stamp: int | None = None  # the last packet's timestamp, in stream ticks
        self.keyframes_asked = False

    def open(self) -> bool:
        """Open the device. A stream without a clock is timed back from its newest frame, completed about a
        frame ago: the keyframe probe at open may have read a GOP ahead, taken before now, not from now on."""
        if not super().open():
            return False
        self.stream_clock.restart(time.time_ns() - len(self.pending) * int(1e9 / self.fps))
        return True

    def _open_container(self) -> Any:
        import av

        cfg = self.config
        options = {"framerate": f"{cfg.fps:g}", "analyzeduration": str(ANALYZE_US)}
        if self.demuxer_name == "v4l2":
            options.update(input_format=self.input_format, video_size=f"{cfg.width}x{cfg.height}")
            if self.input_format == "h264" and not self.keyframes_asked:
                self._ask_for_keyframes()
        else:
            options.update(PIPE_OPTIONS)
        self.clock, self.counted, self.open_error, self.last_stamp = None, 0, "", None
        try:
            return av.open(self.path, format=self.demuxer_name, options=options, timeout=STREAM_TIMEOUT_S)
        except (av.FFmpegError, OSError) as exc:
            self.open_error = device_error(self.name, exc, self.path)
            raise

    def _ask_for_keyframes(self) -> None:
        """Ask an H.264 camera for a keyframe every ``segment_s`` (at least 1 s): short GOPs, short segments."""
        self.keyframes_asked = True
        seconds = max(1.0, self.config.recording.segment_s)
        frames = max(1, round(seconds * self.config.fps))
        if request_keyframe_period(self.path, frames):
            log.info("camera %s: asked the camera for a keyframe every %d frames (%.0f s)", self.config.id, frames,
                     seconds)
        else:
            log.info("camera %s: the camera has no keyframe-interval control; its own interval is used "
                     "(max_gop_s = %g s)", self.config.id, self.config.max_gop_s)

    def _next_packet(self) -> Any:
        packet = super()._next_packet()
        if packet is None:
            return None
        stamp = packet.pts if packet.pts is not None else packet.dts
        if self.clock is None:
            stamp_ns = stamp * self.tick_num * 1_000_000_000 // self.tick_den if stamp is not None else -1
            wall_ns, monotonic_ns = time.time_ns(), time.monotonic_ns()
            self.clock = driver_clock(stamp_ns, wall_ns, monotonic_ns)
            self.to_wall_ns = wall_ns - monotonic_ns
            log.info("camera %s: %s", self.config.id, {
                "wall": "the driver stamps frames on the wall clock",
                "monotonic": "the driver stamps frames on the monotonic clock; turned into wall-clock times",
                "none": f"the stream has no clock; frames are counted at {self.fps:g} fps"}[self.clock])
        if self.clock == "none":
            packet.pts = packet.dts = self.counted * self.frame_ticks  # one frame per packet, no reordering
        elif stamp is not None and increasing(stamp, self.last_stamp, self.frame_ticks) != stamp:
            packet.pts = packet.dts = increasing(stamp, self.last_stamp, self.frame_ticks)
        self.last_stamp = packet.pts if packet.pts is not None else packet.dts
        self.counted += 1
        return packet

    def _wall_ns(self, ticks: int, arrived: bool = False) -> int:
        if self.clock not in ("wall", "monotonic"):
            return super()._wall_ns(ticks, arrived)
        stamp_ns = ticks * self.tick_num * 1_000_000_000 // self.tick_den
        if self.clock == "wall":
            return stamp_ns
        now = footage_ns() - time.monotonic_ns()  # forward steps only (detector/clock.py)
        if abs(now - self.to_wall_ns) > CLOCK_STEP_NS:
            log.info("camera %s: the wall clock moved by %.1f s; following it", self.config.id,
                     (now - self.to_wall_ns) / 1e9)
            self.to_wall_ns = now
        return stamp_ns + self.to_wall_ns


class UsbCamera:
    """A USB camera whose format is chosen when it first opens; the chosen source does the reading.

    It answers the pipeline's questions (``mode``, ``info``, ``take_packets``)
    for whichever source it chose: a ``V4l2Source`` for H.264 and MJPEG, an
    OpenCV ``CaptureSource`` for raw video. ``open_error`` says, with the fix,
    why the last open failed.
    """

    live = True

    def __init__(self, config: CameraConfig, device: str | None = None, demuxer: str = "v4l2") -> None:
        self.config, self.demuxer = config, demuxer
        self.device = device or camera_device(config)
        self.name = self.device if (device or config.path) else f"{self.device} (camera index {config.index})"
        self.chosen: V4l2Source | CaptureSource | None = None
        self.open_error = ""

    @property
    def fps(self) -> float:
        return self.chosen.fps if self.chosen is not None else self.config.fps

    @property
    def width(self) -> int:
        return self.chosen.width if self.chosen is not None else self.config.width

    @property
    def height(self) -> int:
        return self.chosen.height if self.chosen is not None else self.config.height

    @property
    def mode(self) -> str | None:
        """passthrough / reencode once known (as ``AvSource.mode``); raw video is always re-encoded."""
        if isinstance(self.chosen, CaptureSource):
            return "reencode"
        return self.chosen.mode if self.chosen is not None else None

    @property
    def why(self) -> str:
        return self.chosen.why if isinstance(self.chosen, V4l2Source) else "the camera sends uncompressed video"

    @property
    def info(self) -> StreamInfo | None:
        return self.chosen.info if isinstance(self.chosen, V4l2Source) else None

    def take_packets(self) -> list[Packet]:
        return self.chosen.take_packets() if isinstance(self.chosen, V4l2Source) else []

    def open(self) -> bool:
        self.open_error = ""
        if self.chosen is None:
            try:
                self.chosen = self._choose()
            except DeviceError as exc:
                self.open_error = str(exc)
                return False
        opened = self.chosen.open()
        if not opened:
            self.open_error = getattr(self.chosen, "open_error", "")
        return opened

    def _choose(self) -> V4l2Source | CaptureSource:
        """The source for the format ``[camera] input_format`` asks for, among those the device offers."""
        if self.demuxer != "v4l2":  # an elementary stream from a pipe: its format is the demuxer's
            return V4l2Source(self.config, self.device, self.demuxer, self.demuxer, self.name)
        device = query(self.device, self.name)
        if not device.capture:
            raise DeviceError(f"cannot open {self.name} — {device.card or 'it'} is not a video capture node (a UVC "
                              "camera's second node carries only metadata); set [camera] index or path to the "
                              "first node `v4l2-ctl --list-devices` lists for it")
        kind = choose_input(self.name, device.formats, self.config.input_format)
        log.info("camera %s: %s is %s (%s), offering %s; reading %s", self.config.id, self.name, device.card,
                 device.driver, ", ".join(device.formats) or "nothing", kind)
        if kind == "raw":
            say = log.warning if self.config.record == "passthrough" else log.info
            say("camera %s: recording by reencode (the camera sends uncompressed video)", self.config.id)
            return CaptureSource(self.config)
        return V4l2Source(self.config, self.device, kind, name=self.name)

    def read(self) -> Frame | None:
        return self.chosen.read() if self.chosen is not None else None

    def close(self) -> None:
        if self.chosen is not None:
            self.chosen.close()
