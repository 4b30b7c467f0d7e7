"""A stream's parameters sent again in band, changed: a camera switching resolution or profile mid-stream.

An MPEG-TS or RTSP camera repeats its parameter sets (H.264's SPS and PPS, H.265's VPS too) before each
keyframe. When they change (a user sets another resolution in the camera's page; an encoder restarted),
the pictures after that keyframe have another size, and a segment whose MP4 header (``avcC``, width and
height) still said the first open's played in FFmpeg but not in the viewer. ``ParameterWatch`` tells
the source when they change, so the passthrough recorder starts a new segment there with the new ones.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from quickcam.detector.av_stream import StreamInfo

log = logging.getLogger(__name__)

START = b"\x00\x00\x01"


def parameter_sets(codec: str, data: bytes) -> bytes:
    """The parameter sets an Annex B packet carries before its first picture, as Annex B; b"" for none.

    A length-prefixed packet (an MP4 or Matroska file's) gives b"": its parameters are in the file's header.
    """
    found: list[bytes] = []
    at = data.find(START, 0, 5)
    while 0 <= at < len(data) - 3:
        kind = data[at + 3] & 0x1F if codec == "h264" else (data[at + 3] >> 1) & 0x3F
        if (codec == "h264" and 1 <= kind <= 5) or (codec == "hevc" and kind < 32):
            break  # the picture (not scanned: a keyframe's bulk): the parameter sets come before it
        following = data.find(START, at + 3)
        if (codec == "h264" and kind in (7, 8)) or (codec == "hevc" and kind in (32, 33, 34)):
            unit = data[at + 3:following if following >= 0 else len(data)].rstrip(b"\x00")  # a 4-byte start's 0
            found.append(b"\x00" + START + unit)
        at = following
    return b"".join(found)


def picture_size(codec: str, data: bytes) -> tuple[int, int] | None:
    """The size of the picture a keyframe with its parameter sets decodes to (a decoder of its own: once per
    change), None when it does not decode."""
    import av

    context = av.CodecContext.create(codec, "r")
    try:
        frames = list(context.decode(av.Packet(data))) + list(context.decode(None))
    except av.FFmpegError:
        return None
    return (frames[0].width, frames[0].height) if frames else None


class ParameterWatch:
    """The parameter sets last seen in band; a keyframe with other ones gives the stream's new ``StreamInfo``."""

    def __init__(self, camera_id: str, info: StreamInfo, extradata: bytes | None) -> None:
        self.camera_id = camera_id
        self.last = parameter_sets(info.codec, extradata or b"")  # the open's, when they are Annex B

    def see(self, info: StreamInfo, data: bytes) -> StreamInfo:
        """``info``, or the stream's parameters from this keyframe on when its parameter sets changed."""
        found = parameter_sets(info.codec, data)
        if not found or found == self.last:
            return info
        changed, self.last = bool(self.last), found
        if not changed:  # the first in band, the open's unknown (a file's header, length-prefixed): the same
            return info
        width, height = picture_size(info.codec, data) or (info.width, info.height)
        log.info("camera %s: the stream's parameters changed at a keyframe (%dx%d to %dx%d): a new segment "
                 "from here", self.camera_id, info.width, info.height, width, height)
        return replace(info, width=width, height=height, extradata=found)
