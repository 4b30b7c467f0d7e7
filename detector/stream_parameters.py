"""A stream's parameters sent again, changed: a camera switching resolution or profile mid-stream.

An MPEG-TS or RTSP camera repeats its parameter sets (H.264's SPS and PPS, H.265's VPS too) before each
keyframe. When they change (a user sets another resolution in the camera's page; an encoder restarted),
the pictures after that keyframe have another size, and a segment whose MP4 header (``avcC``, width and
height) still said the first open's played in FFmpeg but not in the viewer. ``ParameterWatch`` tells
the source when they change, so the passthrough recorder starts a new segment there with the new ones.

A file (MP4, Matroska, FLV) packs its NAL units length-prefixed, its parameter sets in its header
(``avcC``/``hvcC``); new ones come in band the same way, length-prefixed, or as the packet's
``new_extradata`` side data (an MP4's next sample description, an FLV's next sequence header). Both
are followed too: every set is kept as Annex B, and a segment with new sets has its length-prefixed
packets written as Annex B, so the MP4 muxer builds its ``avcC``/``hvcC`` as for a camera's stream.

Only a change a player must know of ends a segment: sets that differ in their bytes but decode the
keyframe to the same size, pixel format and profile (a camera whose SDP's SPS has another VUI or level
than the one it sends in band) are not a change.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from quickcam.detector.av_stream import StreamInfo

log = logging.getLogger(__name__)

START = b"\x00\x00\x01"
START4 = b"\x00" + START


def nal_length_size(codec: str, extradata: bytes | None) -> int:
    """How many bytes prefix each NAL unit of the packets an ``avcC``/``hvcC`` header goes with; 0 for Annex B."""
    data = bytes(extradata or b"")
    at = 4 if codec == "h264" else 21
    return (data[at] & 3) + 1 if data[:1] == b"\x01" and len(data) > at else 0


def nal_units(data: bytes, length_size: int = 0, stop_at_picture: str = "") -> list[bytes]:
    """A packet's NAL units without their start codes or lengths: Annex B when ``length_size`` is 0, else each
    prefixed by its length in that many bytes. With ``stop_at_picture`` (a codec), up to its first picture."""
    units: list[bytes] = []
    if length_size:
        at = 0
        while at + length_size < len(data):
            end = at + length_size + int.from_bytes(data[at:at + length_size], "big")
            units.append(data[at + length_size:end])
            at = end
            if stop_at_picture and _picture(stop_at_picture, units[-1]):
                break
        return units
    at = data.find(START, 0, 5)  # else not Annex B
    while 0 <= at < len(data) - 3:
        if stop_at_picture and _picture(stop_at_picture, data[at + 3:at + 4]):
            following = -1  # the picture (not scanned: a keyframe's bulk)
        else:
            following = data.find(START, at + 3)
        units.append(data[at + 3:following if following >= 0 else len(data)].rstrip(b"\x00"))  # a 4-byte start's 0
        at = following
    return units


def _kind(codec: str, unit: bytes) -> int:
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


def _picture(codec: str, unit: bytes) -> bool:
    return bool(unit) and (1 <= _kind(codec, unit) <= 5 if codec == "h264" else _kind(codec, unit) < 32)


def _parameter_set(codec: str, unit: bytes) -> bool:
    return bool(unit) and _kind(codec, unit) in ((7, 8) if codec == "h264" else (32, 33, 34))


def annex_b(units: list[bytes]) -> bytes:
    return b"".join(START4 + unit for unit in units)


def parameter_sets(codec: str, data: bytes, length_size: int = 0) -> bytes:
    """The parameter sets a packet carries before its first picture, as Annex B; b"" for none."""
    return annex_b([u for u in nal_units(data, length_size, stop_at_picture=codec) if _parameter_set(codec, u)])


def extradata_sets(codec: str, extradata: bytes | None) -> bytes:
    """The parameter sets of a stream's header (``avcC``/``hvcC``, or Annex B), as Annex B."""
    data = bytes(extradata or b"")
    if data[:1] != b"\x01":
        return parameter_sets(codec, data)
    units: list[bytes] = []
    try:
        if codec == "h264":
            at, count = 6, data[5] & 0x1F
            for block in range(2):
                for _ in range(count):
                    length = int.from_bytes(data[at:at + 2], "big")
                    units.append(data[at + 2:at + 2 + length])
                    at += 2 + length
                if block == 0:
                    count, at = data[at], at + 1
        else:
            at = 23
            for _ in range(data[22]):
                count, at = int.from_bytes(data[at + 1:at + 3], "big"), at + 3
                for _ in range(count):
                    length = int.from_bytes(data[at:at + 2], "big")
                    units.append(data[at + 2:at + 2 + length])
                    at += 2 + length
    except IndexError:
        return b""  # a header cut short: its sets unknown
    return annex_b([u for u in units if _parameter_set(codec, u)])


def new_extradata(packet: Any) -> bytes | None:
    """A demuxed PyAV packet's ``new_extradata`` side data (the stream's next header), None without."""
    from av.packet import PacketSideData

    if not packet.has_sidedata("new_extradata"):
        return None
    return bytes(PacketSideData.from_packet(packet, "new_extradata"))


def meaning(codec: str, sets: bytes, picture: bytes) -> tuple[int, int, str, str] | None:
    """What a player is set up with for ``sets``: the size, pixel format and profile ``picture`` (Annex B, without
    sets) decodes to with them (a decoder of its own: once per change); None when it does not decode."""
    import av

    context = av.CodecContext.create(codec, "r")
    try:
        frames = list(context.decode(av.Packet(sets + picture))) + list(context.decode(None))
    except av.FFmpegError:
        return None
    return (frames[0].width, frames[0].height, frames[0].format.name, str(context.profile)) if frames else None


class ParameterWatch:
    """The parameter sets last seen; a keyframe with other ones that mean another picture gives the stream's new
    ``StreamInfo``."""

    def __init__(self, camera_id: str, info: StreamInfo, extradata: bytes | None) -> None:
        self.camera_id = camera_id
        self.length_size = nal_length_size(info.codec, extradata)  # the packets' NAL lengths (a file's), 0: Annex B
        self.last = extradata_sets(info.codec, extradata)  # the open's

    def see(self, info: StreamInfo, data: bytes, new_extradata: bytes | None = None) -> StreamInfo:
        """``info``, or the stream's parameters from this keyframe on when its parameter sets (in band, or its
        ``new_extradata`` side data) changed what the picture is."""
        found = (extradata_sets(info.codec, new_extradata) if new_extradata else b"") or parameter_sets(
            info.codec, data, self.length_size)
        if not found or found == self.last:
            return info
        last, self.last = self.last, found
        if not last:  # the first seen, the open's unknown: the same
            return info
        picture = annex_b([u for u in nal_units(data, self.length_size) if not _parameter_set(info.codec, u)])
        now = meaning(info.codec, found, picture)
        if now is not None and now == meaning(info.codec, last, picture):
            return info  # other bytes (VUI, level), the same picture: the header's sets still describe it
        width, height = now[:2] if now else (info.width, info.height)
        log.info("camera %s: the stream's parameters changed at a keyframe (%dx%d to %dx%d): a new segment "
                 "from here", self.camera_id, info.width, info.height, width, height)
        return replace(info, width=width, height=height, extradata=found)
