"""What a demuxed video stream is to the recorder: its packets, its parameters, and passthrough or not.

``AvSource`` (``av_source.py``) demuxes; this module says what comes out of it
(``Packet``: the camera's bytes with their times; ``StreamInfo``: what an MP4
segment's header needs) and decides, once at the first open, how the stream can
be recorded (``decide_mode``): passed through (a codec an MP4 carries, a
keyframe within ``max_gop_s``, measured by ``probe_gop_ns``) or re-encoded,
with one log line saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from quickcam.common.config import CameraConfig

log = logging.getLogger(__name__)

PASSTHROUGH_CODECS = ("h264", "hevc")  # what an MP4 segment carries and browsers/players play


@dataclass(frozen=True)
class Packet:
    """One encoded video packet, as the camera sent it."""

    data: bytes
    pts: int | None  # in the stream's time base
    dts: int | None
    duration: int
    keyframe: bool
    time_ns: int  # decode time, wall clock, strictly increasing
    pts_ns: int  # presentation time, wall clock
    index: int


@dataclass(frozen=True)
class StreamInfo:
    """What the recorder needs to write a stream's packets into MP4 segments."""

    codec: str
    width: int
    height: int
    fps: float
    time_base: Fraction
    template: Any  # a stream holding a copy of the codec parameters, for each segment's MP4 header


def parameters_of(stream: Any) -> tuple[Any, Any]:
    """A stream with a copy of ``stream``'s codec parameters that outlives its container, and its holder.

    Segments are still being written after the source closed (a file at its
    end, a lost stream): copying from the input stream then would read freed
    memory. The copy lives in an output container that is never written.
    """
    import io

    import av

    holder = av.open(io.BytesIO(), mode="w", format="mp4")
    return holder.add_stream_from_template(stream), holder


def probe_gop_ns(packets: Iterable[Any], fps: float, max_gop_s: float) -> int | None:
    """The time between the first two keyframes (counted in frames: a stream's first packet may have
    no timestamp), demuxing up to ``max_gop_s`` past the first; ``packets`` keeps them for the source."""
    first: int | None = None
    limit = round(max_gop_s * fps)
    count = 0
    for packet in packets:
        if packet.size == 0:
            continue
        count += 1
        if packet.is_keyframe:
            if first is not None:
                return int((count - first) * 1e9 / fps)
            first = count
        if count - (first if first is not None else 0) > limit:
            return None
    return 0 if first is not None and count > 1 else None  # a short file: one GOP


def decide_mode(config: CameraConfig, codec: str, gop_ns: Callable[[], int | None]) -> tuple[str, str]:
    """Passthrough or re-encode for this camera, and why (one log line); ``gop_ns`` probes only if it matters."""
    wanted = config.record
    if wanted == "reencode":
        mode, why = "reencode", "[camera] record = \"reencode\""
    elif codec not in PASSTHROUGH_CODECS:
        mode, why = "reencode", f"its codec {codec} cannot be passed through into MP4"
    else:
        gop = gop_ns()
        if gop is None or gop > int(config.max_gop_s * 1e9):
            seen = "no second keyframe" if gop is None else f"keyframes {gop / 1e9:.1f} s apart"
            mode, why = "reencode", (f"{seen} within max_gop_s = {config.max_gop_s:g} s "
                                     "(raise it, or set the camera's keyframe interval lower)")
        else:
            mode, why = "passthrough", f"{codec}, keyframes every {gop / 1e9:.1f} s"
    if mode == "reencode" and wanted != "reencode":
        log.warning("camera %s: re-encoding instead of passing the camera's video through: %s", config.id, why)
    else:
        log.info("camera %s: recording by %s (%s)", config.id, mode, why)
    return mode, why
