"""Packets the decoder found damaged: counted per camera, each streak said once and in the camera's fault.

A damaged packet (bytes lost or flipped between the camera and here: a bitrate the
network cannot carry, a bad link) either fails to decode or decodes to a picture the
decoder flags as corrupt (FFmpeg's ``AV_FRAME_FLAG_CORRUPT``: H.264 macroblocks it could
not read). Recording by passthrough keeps the packet as it came, so no footage is lost.
Each such packet is counted (``damaged_packets`` in the camera's status, on ``quickcam
status``'s camera line), the first of a streak is one warning naming the camera and what
to check, and its end (a clean keyframe 10 s after the last damaged packet, ``[camera]
damaged_clear_s``) one info line with the count. While a streak is open the camera is
``degraded`` and its fault says since when and how much (``fault``): detection is partly
blind, and says so.

Detection does not analyse a damaged picture (``not_analysed``): the one flagged corrupt,
and every picture decoded after a damaged packet up to the next clean keyframe (they are
predicted from the broken one: FFmpeg flags only the pictures it concealed, the ones after
carry the same broken blocks on). Compared with the background, a broken block is motion
that is not there (on the damaged test footage an event 3 s longer, and a snapshot of a
broken picture) or hides motion that is; learnt into it, it stays in the background. Such
a picture is recorded but neither compared nor learnt, and the event clock holds over it
(a running event goes on, a trigger streak is not broken); the first clean look after it
counts the frames it did not see, and an event starting then reaches back to the last
clean look without motion (``DetectStage``). With no keyframe at all (intra refresh) the
pictures are analysed again ``damaged_clear_s`` after the last damaged packet. Those pictures
are counted apart (``pictures`` since start, in the fault and the streak's end line):
``damaged_packets`` counts what the network broke, not what the decoder carried on.

Before the first keyframe after an open nothing is counted: a stream joined between two
keyframes decodes to incomplete pictures by design, not because anything is damaged (a
picture flagged corrupt there is still not analysed).
The native detector mirrors this in ``detector/native/src/damaged_packets.{hpp,cpp}``.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def _clock(time_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(time_ns / 1e9))


class DamagedPackets:
    """The count since start and the open streak of one camera's damaged packets (its source's thread only).

    A streak lasts while damaged packets come less than ``clear_s`` apart (``[camera]
    damaged_clear_s``, 10 s by default): a stream damaged in every GOP is one warning, not one a
    second (a streak that ended at the next clean keyframe did that). Times are the footage's (a
    file analysed fast runs on its own timeline). The status thread reads ``count`` and
    ``fault()`` (plain values, written here only).
    """

    def __init__(self, camera_id: str, clear_s: int = 10) -> None:
        self.camera_id = camera_id
        self.clear_s = clear_s  # a streak ends at a clean keyframe this long (footage time) after its last packet
        self.clear_ns = clear_s * 1_000_000_000
        self.count = 0  # since start: the camera's status reads it
        self.streak = 0  # in the open streak (0: none open)
        self.first_ns = self.last_ns = 0  # the open streak's first and last damaged packet
        self.keyed = False  # a keyframe decoded since the last open
        self.broken = False  # a damaged packet since the last clean keyframe: the pictures now inherit it
        self.pictures = self.streak_pictures = 0  # pictures not analysed, since start and in the open streak

    def opened(self) -> None:
        """A new decoder: what comes before its first keyframe is incomplete by design, not damaged."""
        self.keyed = self.broken = False

    def damaged(self, time_ns: int, what: str = "packet") -> None:
        """A packet that did not decode, or decoded to a picture flagged corrupt (``what`` says which)."""
        if not self.keyed:
            return
        self.count += 1
        self.streak += 1
        self.last_ns = time_ns
        self.broken = True
        if self.streak == 1:
            self.first_ns = time_ns
            self.streak_pictures = 0
            log.warning("camera %s: a %s did not decode cleanly at %s (a damaged stream: detection is blind until "
                        "the next keyframe, recording keeps the packets; check the camera's bitrate and the "
                        "network to it)", self.camera_id, what, _clock(time_ns))

    def decoded(self, keyframe: bool, time_ns: int) -> None:
        """A picture decoded cleanly; a keyframe ``clear_s`` after the last damaged packet ends the streak."""
        if not keyframe:
            return
        self.keyed = True
        self.broken = False  # the pictures from here on are predicted from a whole one
        if self.streak and time_ns - self.last_ns >= self.clear_ns:
            log.info("camera %s: no damaged packet for %d s; %d packet(s) did not decode cleanly from %s to %s, "
                     "%d picture(s) not analysed (%d packet(s), %d picture(s) since start)", self.camera_id,
                     self.clear_s, self.streak, _clock(self.first_ns), _clock(self.last_ns),
                     self.streak_pictures, self.count, self.pictures)
            self.streak = 0

    def not_analysed(self, corrupt: bool, time_ns: int) -> bool:
        """Whether detection must not analyse the picture just decoded (flagged ``corrupt``, or predicted from a
        damaged packet since the last clean keyframe, up to ``clear_s`` after it); counted when so."""
        if not (corrupt or (self.broken and time_ns - self.last_ns < self.clear_ns)):
            return False
        self.pictures += 1
        self.streak_pictures += 1 if self.streak else 0
        return True

    def fault(self) -> str:
        """The open streak in the camera's fault ('' when none is open): detection is partly blind, said so."""
        if not self.streak:
            return ""
        return (f"damaged stream since {_clock(self.first_ns)}: {self.streak} packet(s) did not decode cleanly, "
                f"{self.streak_pictures} picture(s) not analysed (recorded as they came)")
