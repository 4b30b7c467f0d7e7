"""The sample-entry tag an MP4 video stream is written with.

FFmpeg's MP4 muxer tags H.265 ``hev1`` by default. Apple's players (Safari, iOS: where an owner
often opens footage) refuse ``hev1`` and play ``hvc1``; every other player takes either. So an
H.265 stream copied into an MP4 here (a passthrough segment, the viewer's joined video) is
tagged ``hvc1``. H.264 keeps FFmpeg's ``avc1``.
"""

from __future__ import annotations

from typing import Any

APPLE_TAGS = {"hevc": "hvc1"}


def tag_for_apple(stream: Any, codec: str) -> None:
    """Give an output ``stream`` (PyAV) carrying ``codec`` the tag Apple's players need, if it has one."""
    tag = APPLE_TAGS.get(codec)
    if tag:
        stream.codec_tag = tag
