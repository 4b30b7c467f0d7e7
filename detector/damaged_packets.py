"""Packets the decoder found damaged: counted per camera, each streak said once.

A damaged packet (bytes lost or flipped between the camera and here: a bitrate the
network cannot carry, a bad link) either fails to decode or decodes to a picture the
decoder flags as corrupt (FFmpeg's ``AV_FRAME_FLAG_CORRUPT``: H.264 macroblocks it could
not read). Recording by passthrough keeps the packet as it came, so no footage is lost,
but detection sees nothing or a broken picture from there to the next keyframe, and
said nothing: the decoder's complaint was at debug level only. Now each such packet is
counted (``damaged_packets`` in the camera's status, on ``quickcam status``'s camera
line), the first of a streak is one warning naming the camera and what to check, and
its end (a clean keyframe 10 s after the last damaged packet) one info line with the count.

Before the first keyframe after an open nothing is counted: a stream joined between two
keyframes decodes to incomplete pictures by design, not because anything is damaged.
The native detector mirrors this in ``detector/native/src/damaged_packets.{hpp,cpp}``.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


CLEAN_NS = 10_000_000_000  # a streak ends at a clean keyframe this long (footage time) after its last damaged packet


def _clock(time_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(time_ns / 1e9))


class DamagedPackets:
    """The count since start and the open streak of one camera's damaged packets (its source's thread only).

    A streak lasts while damaged packets come less than ``CLEAN_NS`` apart: a stream damaged in
    every GOP is one warning, not one a second (a streak that ended at the next clean keyframe
    did that). Times are the footage's (a file analysed fast runs on its own timeline).
    """

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.count = 0  # since start: the camera's status reads it
        self.streak = 0  # in the open streak (0: none open)
        self.first_ns = self.last_ns = 0  # the open streak's first and last damaged packet
        self.keyed = False  # a keyframe decoded since the last open

    def opened(self) -> None:
        """A new decoder: what comes before its first keyframe is incomplete by design, not damaged."""
        self.keyed = False

    def damaged(self, time_ns: int, what: str = "packet") -> None:
        """A packet that did not decode, or decoded to a picture flagged corrupt (``what`` says which)."""
        if not self.keyed:
            return
        self.count += 1
        self.streak += 1
        self.last_ns = time_ns
        if self.streak == 1:
            self.first_ns = time_ns
            log.warning("camera %s: a %s did not decode cleanly at %s (a damaged stream: detection is blind until "
                        "the next keyframe, recording keeps the packets; check the camera's bitrate and the "
                        "network to it)", self.camera_id, what, _clock(time_ns))

    def decoded(self, keyframe: bool, time_ns: int) -> None:
        """A picture decoded cleanly; a keyframe ``CLEAN_NS`` after the last damaged packet ends the streak."""
        if not keyframe:
            return
        self.keyed = True
        if self.streak and time_ns - self.last_ns >= CLEAN_NS:
            log.info("camera %s: no damaged packet for %d s; %d packet(s) did not decode cleanly from %s to %s "
                     "(%d since start)", self.camera_id, CLEAN_NS // 1_000_000_000, self.streak,
                     _clock(self.first_ns), _clock(self.last_ns), self.count)
            self.streak = 0
