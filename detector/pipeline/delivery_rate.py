"""A live camera that delivers well under the frame rate its source declares, for a sustained time, says so.

A camera that sends 4 of its 10 fps (its encoder or network overloaded, a bandwidth cap, a machine too
busy to read it) was ``ok at 4.0 fps``: nothing said that two frames in three were missing, and a walk
of a second is then 4 looks. The rule, the native detector's too (``camera.cpp``'s ``DeliveryRate``):

- the rate is the frames the capture stage handed on in the last ``WINDOW_S`` seconds of the monotonic
  clock (arrivals, not the frames' own times, which a stream's clock may re-anchor);
- it is slow below ``SLOW_SHARE`` of the rate the source declared at its open (the stream's or file's
  own rate, else ``[camera] fps``), for ``SLOW_AFTER_S`` in a row: streams vary (a GOP's burst, a
  network's hiccup, a reconnect); a camera in night mode halving its rate (slow shutter), or one whose
  declared rate is twice what it sends (FFmpeg's guess from an H.264 tick counted per field), sits at
  half, not under 45 %;
- not judged in dark mode (many cameras lower their rate in the dark, USB webcams to a quarter), nor
  with keyframes-only decoding (it decodes fewer frames on purpose), nor for a file analysed as fast as
  possible, nor in the first ``WINDOW_S`` after an open.

While slow the camera is ``degraded`` with the two rates in its fault; the health check then says so
after its grace, as for any camera not ``ok``.
"""

from __future__ import annotations

import threading
from collections import deque

WINDOW_S = 5.0
SLOW_SHARE = 0.45  # under half with room: a declared rate twice what is sent (an H.264 tick doubled) is at 0.5
SLOW_AFTER_S = 15.0


class DeliveryRate:
    """Frames handed on against the declared rate; ``fault`` says when the first is well under the second."""

    def __init__(self) -> None:
        self.arrivals: deque[float] = deque()
        self.since = 0.0  # (monotonic) the first arrival since the source opened or was last judged unfit
        self.slow_since: float | None = None
        self._lock = threading.Lock()  # the capture thread hands frames on, the status thread judges

    def delivered(self, now: float) -> None:
        """One frame handed on at ``now`` (monotonic seconds)."""
        with self._lock:
            if not self.arrivals or now - self.arrivals[-1] > WINDOW_S:  # the first, or after a gap (a reopen)
                self.arrivals.clear()
                self.since, self.slow_since = now, None
            self.arrivals.append(now)

    def fault(self, declared_fps: float, judged: bool, now: float) -> str:
        """The words for a sustained slow delivery ('' when there is none); ``judged``: whether the rule applies
        now (a live source, ok, not dark, every frame decoded)."""
        while self.arrivals and now - self.arrivals[0] > WINDOW_S:
            self.arrivals.popleft()
        if not judged or declared_fps <= 0 or not self.arrivals or now - self.since < WINDOW_S:
            self.slow_since = None
            return ""
        rate = len(self.arrivals) / WINDOW_S
        if rate >= SLOW_SHARE * declared_fps:
            self.slow_since = None
            return ""
        if self.slow_since is None:
            self.slow_since = now
        slow_s = now - self.slow_since
        if slow_s < SLOW_AFTER_S:
            return ""
        return (f"delivering {rate:.1f} of its {declared_fps:.1f} fps for {slow_s:.0f} s (the camera, its network or "
                "this machine does not keep up: check the camera's bitrate and the machine's load)")
