"""A live stream's timestamps on the wall clock: anchored when its packets were sent, kept near it, never going back.

A camera stamps its packets with its own clock (RTP, MPEG-TS, a driver's counter);
recordings, snapshots and the pipeline's ruler need the wall clock. The stream's time
0 is anchored to the wall clock when its first packet arrives, and every packet that
arrives is checked against it.

A stream (RTSP, HTTP) opened by FFmpeg is not handed over as it arrives: its open
reads the first ~2 s (the frame-rate probe's 20 frames, more over RTSP) and hands
them over at once. Anchored when the first of them was handed over, every time
of the first seconds after each (re)open was ~2 s late. So the packets FFmpeg holds
are read ahead at the open (``OpenBurst`` says when they all have been), each with
when it was handed over, and the anchor is ``opened_anchor``'s: none of them can
have been sent after it was handed over (the last of the burst arrived just before
the open returned, and was handed over then), nor the first before the open began.
Each packet is checked against the wall clock as it arrives (those read ahead,
against when they were handed over: one behind it then is no news):

- a stream clock ahead of the wall clock (one that runs fast) by more than
  ``AHEAD_NS`` is slowed back towards it, half a frame a frame at most. A packet cannot
  have been captured after it arrived; and once stepped back by the 2 s it had got
  ahead, its next frames came before frames already given, and a segment began
  before the last one ended;
- one that jumps (more than ``DRIFT_NS`` off either way, or back at all: a camera
  whose clock was set, a stream that wrapped) is re-anchored at once;
- no time comes before one already given (``floor_ns``): after a re-anchoring,
  frames are stamped just after the latest given until the wall clock passes it.

A stream whose clock falls behind the wall clock (latency, a slow clock) is left alone
up to ``DRIFT_NS``. A functional core: fed stream times and the wall clock, tested
without a stream (``tests/detector/test_stream_clock.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from quickcam.common.said_every import SaidEvery
from quickcam.detector.clock import footage_ns

log = logging.getLogger(__name__)

DRIFT_NS = 2_000_000_000  # a stream clock this far off the wall clock (or going back) is re-anchored at once
AHEAD_NS = 500_000_000  # ... one ahead by more than this (a fast clock) is slowed back towards it
CAUGHT_UP_READS = 3  # reads in a row at the stream's own pace: what FFmpeg held at the open has been read


def opened_anchor(handed: Sequence[tuple[int, int]], opened_ns: int) -> int | None:
    """The wall clock of a stream's time 0, from the packets read ahead at its open; None without any.

    ``handed``: each packet's (stream time, wall time it was handed over), in decode order;
    ``opened_ns``: when the open began. A packet is handed over after it was sent, so each
    ``handed - stream`` is a latest anchor; the least of them (the packet handed over as
    it arrived, after the burst) is the anchor, but none earlier than the first packet
    sent when the open began (a stream time that jumped forward within the burst).
    """
    if not handed:
        return None
    return max(opened_ns - handed[0][0], min(at_ns - stream_ns for stream_ns, at_ns in handed))


class OpenBurst:
    """Reading ahead what FFmpeg held when a stream's open returned: when it has all been read.

    A packet it held comes at once: handed over minus stream time is less than for any
    packet before it, by about a frame; one that comes as it is sent, by nothing. After
    ``CAUGHT_UP_READS`` of those in a row the held ones have all been read (one read
    slowed by a busy machine is not enough: stopped there, the rest were ~2 s late
    again); so they have once the packets read span as much of the stream as the open
    took (it cannot have held more: a server that sends faster than real time).
    """

    def __init__(self, opened_ns: int, now_ns: int, frame_ns: int) -> None:
        self.opened_ns, self.opening_ns, self.frame_ns = opened_ns, now_ns - opened_ns, frame_ns
        self.first_ns: int | None = None  # the first timed packet's stream time
        self.least_ns: int | None = None  # the least (handed over - stream time) so far
        self.caught_up = 0  # reads in a row that came at the stream's pace

    def over(self, stream_ns: int | None, handed_ns: int) -> bool:
        """Note a packet read (``stream_ns`` None: one without a time); True when no more should be read."""
        if stream_ns is None:
            return False
        late_ns = handed_ns - stream_ns
        if self.least_ns is not None and late_ns > self.least_ns - self.frame_ns // 2:
            self.caught_up += 1
        elif self.least_ns is not None:
            self.caught_up = 0
        self.least_ns = late_ns if self.least_ns is None else min(self.least_ns, late_ns)
        self.first_ns = stream_ns if self.first_ns is None else self.first_ns
        return self.caught_up >= CAUGHT_UP_READS or stream_ns - self.first_ns >= self.opening_ns


class StreamClock:
    """Turns a live stream's times (ns from its time 0) into wall-clock ns."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.anchor_ns: int | None = None  # the wall clock of the stream's time 0
        self.floor_ns = 0  # the latest time given when last (re-)anchored: none comes before it
        self.arrived_ns: int | None = None  # the last packet's decode time (stream ns): one before it is a jump back
        # Garbage read as packets (a file overwritten under its reader) re-anchored at every packet: 14,729 lines
        # in 7 s pushed the log's earlier lines out of its rotation (bench/outside/FINDINGS.md #20)
        self.reanchorings = SaidEvery()  # logged at most once a minute, the ones between counted in the next

    def restart(self, anchor_ns: int | None = None, latest_ns: int = 0) -> None:
        """A reopened stream, whose times start again: anchored at ``anchor_ns``, else at its first packet;
        ``latest_ns``: the latest time given before (an anchor given comes with a floor: none before it)."""
        self.anchor_ns, self.arrived_ns = anchor_ns, None
        if anchor_ns is not None:
            self.floor_ns = max(self.floor_ns, latest_ns)

    def wall_ns(self, stream_ns: int, latest_ns: int, frame_ns: int, arrived: bool = False,
                now_ns: int | None = None, held: bool = False) -> int:
        """``stream_ns`` on the wall clock; ``latest_ns``: the latest wall time given so far.

        ``arrived``: ``stream_ns`` is the decode time of a packet that arrived just now
        (``now_ns``, else the detector's clock), so the stream's clock is checked against the
        wall clock; other times (a presentation time, a decoded frame's) are only converted.
        ``held``: the packet was read ahead at the open, handed over (``now_ns``) after it
        arrived: behind the wall clock it says nothing, ahead of it or going back it does.
        """
        if arrived or self.anchor_ns is None:
            now = footage_ns() if now_ns is None else now_ns  # never steps back (detector/clock.py)
            ahead_ns = None if self.anchor_ns is None else self.anchor_ns + stream_ns - now
            went_back = arrived and self.arrived_ns is not None and stream_ns < self.arrived_ns
            if ahead_ns is None or ahead_ns > DRIFT_NS or (ahead_ns < -DRIFT_NS and not held) or went_back:
                if ahead_ns is not None:
                    self._say(now, "went back" if went_back else f"is {abs(ahead_ns) / 1e9:.1f} s "
                              f"{'ahead of' if ahead_ns > 0 else 'behind'} the wall clock")
                self.anchor_ns, self.floor_ns = now - stream_ns, latest_ns
            elif ahead_ns > AHEAD_NS:
                self.anchor_ns -= min(ahead_ns - AHEAD_NS, frame_ns // 2)
            if arrived:
                self.arrived_ns = stream_ns
        return max(self.anchor_ns + stream_ns, self.floor_ns + 1)

    def _say(self, now_ns: int, how: str) -> None:
        """One line per re-anchoring, at most one a minute: the ones between are counted in the next."""
        more = self.reanchorings.said(now_ns / 1e9)
        if more is not None:
            log.info("camera %s: the stream's clock %s; re-anchored%s", self.camera_id, how, more)
