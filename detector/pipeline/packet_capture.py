"""The recorded stream's own loop, when detection reads another (``[camera] detect_path``).

A camera's main stream (``path``) is only demuxed here, never decoded: its
packets go into the FrameBuffer for the passthrough recorder, while the capture
stage decodes the low-resolution substream for detection. Both are stamped on
the same clock (the wall clock for streams; for files, the same file timeline).

A file read as fast as possible is not let run ahead of detection by more than
``AHEAD_NS``, so the pre-roll detection asks for is still in the buffer.

``path`` lost or not opening leaves detection running, and ``fault`` says so (the camera is
``degraded``: events are not recorded until it is back) until it opens again; before, it was only
logged, and the camera said ``ok`` while an event went unrecorded. The native detector's words
(``recorded_stream.cpp``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from quickcam.common.config import CameraConfig
from quickcam.common.protocol_schema import middle_cut
from quickcam.detector.av_source import AvSource
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX, open_failure, redacted
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.reopen import REOPEN_FIRST_S, ReopenPace
from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.sources import EndOfSource

log = logging.getLogger(__name__)

AHEAD_NS = 1_000_000_000


class PacketCaptureStage:
    """``path``'s packets into the buffer; ``detected_until`` and ``detecting`` pace a file read fast."""

    def __init__(self, camera: CameraConfig, source: AvSource, buffer: FrameBuffer, stop: threading.Event,
                 detected_until: Callable[[], int], detecting: Callable[[], bool]) -> None:
        self.camera, self.source, self.buffer, self.stop = camera, source, buffer, stop
        self.detected_until, self.detecting = detected_until, detecting
        self.pace = ReopenPace(camera.reopen_max_s)  # a stream that keeps ending soon after it opens waits
        self.fault = ""  # while path is lost or not opening: the camera's status says it (``degraded``)
        self.attempt = 0  # failed opens in a row
        self.given_up = False  # a file analysed as fast as possible that did not open: tried once
        self.said_mode = False  # "recording <path> by passthrough ...; detecting on <detect_path>", once
        self.shown = middle_cut(redacted(camera.path), PATH_SHOWN_MAX)

    def run(self, loop: Loop) -> None:
        backoff = REOPEN_FIRST_S
        try:
            while not self.stop.is_set():
                loop.beat()
                if self.source.container is None and not self._open(loop, backoff):
                    if self.given_up or not self.detecting():
                        return  # (detection over: nothing is left to record; it kept the detector running)
                    backoff = min(backoff * 2, self.camera.reopen_max_s)
                    continue
                backoff = REOPEN_FIRST_S
                if self.source.mode != "passthrough":
                    log.warning("camera %s: recording the detection stream %s instead (%s)", self.camera.id,
                                redacted(self.camera.detect_path), self.source.why)
                    return
                try:
                    packet = self.source.read_packet()
                except EndOfSource:
                    log.info("camera %s: end of file %s", self.camera.id, self.camera.path)
                    return
                if packet is None:
                    log.warning("camera %s: recorded stream %s lost; reopening", self.camera.id,
                                redacted(self.camera.path))
                    self.fault = (f"recorded stream lost: no packet from {self.shown}; events are not recorded "
                                  "until it is back; reopening")
                    self.source.close()
                    self._pause(loop, self.pace.wait_s(time.monotonic()))
                    continue
                while (not self.source.live and self.detecting() and not self.stop.is_set()
                       and packet.time_ns > self.detected_until() + AHEAD_NS):
                    loop.beat()
                    time.sleep(0.01)
                self.buffer.push(packet, self.stop, loop.beat)
        finally:
            self.source.close()

    def _wait(self, seconds: float) -> None:
        """Wait before an open; cut short by the stop, or when detection is over (its source ended): before, a
        path retried kept the detector running after its substream's file had ended (the native stops)."""
        deadline = time.monotonic() + seconds
        while self.detecting() and not self.stop.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return

    def _pause(self, loop: Loop, seconds: float) -> None:
        """Wait before reopening a stream that went away soon after it opened (not a stall)."""
        if not seconds:
            return
        log.info("camera %s: the recorded stream went away soon after it opened; reopening in %.1f s",
                 self.camera.id, seconds)
        loop.watched = False
        try:
            self._wait(seconds)
        finally:
            loop.watched = True
            loop.beat()

    def _open(self, loop: Loop, backoff: float) -> bool:
        """Open ``path``; a failure is said once (a warning), each retry on its own line (info), the fault kept.

        A file analysed as fast as possible (``realtime = false``) is tried once, as the detection source is:
        its substream is analysed in moments, nothing would be left to record when it appears. Before, the
        Python detector retried it for as long as it ran, a warning each time; the native one tried once.
        """
        loop.watched = False
        try:
            try:
                if self.source.open():
                    self.pace.opened(time.monotonic())
                    if not self.said_mode and self.source.mode == "passthrough":  # the native detector's line
                        self.said_mode = True
                        log.info("camera %s: recording %s by passthrough (%s); detecting on %s", self.camera.id,
                                 redacted(self.camera.path), self.source.why, redacted(self.camera.detect_path))
                    if self.attempt:
                        log.info("camera %s: the recorded stream %s opened after %d failed attempt(s); events are "
                                 "recorded again", self.camera.id, redacted(self.camera.path), self.attempt)
                    self.fault, self.attempt = "", 0
                    return True
            except Exception as exc:  # a driver error must not end the camera
                log.warning("camera %s: opening the recorded stream failed (%s: %s)", self.camera.id,
                            type(exc).__name__, exc)
            if self.stop.is_set():
                return False  # the open was cut short by the stop: not a failure
            self.attempt += 1
            said, shown = self._cannot_open(whole=True), self._cannot_open()
            if self.camera.source == "file" and not self.source.live:
                log.error("camera %s: %s; its events are not recorded", self.camera.id, said)
                self.fault, self.given_up = f"{shown}; events are not recorded", True
                return False
            retrying = f"retrying (attempt {self.attempt} failed, next in {backoff:.1f} s)"
            if self.attempt == 1:
                log.warning("camera %s: %s; events are not recorded until it opens; %s", self.camera.id, said,
                            retrying)
            else:
                log.info("camera %s: recorded stream open attempt %d failed; next in %.1f s", self.camera.id,
                         self.attempt, backoff)
            self.fault = f"{shown}; events are not recorded until it opens; {retrying}"
            self._wait(backoff)
            return False
        finally:
            loop.watched = True
            loop.beat()

    def _cannot_open(self, whole: bool = False) -> str:
        """``cannot open the recorded stream <path>``, and for a file why and the fix (``open_failure``'s)."""
        if self.camera.source != "file":
            return f"cannot open the recorded stream {redacted(self.camera.path) if whole else self.shown}"
        return "cannot open the recorded stream " + open_failure(self.camera, whole, recorded=True).removeprefix(
            "cannot open ")
