"""Snapshots at full quality when detection decodes cheaply (``[camera] fast_decode``).

With ``fast_decode`` the H.264/H.265 decoder that feeds detection skips the
deblocking filter (``skip_loop_filter = all``): 10-20 % less decoding CPU, and
a picture that drifts from the camera's a little more with every frame until
the next keyframe (docs/benchmarks.md, section 12d, has the figures). Detection
looks at a 160-pixel-wide gray copy, where that drift is far under a gray
level (still enough to move onsets in one condition of the corpus: hence
opt-in); a snapshot is what a person looks at, so its one frame is decoded again
here, properly: the packets from the keyframe before it, in a second decoder
with the default settings, in the thread that asks (detection, once per
snapshot, at most a GOP of frames).

``RecentPackets`` keeps the camera's last packets for that (``KEEP_NS`` back,
from a keyframe): the capture thread adds, the detection thread reads a copy.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from quickcam.detector.av_stream import Packet

log = logging.getLogger(__name__)

KEEP_NS = 4_000_000_000  # detection lags capture by at most 0.5 s (DETECT_QUEUE_S); a GOP is kept beyond this
DECODER_THREADS = 2


class RecentPackets:
    """The camera's packets of the last ``keep_ns`` (whole GOPs), and the full decode of one of its frames."""

    def __init__(self, codec: str, extradata: bytes | None, camera_id: str, keep_ns: int = KEEP_NS) -> None:
        self.codec, self.extradata, self.camera_id, self.keep_ns = codec, extradata, camera_id, keep_ns
        self.gops: deque[list[Packet]] = deque()  # each from a keyframe, in decode order
        self.lock = threading.Lock()

    def add(self, packet: Packet) -> None:
        """Keep a packet (capture thread); whole GOPs older than ``keep_ns`` are forgotten."""
        with self.lock:
            if packet.keyframe or not self.gops:
                self.gops.append([packet])
            else:
                self.gops[-1].append(packet)
            floor = packet.time_ns - self.keep_ns
            while len(self.gops) > 1 and self.gops[1][0].time_ns <= floor:
                self.gops.popleft()

    def clear(self) -> None:
        """A new timeline (the source reopened, a looped file's next pass): the old packets decode no more."""
        with self.lock:
            self.gops.clear()

    def picture(self, time_ns: int) -> np.ndarray | None:
        """The frame shown at ``time_ns``, decoded in full from its GOP (BGR); None if its packets are gone."""
        with self.lock:
            gop = next((list(g) for g in reversed(self.gops) if g[0].keyframe and g[0].pts_ns <= time_ns), None)
        if gop is None:
            return None
        try:
            return self._decode(gop, time_ns)
        except Exception as exc:  # a damaged packet: the caller keeps the cheaply decoded frame
            log.warning("camera %s: decoding a snapshot's frame again in full failed (%s)", self.camera_id, exc)
            return None

    def _decode(self, gop: list[Packet], time_ns: int) -> np.ndarray | None:
        import av

        context: Any = av.CodecContext.create(self.codec, "r")
        if self.extradata:
            context.extradata = self.extradata
        context.thread_type, context.thread_count = "SLICE", DECODER_THREADS
        shown = {packet.pts: packet.pts_ns for packet in gop}
        best: tuple[int, Any] | None = None
        for packet in [*gop, None]:
            if packet is None:
                decoded = context.decode(None)
            else:
                raw = av.Packet(packet.data)
                raw.pts, raw.dts = packet.pts, packet.dts
                decoded = context.decode(raw)
            for frame in decoded:
                shown_ns = shown.get(frame.pts)
                if shown_ns is None:
                    continue
                if best is None or abs(shown_ns - time_ns) < abs(best[0] - time_ns):
                    best = (shown_ns, frame)
                if shown_ns >= time_ns:
                    return best[1].to_ndarray(format="bgr24")
        return best[1].to_ndarray(format="bgr24") if best is not None else None
