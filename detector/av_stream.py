"""What a demuxed video stream is to the recorder: its packets, its parameters, and passthrough or not.

``AvSource`` (``av_source.py``) demuxes; this module says what comes out of it
(``Packet``: the camera's bytes with their times; ``StreamInfo``: what an MP4
segment's header needs) and decides, once at the first open, how the stream can
be recorded (``decide_mode``): passed through (a codec an MP4 carries, a
keyframe within ``max_gop_s``, measured by ``probe_gop``; no open GOPs) or re-encoded,
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
    info: StreamInfo | None = None  # the stream's parameters at this packet (they may change at a keyframe)


@dataclass(frozen=True)
class StreamInfo:
    """What the recorder needs to write a stream's packets into MP4 segments."""

    codec: str
    width: int
    height: int
    fps: float
    time_base: Fraction
    template: Any  # a stream holding a copy of the codec parameters, for each segment's MP4 header
    extradata: bytes | None = None  # parameter sets sent in band since, in place of the template's


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


LEADING_MAX = 16  # packets looked at past a keyframe for frames shown before it (B-frames' reordering)
HEVC_RADL = (6, 7)  # leading pictures that need only their keyframe (RASL ones, 8 and 9, need the GOP before)
OPEN_GOP_WHY = ("its keyframes start open GOPs (frames after a keyframe are shown before it and need the GOP "
                "before: segments cut there would lose them; set the camera to closed GOPs, or IDR keyframes)")


@dataclass(frozen=True)
class GopProbe:
    """What the first packets say of a stream's keyframes, for ``decide_mode``."""

    ns: int | None  # time between the first two keyframes; None: no second one within max_gop_s
    open: bool = False  # an open GOP's leading pictures were seen (``LeadingWatch``)


class LeadingWatch:
    """Frames decoded right after a keyframe but shown before it: an open GOP's leading pictures.

    They are predicted from the GOP before as well, so a segment cut at that
    keyframe could not decode them (it would play fewer frames than its header
    says). An H.265 IDR's leading pictures (RADL) need only the keyframe: those
    are fine. Fed every packet in decode order.
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.key_pts: int | None = None  # the keyframe whose leading pictures are being looked for
        self.leading = 0
        self.settled = 0  # keyframes whose leading pictures have all been seen
        self.open = False

    def see(self, data: bytes, pts: int | None, keyframe: bool) -> None:
        if keyframe:
            self.settled += self.key_pts is not None  # a keyframe right after a keyframe: none
            self.settled += pts is None  # no times (a raw stream): nothing to judge it by
            self.key_pts, self.leading = pts, 0
            return
        if self.key_pts is None:
            return
        self.leading += 1
        if pts is None or pts > self.key_pts or self.leading > LEADING_MAX:
            self.key_pts, self.settled = None, self.settled + 1
        elif self.codec != "hevc" or not set(hevc_picture_types(data)) <= set(HEVC_RADL):
            self.open = True


def probe_gop(packets: Iterable[Any], fps: float, max_gop_s: float, codec: str = "h264",
              reorders: bool = False) -> GopProbe:
    """The time between the first two keyframes (counted in frames: a stream's first packet may have
    no timestamp), demuxing up to ``max_gop_s`` past the first; ``packets`` keeps them for the source.
    Demuxes on past the second keyframe to its first frame shown after it: an open GOP is not passed
    through (``LeadingWatch``). Only a stream that ``reorders`` (B-frames: the decoder's ``has_b_frames``)
    can have leading frames; in another, a time going back a little is a clock's jitter, not an open GOP."""
    first: int | None = None
    limit = round(max_gop_s * fps)
    count = 0
    gop: int | None = None
    watch = LeadingWatch(codec)
    for packet in packets:
        if packet.size == 0:
            continue
        count += 1
        if reorders:
            watch.see(bytes(packet), packet.pts, bool(packet.is_keyframe))
        if gop is not None:
            if watch.open or watch.settled >= 2 or not reorders:
                break
            continue
        if packet.is_keyframe:
            if first is not None:
                gop = int((count - first) * 1e9 / fps)
                continue
            first = count
        if count - (first if first is not None else 0) > limit:
            return GopProbe(None, watch.open)
    if gop is None:
        return GopProbe(0 if first is not None and count > 1 else None, watch.open)  # a short file: one GOP
    return GopProbe(gop, watch.open)


def hevc_picture_types(data: bytes) -> list[int]:
    """The NAL unit types of an H.265 packet's pictures (types under 32), Annex B or length-prefixed."""
    types: list[int] = []
    if data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        at = data.find(b"\x00\x00\x01")
        while at >= 0 and at + 3 < len(data):
            types.append((data[at + 3] >> 1) & 0x3F)
            at = data.find(b"\x00\x00\x01", at + 3)
    else:  # MP4/Matroska: each NAL unit after its 4-byte length
        at = 0
        while at + 4 < len(data):
            types.append((data[at + 4] >> 1) & 0x3F)
            at += 4 + int.from_bytes(data[at:at + 4], "big")
    return [kind for kind in types if kind < 32]


def decide_mode(config: CameraConfig, codec: str, probe: Callable[[], GopProbe], said: bool = True) -> tuple[str, str]:
    """Passthrough or re-encode for this camera, and why (one log line unless not ``said``: beside a
    ``detect_path`` the recorded stream's loop says it, naming both streams); ``probe`` is run only if it matters."""
    wanted = config.record
    if wanted == "reencode":
        mode, why = "reencode", "[camera] record = \"reencode\""
    elif codec not in PASSTHROUGH_CODECS:
        mode, why = "reencode", f"its codec {codec} cannot be passed through into MP4"
    else:
        probed = probe()
        gop = probed.ns
        if probed.open:
            mode, why = "reencode", OPEN_GOP_WHY
        elif gop is None or gop > int(config.max_gop_s * 1e9):
            seen = "no second keyframe" if gop is None else f"keyframes {gop / 1e9:.1f} s apart"
            mode, why = "reencode", (f"{seen} within max_gop_s = {config.max_gop_s:g} s "
                                     "(raise it, or set the camera's keyframe interval lower)")
        else:
            mode, why = "passthrough", f"{codec}, keyframes every {gop / 1e9:.1f} s"
    if said and mode == "reencode" and wanted != "reencode":
        log.warning("camera %s: re-encoding instead of passing the camera's video through: %s", config.id, why)
    elif said:
        log.info("camera %s: recording by %s (%s)", config.id, mode, why)
    return mode, why
