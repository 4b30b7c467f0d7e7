"""Packets the decoder found damaged: counted per camera, each streak said once.

A damaged packet (bytes lost or flipped between the camera and here: a bitrate the
network cannot carry, a bad link) either fails to decode or decodes to a picture the
decoder flags as corrupt (FFmpeg's ``AV_FRAME_FLAG_CORRUPT``: H.264 macroblocks it could
not read). Recording by passthrough keeps the packet as it came, so no footage is lost,
but detection sees nothing or a broken picture from there to the next keyframe, and
said nothing: the decoder's complaint was at debug level only. Now each such packet is
counted (``damaged_packets`` in the camera's status, on ``quickcam status``'s camera
line), the first of a streak is one warning naming the camera and what to check, and
the next clean keyframe (decoding works again from there) one info line with the count.

Before the first keyframe after an open nothing is counted: a stream joined between two
keyframes decodes to incomplete pictures by design, not because anything is damaged.
The native detector mirrors this in ``detector/native/src/damaged_packets.{hpp,cpp}``.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class DamagedPackets:
    """The count since start and the open streak of one camera's damaged packets (its source's thread only)."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.count = 0  # since start: the camera's status reads it
        self.streak = 0  # in the open streak (0: none open)
        self.since = ""  # when the open streak began, for the log (local time)
        self.keyed = False  # a keyframe decoded since the last open

    def opened(self) -> None:
        """A new decoder: what comes before its first keyframe is incomplete by design, not damaged."""
        self.keyed = False

    def damaged(self, what: str = "packet") -> None:
        """A packet that did not decode, or decoded to a picture flagged corrupt (``what`` says which)."""
        if not self.keyed:
            return
        self.count += 1
        self.streak += 1
        if self.streak == 1:
            self.since = time.strftime("%H:%M:%S")
            log.warning("camera %s: a %s did not decode cleanly at %s (a damaged stream: detection is blind until "
                        "the next keyframe, recording keeps the packets; check the camera's bitrate and the "
                        "network to it)", self.camera_id, what, self.since)

    def decoded(self, keyframe: bool) -> None:
        """A picture decoded cleanly; a keyframe ends the streak (the pictures after it are whole again)."""
        if not keyframe:
            return
        self.keyed = True
        if self.streak:
            log.info("camera %s: decoding works again from a keyframe; %d packet(s) did not decode since %s "
                     "(%d since start)", self.camera_id, self.streak, self.since, self.count)
            self.streak = 0
