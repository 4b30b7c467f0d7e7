"""The frames waiting to be recorded, between the capture stage and the record stage.

Idle, the buffer keeps ``keep_ns`` of the newest frames (the pre-roll). Each
event holds it from its first pre-roll frame (``hold(from_ns)``) until the
recorder has written it (``release(from_ns)``); several events may hold it at
once (a file analysed as fast as possible starts the next event while the
recorder is still writing the previous one), and the oldest hold wins, so no
event's frames are trimmed for another's.

A live source never waits: once the oldest frame waiting is ``max_ns``
(``recording.buffer_max_s``, at least the pre-roll kept) older than the newest,
the oldest frames are dropped, counted and logged. The bound is in seconds of
footage, not in frames of the configured ``fps`` (a 10 fps file under the
default 15 fps waited 30 s, not 20), and the recorder takes a few frames at a
time (``TAKE_MAX``): a recorder that took its whole backlog at once held it out
of the buffer, uncounted, and fell twice as far behind. Past half of it
(``behind_ns``) the recorder is behind: said once in the log, and in the
camera's status. A source that is not live (a file read as fast as possible)
waits for the recorder instead: back-pressure, nothing lost.

It holds decoded ``Frame``s for the re-encoding recorder, or the camera's
encoded ``Packet``s for the passthrough recorder. Packets are only useful from
a keyframe on, so the pre-roll (and a hold) is trimmed back to the last
keyframe at or before it: a stream with keyframes every G seconds keeps up to
``keep_ns`` + G of packets (which, compressed, is still far smaller than a
second of raw frames).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from quickcam.detector.av_source import Packet
from quickcam.detector.sources import Frame

Item = Frame | Packet

log = logging.getLogger(__name__)

WARN_EVERY_NS = 5_000_000_000
TAKE_MAX = 8  # items the recorder takes at once: the rest wait here, where the bound and the lag see them
FRAMES_PER_S_MAX = 120  # a memory backstop: at most this many items a second of max_ns (the config's fps limit)


def recorder_behind(item: Item) -> str:
    """Who the drop warning names: a camera's packets are remuxed, not encoded (the native detector's words too)."""
    return "the passthrough recorder" if isinstance(item, Packet) else "encoder"


class FrameBuffer:
    """Frames waiting to be recorded (thread-safe)."""

    def __init__(self, keep_ns: int, max_ns: int, live: bool, camera_id: str) -> None:
        self.keep_ns, self.live = keep_ns, live
        self.max_ns = max(max_ns, keep_ns)  # the pre-roll kept is not a backlog
        self.max_frames = max(8, self.max_ns * FRAMES_PER_S_MAX // 1_000_000_000)
        self.behind_say_ns = max(self.max_ns // 2, keep_ns + 1_000_000_000)  # every event starts keep_ns behind
        self.behind_since_ns = 0  # (footage time) when the recorder fell behind_say_ns behind; 0 while it is not
        self.camera_id = camera_id
        self.frames: deque[Item] = deque()
        self.keys: deque[int] = deque()  # time_ns of the items a recording can start from (keyframes, frames)
        self.cond = threading.Condition()
        self.holds: list[int] = []  # from_ns of every event not yet fully recorded
        self.closed = False
        self.dropped = 0
        self._warned_ns = 0

    def push(self, frame: Item, stop: threading.Event, waiting: Callable[[], None] = lambda: None) -> None:
        """Add a frame; a source that is not live waits here while the recorder is behind.

        ``waiting`` is called while it waits (the capture loop's heartbeat:
        waiting for the recorder is not a stall).
        """
        with self.cond:
            self.frames.append(frame)
            if getattr(frame, "keyframe", True):  # a decoded frame is a place to start from, too
                self.keys.append(frame.time_ns)
            self._trim(frame.time_ns - self.keep_ns if not self.holds else min(self.holds))
            while self._over() and not stop.is_set():
                if not self.live and self.holds:  # nothing is lost by waiting for the encoder
                    waiting()
                    self.cond.wait(0.1)
                    continue
                self._popleft()
                self.dropped += 1
                if frame.time_ns - self._warned_ns > WARN_EVERY_NS:
                    self._warned_ns = frame.time_ns
                    log.warning("camera %s: %s is %.1f s behind (recording.buffer_max_s); dropping the oldest "
                                "frames of the recording (%d so far, counted in not_recorded)", self.camera_id,
                                recorder_behind(frame), self.max_ns / 1e9, self.dropped)
            self._say_behind(frame)
            self.cond.notify_all()

    def _over(self) -> bool:
        """Whether the oldest item waits more than ``max_ns`` behind the newest (or the memory backstop is hit)."""
        frames = self.frames  # (idle, ``_trim`` bounds it: the pre-roll, and a GOP of packets)
        if len(frames) > self.max_frames:
            return True
        return bool(self.holds) and frames[-1].time_ns - frames[0].time_ns > self.max_ns

    def behind_ns(self) -> int:
        """How far the recorder is behind the camera: the oldest item waiting for it against the newest.

        0 while no event holds the buffer (the pre-roll kept then waits for no one).
        """
        with self.cond:
            return self._behind_ns()

    def _behind_ns(self) -> int:
        return self.frames[-1].time_ns - self.frames[0].time_ns if self.holds and self.frames else 0

    def _say_behind(self, frame: Item) -> None:
        """Log once when the recorder falls ``behind_say_ns`` behind, and once when it is back under half of it."""
        behind = self._behind_ns()
        if not self.behind_since_ns and behind > self.behind_say_ns:
            self.behind_since_ns = frame.time_ns
            log.warning("camera %s: recording is %.0f s behind the camera (the %s is slower than the camera: too "
                        "many cameras or pixels for this CPU?); frames waiting over recording.buffer_max_s = %.0f s "
                        "are dropped and counted", self.camera_id, behind / 1e9, recorder_behind(frame),
                        self.max_ns / 1e9)
        elif self.behind_since_ns and behind < self.behind_say_ns // 2:
            log.info("camera %s: recording caught up with the camera (%.0f s behind; it was behind for %.0f s)",
                     self.camera_id, behind / 1e9, (frame.time_ns - self.behind_since_ns) / 1e9)
            self.behind_since_ns = 0

    def _popleft(self) -> None:
        item = self.frames.popleft()
        if self.keys and self.keys[0] <= item.time_ns:
            self.keys.popleft()

    def _trim(self, floor: int) -> None:
        """Forget what is older than ``floor``; packets from the last keyframe at or before it are kept.

        A packet goes only when a later keyframe (or frame) at or before the floor is here to start
        from. That keyframe may be gone already, taken by the recorder: an event's recording starts at
        the keyframe before its hold, and a recorder that took the keyframe and a packet or two (as far
        as detection had looked) needs the packets after them up to the floor as well. Trimmed, they
        were a gap that cut a 2-frame segment and lost the rest of the GOP.
        """
        frames, keys = self.frames, self.keys
        while frames and frames[0].time_ns < floor:
            front = frames[0]
            later = keys[0] if keys and keys[0] > front.time_ns else keys[1] if len(keys) > 1 else None
            if isinstance(front, Packet) and (later is None or later > floor):
                return  # from the keyframe the packets after the floor decode from (here, or taken)
            self._popleft()

    def keyframe_at_or_before(self, time_ns: int) -> int | None:
        """The time of the last keyframe (or frame) at or before ``time_ns`` still here, else None."""
        with self.cond:
            before = [key for key in self.keys if key <= time_ns]
            return before[-1] if before else None

    def hold(self, from_ns: int) -> None:
        """Keep every frame from ``from_ns`` on until ``release(from_ns)``."""
        with self.cond:
            self.holds.append(from_ns)

    def release(self, from_ns: int) -> None:
        """End one hold set by ``hold(from_ns)``; other events' holds stay."""
        with self.cond:
            if from_ns in self.holds:
                self.holds.remove(from_ns)
            self.cond.notify_all()

    def following(self, after_index: int, count: int) -> list[Item]:
        """Up to ``count`` items just after ``after_index``, left in the buffer (a look ahead, no wait)."""
        with self.cond:
            return [f for f in self.frames if f.index > after_index][:count]

    def take(self, after_index: int, until_ns: int, timeout: float, most: int = TAKE_MAX) -> list[Item]:
        """Up to ``most`` frames newer than ``after_index`` and not after ``until_ns``; waits up to ``timeout``."""
        with self.cond:
            ready = self._ready(after_index, until_ns, most)
            if not ready and not self.closed:
                self.cond.wait(timeout)
                ready = self._ready(after_index, until_ns, most)
            if ready:  # taken frames are no longer needed here
                while self.frames and self.frames[0].index <= ready[-1].index:
                    self._popleft()
                self.cond.notify_all()
            return ready

    def _ready(self, after_index: int, until_ns: int, most: int) -> list[Item]:
        ready: list[Item] = []
        for f in self.frames:
            if f.index > after_index:
                if f.time_ns > until_ns or len(ready) == most:
                    break
                ready.append(f)
        return ready

    def waiting(self, after_index: int, until_ns: int) -> list[Item]:
        """Every item newer than ``after_index`` and not after ``until_ns``, left here (what a stop leaves behind)."""
        with self.cond:
            return [f for f in self.frames if after_index < f.index and f.time_ns <= until_ns]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()
