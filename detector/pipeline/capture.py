"""The capture stage: frames from the source into the FrameBuffer (for recording) and to detection.

A live source never waits: when detection is behind, its oldest waiting frame
is skipped for detection only (still recorded) and counted. Except right after
it opened: a stream hands over at once the frames it read while it was opened
(FFmpeg reads ~20 of them to learn the frame rate: 2 s at 10 fps), and those
wait for detection, for at most as long as the open took (``CATCH_UP_MAX_S``);
skipped, the first seconds after every reopen went unwatched and a walker
coming in as the camera came back was seen only as he left. A source that is
not live (a file read as fast as possible) waits for detection and for the
recorder instead, so it is analysed exactly as in real time.

A camera that never opened is named with its source and the likely fix, and
its state is ``failing``; one that worked and went away is ``lost`` and is
reopened with backoff, visibly (its fault says how often), for as long as the
detector runs (at once after a steady run, ``reopen.py``). A file analysed as
fast as possible (``realtime = false``) is not waited for: if it will not open
the camera gives up at once, if it went away mid-analysis after
``FILE_REOPEN_ATTEMPTS`` reopens, and if it was cut short while it was read (the
source's ``EndOfSource.cut_short``) at its end; each time it is ``failing`` and the
detector exits non-zero.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from quickcam.common.config import CameraConfig
from quickcam.common.protocol_schema import middle_cut
from quickcam.detector.av_source import Packet
from quickcam.detector.closed_folder import folder_fix
from quickcam.detector.console.tap import LiveTap
from quickcam.detector.decode import compact
from quickcam.detector.pipeline.delivery_rate import DeliveryRate
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.reopen import REOPEN_FIRST_S, ReopenPace
from quickcam.detector.pipeline.stats import CameraStats
from quickcam.detector.pipeline.supervise import Loop, describe
from quickcam.detector.sources import EndOfSource, Frame, FrameSource

log = logging.getLogger(__name__)

STILL_LOST_LOG_S = 60.0
FILE_REOPEN_ATTEMPTS = 3  # a file analysed as fast as possible that went away: reopened this often, then given up
CATCH_UP_MAX_S = 5.0  # right after an open, frames wait for detection for as long as it took, up to this (FFmpeg's
# analyzeduration: what a stream can have buffered while it opened)


class Lost:
    """The detect queue's marker for "the camera is lost": the running event ends at the last frame received.

    Without it a camera unplugged mid-event would leave the event (and its open
    segment in staging) waiting for frames that may never come.
    """


LOST = Lost()


class Undecoded:
    """The detect queue's marker for "packets were read up to ``until_ns`` that no frame handed on came from".

    With keyframes only (``event_keyframes_only``), the packets after an event's last keyframe are
    never decoded; when the source ends or is lost there, the event ends at the last packet read,
    not at the last keyframe, so the rest of that GOP is recorded too.
    """

    def __init__(self, until_ns: int) -> None:
        self.until_ns = until_ns


# A query field whose name (any case) holds one of these is a secret: many cameras take their
# password in the query (``?user=admin&pwd=...``, ``&password=``, ``&token=``).
_SECRET_FIELD_WORDS = ("pass", "pwd", "psw", "secret", "token", "key", "auth")


def redacted(url: str) -> str:
    """A stream URL without its password, for the log and the status: ``rtsp://admin:***@host/...``.

    Only the password is replaced (and the value of a query field named like one); the rest
    stays as written (the user says which account).
    The native detector's ``redacted`` gives the same text (tests compare them).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<the stream URL>"
    if parts.password is None:
        return _query_redacted(url)
    start = url.find("//") + 2
    userinfo = parts.netloc.rpartition("@")[0]
    if url[start:start + len(parts.netloc)] != parts.netloc:  # urlsplit dropped characters: say nothing of it
        return "<the stream URL>"
    return _query_redacted(url[:start] + userinfo.partition(":")[0] + ":***" + url[start + len(userinfo):])


def _query_redacted(url: str) -> str:
    """``url`` with the value of every secret-named query field (up to ``&`` or ``#``) as ``***``."""
    query_start = url.find("?")
    if query_start < 0:
        return url
    end = url.find("#", query_start)
    end = len(url) if end < 0 else end
    fields = []
    for field in url[query_start + 1:end].split("&"):
        name, equals, _value = field.partition("=")
        secret = equals and (name.lower() == "pw" or any(word in name.lower() for word in _SECRET_FIELD_WORDS))
        fields.append(name + "=***" if secret else field)
    return url[:query_start + 1] + "&".join(fields) + url[end:]


# The kernel's words for a path it will not look up at all (ENAMETOOLONG), and the fix (native: camera.cpp).
PATH_TOO_LONG = ("path too long for the system (a name in it over 255 bytes, or all of it over 4095); "
                 "check [camera] path")
# Bytes of a path or URL in a camera's fault: the rest of FAULT_MAX (300) keeps the longest fix and the
# retry count ("; retrying (attempt 123 failed, next in 30.0 s)") whole (native: camera.cpp kPathShownMax).
PATH_SHOWN_MAX = 120


def _lookup_errno(path: str) -> int:
    """0 when ``path`` can be looked up, else the errno of why not.

    Not ``Path.exists``: it raises rather than answer False for a path too long for the kernel
    (ENAMETOOLONG) or behind a directory this user cannot search (EACCES), and raised here, in
    the capture loop, a camera that cannot be opened failed the loop instead of being said so.
    """
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def open_failure(camera: CameraConfig, whole: bool = False, recorded: bool = False) -> str:
    """Why ``camera``'s source would not open, as far as can be told, and the likely fix.

    Its path (or URL) is cut in the middle to ``PATH_SHOWN_MAX`` bytes unless ``whole``: this text is
    the camera's fault, cut at 300 bytes, and a long path said whole took the fix with it. The log's
    first line of a failure says the path ``whole`` (a typo may sit in its middle); each retry's, cut.
    The source is the one capture opens (``detect_path`` when set), or ``recorded``: ``path`` beside it
    (``packet_capture.py``); the fix names the key that holds it (the native ``open_failure``'s).
    """
    key = "detect_path" if camera.detect_path and not recorded else "path"
    source_path = camera.detect_path if key == "detect_path" else camera.path

    def shown(path: str) -> str:
        return path if whole else middle_cut(path, PATH_SHOWN_MAX)

    if camera.source == "camera":
        device = camera.path or f"/dev/video{camera.index}"
        if not sys.platform.startswith("linux"):
            return (f"cannot open camera {shown(camera.path) or camera.index}; check it is plugged in and not used "
                    "by another program, or set [camera] index")
        looked_up = _lookup_errno(device)
        if looked_up == errno.ENAMETOOLONG:
            return f"cannot open {shown(device)} — {PATH_TOO_LONG}"
        if looked_up and looked_up != errno.EACCES:
            name = shown(device) if camera.path else f"{device} (camera index {camera.index})"
            return (f"cannot open {name} — no such device; list cameras with "
                    "`v4l2-ctl --list-devices` (or `ls /dev/video*`) and set [camera] index or path")
        if looked_up:  # a folder on its way refused the look-up: the video group would not help
            return f"cannot open {shown(device)} — {folder_fix(device, whole)}"
        if not os.access(device, os.R_OK | os.W_OK):
            return (f"cannot open {shown(device)} — permission denied; add this user to the 'video' group "
                    "(`sudo usermod -aG video $USER`, then log in again)")
        return (f"cannot open {shown(device)} — the device exists but gives no video (another program may be "
                "using it, or it is not a capture device); try another [camera] index")
    if camera.source == "file":
        path = shown(source_path)
        looked_up = _lookup_errno(source_path)
        if looked_up == errno.ENAMETOOLONG:
            return f"cannot open {path} — {PATH_TOO_LONG}"
        if looked_up == errno.EACCES:
            return f"cannot open {path} — {folder_fix(source_path, whole)}"
        if looked_up:
            return f"cannot open {path} — no such file; check [camera] {key}"
        if not Path(source_path).is_file():
            return f"cannot open {path} — not a file; set [camera] {key} to a video file"
        if not os.access(source_path, os.R_OK):
            return f"cannot open {path} — permission denied; make it readable by this user"
        return (f"cannot open {path} — not a video this OpenCV can read; check that it plays "
                "(e.g. `ffprobe` it) or convert it to MP4")
    if camera.source == "stream":
        return (f"cannot open stream {shown(redacted(source_path))} — no answer or not a video stream; check the "
                "URL, that the camera is on the network, and its user and password")
    return f"cannot open the {camera.source} source"


class CaptureStage:
    """Reads the source; its ``run`` may be restarted by the supervisor (the source is reopened)."""

    def __init__(self, camera: CameraConfig, source: FrameSource, buffer: FrameBuffer,
                 detect_queue: queue.Queue[Frame | Lost | Undecoded | None], stats: CameraStats, stop: threading.Event,
                 tap: LiveTap | None = None) -> None:
        self.camera, self.source, self.buffer, self.detect_queue = camera, source, buffer, detect_queue
        self.stats, self.stop = stats, stop
        self.tap = tap or LiveTap()  # console: the live view; a dict read per frame unless someone watches
        self.fps_window: deque[int] = deque(maxlen=30)
        self.delivery = DeliveryRate()  # frames handed on against the source's declared rate (status: degraded)
        self.measured_logged = False
        self.is_open = False
        self.pace = ReopenPace(camera.reopen_max_s)  # a source that keeps going away soon after opening waits
        self.record_source: Any = source  # the source whose packets are recorded (another with a detect_path)
        self.packets_until_ns = 0  # the newest packet handed to the recorder
        self.recording_ok: Callable[[], bool] = lambda: True  # the pipeline says whether every frame is still recorded
        self.delivered_ns = 0  # the newest frame handed to detection
        self.catch_up_until = 0.0  # (monotonic) until then a live source's frames wait for detection: see the module

    def run(self, loop: Loop) -> None:
        try:
            self._capture(loop)
        except BaseException as exc:
            if isinstance(exc, Exception):  # blind until the restarted loop has reopened it: said (not "ok")
                self.stats.lost_why = f"capture loop failed ({describe(exc)})"
                self.stats.state = "lost" if self.stats.opened else "failing"
                if self.stats.opened and self.camera.source != "file":
                    # closed to be reopened, maybe never (unplugged): the running event ends at the last frame
                    # received, as for a lost camera (the native detector's too); a file goes on after what it read
                    self._record_undecoded(loop)
                    self._put_detect(LOST, loop)
            self._close_source()  # reopened when the supervisor restarts this loop
            raise
        self._close_source()
        self.buffer.close()
        self._put_detect(None, loop)  # tells the detect stage to finish

    def _close_source(self) -> None:
        self.is_open = False
        try:
            self.source.close()
        except Exception as exc:  # a driver that fails to close must not stop the camera
            log.warning("camera %s: closing the source failed (%s)", self.camera.id, exc)

    def _capture(self, loop: Loop) -> None:
        if hasattr(self.source, "heartbeat"):  # a source that reads packets it does not decode (idle_keyframes_only)
            self.source.heartbeat = loop.beat
        while not self.stop.is_set():
            loop.beat()
            if not self.is_open and not self._open_with_backoff(loop):
                return
            try:
                frame = self.source.read()
            except EndOfSource as end:
                if end.cut_short:  # truncated while it was read: the rest of it will never be analysed
                    self.stats.open_error = f"{end.cut_short} (its analysis is incomplete)"
                    log.error("camera %s: %s", self.camera.id, self.stats.open_error)
                    self.stats.state, self.stats.abandoned = "failing", True
                    return
                self._record_undecoded(loop)
                log.info("camera %s: end of file %s", self.camera.id, self.camera.detect_path or self.camera.path)
                self.stats.state = "ended"
                return
            except Exception as exc:
                log.warning("camera %s: read failed (%s)", self.camera.id, exc)
                frame = None
            if frame is None:
                why = getattr(self.source, "lost_why", "") or "no frame"  # a stream source says why
                log.warning("camera %s: %s (%s); reopening with backoff up to %.0f s", self.camera.id,
                            "lost" if self.stats.opened else "opened but gives no frame", why,
                            self.camera.reopen_max_s)
                # the fault's first words until it opens again
                self.stats.lost_why = f"{'lost' if self.stats.opened else 'opened but gives no frame'}: {why}"
                self.stats.state = "lost" if self.stats.opened else "failing"
                self._record_undecoded(loop)
                self._close_source()
                if self.stats.opened:
                    self._put_detect(LOST, loop)  # the running event ends at the last frame received
                continue
            self._deliver(frame, loop)

    def _deliver(self, frame: Frame, loop: Loop) -> None:
        frame = compact(frame, self.camera.motion.detection_width)  # BGR -> YUV 4:2:0 + a small luma
        if self.stats.state != "ok":
            if self.stats.state == "lost":
                log.info("camera %s: ok again", self.camera.id)
            self.stats.state, self.stats.lost_why = "ok", ""
        self.stats.opened = True
        self.delivery.delivered(time.monotonic())
        window = self.fps_window
        window.append(frame.time_ns)
        if len(window) > 1:
            self.stats.fps = (len(window) - 1) * 1e9 / max(1, window[-1] - window[0])
        if not self.measured_logged and len(window) == window.maxlen:
            self.measured_logged = True
            width, height = frame.width, frame.height
            log.info("camera %s: delivering %dx%d at %.1f fps (measured)", self.camera.id, width, height,
                     self.stats.fps)
        self.stats.frames += 1
        for item in self._for_recording(frame):
            self.buffer.push(item, self.stop, loop.beat)
        self.stats.dropped_recording = self.buffer.dropped
        self.delivered_ns = max(self.delivered_ns, frame.time_ns)
        self._put_detect(frame, loop)
        self.tap.offer(self.camera.id, frame.bgr, frame.time_ns)  # console: never waits (newest-frame slot)

    def _for_recording(self, frame: Frame) -> list[Frame | Packet]:
        """What the recorder keeps of this read: the frame, or (passthrough) the packets it was decoded from.

        With a ``detect_path`` the recorded stream's packets come from their own
        loop (``PacketCaptureStage``); its frames are recorded only when that
        stream cannot be passed through.
        """
        take = getattr(self.source, "take_packets", None)
        if take is None:
            return [frame]
        packets = take()
        mode = self.record_source.mode
        if mode is None:  # the recorded stream is not open yet: nothing to record from
            return []
        if mode != "passthrough":  # (a source that gave up passthrough: only what its packets did not hold)
            return [frame] if frame.time_ns > self.packets_until_ns else []
        if self.record_source is not self.source:
            return []
        if packets:
            self.packets_until_ns = max(self.packets_until_ns, max(p.pts_ns for p in packets))
        return packets

    def _record_undecoded(self, loop: Loop) -> None:
        """At the end or loss of the source: the packets read since the last frame handed on go to the recorder,
        and detection hears how far they go (``Undecoded``), so an event running keeps them.

        Decoding every frame these are at most a packet the decoder did not finish; with keyframes only
        during an event (``event_keyframes_only``), the rest of the last GOP.
        """
        take = getattr(self.source, "take_packets", None)
        if take is None or getattr(self.record_source, "mode", None) != "passthrough":
            return
        packets = take()
        until_ns = max((p.pts_ns for p in packets), default=0)
        if self.record_source is self.source:  # (a detect_path's packets are not recorded: only their times)
            for packet in packets:
                self.buffer.push(packet, self.stop, loop.beat)
            self.packets_until_ns = max(self.packets_until_ns, until_ns)
        if until_ns > self.delivered_ns:
            self._put_detect(Undecoded(until_ns), loop)

    def _open_with_backoff(self, loop: Loop) -> bool:
        """Open the source, retrying with capped exponential backoff until it works or we stop.

        Opening (a stream may take its full timeout) and waiting are not stalls: the camera's
        state (failing, lost) says what is going on meanwhile.
        """
        loop.watched = False
        try:
            return self._open_retrying(loop)
        finally:
            loop.watched = True
            loop.beat()

    def _open_retrying(self, loop: Loop) -> bool:
        backoff, attempt, last_log = min(REOPEN_FIRST_S, self.camera.reopen_max_s), 0, time.monotonic()
        wait = self.pace.wait_s(time.monotonic())
        if wait:
            self.stats.open_error = f"it went away soon after it opened; reopening in {wait:.1f} s"  # the fault
            log.info("camera %s: went away soon after it opened; reopening in %.1f s (a source is reopened at "
                     "once only after a steady run)", self.camera.id, wait)
            if self.stop.wait(wait):
                return False
        while not self.stop.is_set():
            loop.beat()
            asked = self.stats.opening_since = time.monotonic()
            try:
                opened = self.source.open()
                reason = "" if opened else "cannot open"
            except Exception as exc:  # a driver error must not end the detector
                opened, reason = False, describe(exc)
            finally:
                self.stats.slow_open_s(time.monotonic())  # one that took long and returned between two statuses
                self.stats.opening_since = 0.0
            if opened:
                self.is_open = self.stats.source_opened = True
                if pacer := getattr(self.source, "pacer", None):  # a paced source's sleep ends at the stop
                    pacer.stopping = self.stop
                now = time.monotonic()
                self.catch_up_until = now + min(now - asked, CATCH_UP_MAX_S)  # what it read while it opened
                self.pace.opened(now)
                self.stats.width, self.stats.height = self.source.width, self.source.height
                self.stats.open_error = self.stats.retrying = ""
                if self.stats.state in ("lost", "failing"):  # still blind until a picture comes: said, never ""
                    waiting = f"{'reopened' if self.stats.opened else 'opened'}, waiting for its first picture"
                    self.stats.lost_why = "; ".join(filter(None, [self.stats.lost_why, waiting]))
                return True
            attempt += 1
            said = reason  # the first line of a failure says the path whole, the fault and each retry's line cut
            if reason == "cannot open":  # what, and the fix: the source's own words (a USB camera's), else a guess
                own = getattr(self.source, "open_error", "")
                reason, said = own or open_failure(self.camera), own or open_failure(self.camera, whole=True)
            self.stats.open_error = reason
            if self._analysed_once():
                log.error("camera %s: %s (not retried: a file analysed as fast as possible, [camera] realtime = "
                          "false, is read once)", self.camera.id, said)
                self.stats.state = "failing"
                return False
            if self._analysis_abandoned(attempt):
                gave_up = (f"gave up after {attempt} reopen attempts: a file analysed as fast as possible is not "
                           "waited for; its analysis is incomplete")
                self.stats.open_error = f"{reason} ({gave_up})"
                log.error("camera %s: %s (%s)", self.camera.id, said, gave_up)
                self.stats.state, self.stats.retrying, self.stats.abandoned = "failing", "", True
                return False
            self.stats.reopens += 1  # with the attempt its status names (counted after the wait, it was one behind)
            self.stats.retrying = f"retrying (attempt {attempt} failed, next in {backoff:.1f} s)"
            if not self.stats.opened:  # never delivered
                if self.stats.state != "failing":
                    log.error("camera %s: %s", self.camera.id, said)
                    self.stats.state = "failing"
            elif self.stats.state != "lost":
                log.warning("camera %s: lost (%s)", self.camera.id, said)
                self.stats.state = "lost"
            log.info("camera %s: %s attempt %d failed (%s); next in %.1f s", self.camera.id,
                     "reopen" if self.stats.opened else "open", attempt, reason, backoff)
            if time.monotonic() - last_log >= STILL_LOST_LOG_S:
                last_log = time.monotonic()
                log.warning("camera %s: still %s after %d attempts (%s); retrying every %.0f s", self.camera.id,
                            "lost" if self.stats.opened else "not opened", attempt, reason, backoff)
            if self.stop.wait(backoff):
                return False
            backoff = min(backoff * 2, self.camera.reopen_max_s)
        return False

    def _analysed_once(self) -> bool:
        """A file analysed as fast as possible that never opened: nothing to wait for, it is not coming.

        A live source (a camera, a stream, a file standing in for one) may come back and is
        retried for as long as the detector runs; so is a file that opened once and went away.
        """
        return self.camera.source == "file" and not self.source.live and not self.stats.opened

    def _analysis_abandoned(self, attempt: int) -> bool:
        """A file analysed as fast as possible that went away mid-analysis and would not reopen ``attempt`` times.

        A few reopens ride out a passing hiccup (a network share); more would keep
        the run waiting for ever for a file that was deleted or emptied.
        """
        return (self.camera.source == "file" and not self.source.live and self.stats.opened
                and attempt >= FILE_REOPEN_ATTEMPTS)

    def _skip_oldest_frame(self) -> bool:
        """Take the oldest frame off the detection queue; markers (lost, end) keep their place.

        Taking the oldest item and putting a marker back would move it behind newer frames: a
        camera lost and back would be cut after frames from after its return.
        """
        waiting = self.detect_queue
        with waiting.mutex:
            for index, item in enumerate(waiting.queue):
                if isinstance(item, Frame):
                    del waiting.queue[index]
                    waiting.not_full.notify()
                    return True
        return False

    def _put_detect(self, frame: Frame | Lost | Undecoded | None, loop: Loop) -> None:
        while True:
            # a file read as fast as possible waits for detection, to its last frame; a live source only
            # with the frames it read while it opened (the module's docstring)
            waits = not self.source.live or time.monotonic() < self.catch_up_until
            try:
                if waits:
                    self.detect_queue.put(frame, timeout=0.1)
                else:
                    self.detect_queue.put_nowait(frame)
                return
            except queue.Full:
                if waits:
                    loop.beat()
                    if self.stop.is_set() and frame is not None:
                        return
                    continue
                if self._skip_oldest_frame():  # live: detection is behind, skip its oldest frame (still recorded)
                    self.stats.dropped += 1
                    if self.stats.dropped % 100 == 1:
                        log.warning("camera %s: detection is behind; %d frame(s) skipped for detection "
                                    "so far (%s)", self.camera.id, self.stats.dropped,
                                    "each is still recorded" if self.recording_ok()
                                    else "recording is reduced: the disk is full")
                elif isinstance(frame, Frame):  # only markers wait: this frame is the one skipped
                    self.stats.dropped += 1
                    return
                else:
                    loop.beat()
                    self.stop.wait(0.01)  # a marker waits for room: never lost, never reordered
