"""Keyframes only while detection does not need every frame: a low-power watch (and record).

Opt-in ``[camera] idle_keyframes_only`` (while nothing happens) and ``event_keyframes_only``
(while an event records by passthrough, after its onset snapshot); ``DetectStage.wants_every_frame``
says which applies when. Decoding every frame is most of what watching a camera costs, and H.264
has no cheaper way to decode a frame in the middle of a GOP than to decode every frame before it.
A keyframe decodes on its own, so while detection says it need not look at every frame (idle: no
motion at its last look, no event, not dark; during an event: its onset snapshot taken, not dark,
no face being confirmed), only keyframes are decoded: one look a GOP, for about 40 % of the
decoding CPU of every frame at a 1 s GOP (docs/benchmarks.md, section 12d).

When detection wants every frame again, the packets of the GOP skipped so far are decoded at
once (their frames are not handed on: the decoder only needs them as references), and every
frame after is decoded and looked at; back to keyframes only at the next keyframe.
Keyframes that stop coming for more than ``max_gop_s`` end it until the camera is reopened
(``AvSource._watch_keyframes``): else nothing would be decoded until the next keyframe. The price
while idle is the onset: motion is seen at the next keyframe, up to one GOP later than with
every frame; during an event, snapshots and face searches on keyframes only (section 12d).
Recording is not touched: the passthrough recorder keeps every packet as it came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class IdleKeyframes:
    """Decides per packet whether the decoder gets it; ``wanted()`` says whether detection wants every frame."""

    def __init__(self, camera_id: str, wanted: Callable[[], bool]) -> None:
        self.camera_id, self.wanted = camera_id, wanted
        self.sparse = False  # this GOP: only its keyframe was decoded
        self.skipped: list[Any] = []  # this GOP's packets not decoded yet
        self.skipped_total = 0
        self.damaged: Callable[[], None] = lambda: None  # a packet caught up that did not decode cleanly

    def skip(self, packet: Any, keyframe: bool, context: Any) -> bool:
        """True if ``packet`` is not decoded now; catches the decoder up when every frame is wanted again."""
        if keyframe:
            self.skipped.clear()
            self.sparse = not self.wanted()
            return False
        if not self.sparse:
            return False
        if not self.wanted():
            self.skipped.append(packet)
            self.skipped_total += 1
            return True
        self.catch_up(context)  # motion: this GOP's references first, then every frame from this packet on
        return False

    def catch_up(self, context: Any) -> None:
        """Decode the packets skipped so far (their frames are past, not handed on): the references of those to come."""
        self.sparse = False
        for early in self.skipped:
            try:
                caught_up = context.decode(early)  # frames not handed on: they are past
            except Exception as exc:  # a damaged packet: the next keyframe recovers
                log.debug("camera %s: catching up a skipped packet failed: %s", self.camera_id, exc)
                self.damaged()
                continue
            for frame in caught_up:
                if frame.is_corrupt:  # a reference of the frames to come is broken
                    self.damaged()
        self.skipped.clear()
