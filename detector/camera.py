"""One camera's pipeline: capture -> detection -> recording, each in its own thread.

    capture thread ──► FrameBuffer (every frame, for recording) ──► recorder thread ──► outbox
          │                                                              ▲
          └──► detection queue (bounded, may drop) ──► detection thread ─┘ start/end
                                                          └──► snapshots ──► outbox

- Capture only ever appends: it never waits for detection, encoding or the
  network when the source is live. Detection works on the newest frames; when
  it falls behind, the oldest waiting frame is dropped *for detection only*
  and counted (``dropped``).
- Every captured frame goes to the ``FrameBuffer``, which keeps the pre-roll
  while idle and everything from the event's start while recording, so the
  recording never loses a frame to a slow detector. Only if the encoder falls
  ``buffer_max_s`` behind are frames dropped, loudly (warning + counter
  ``dropped_recording``). Non-live sources (a file read as fast as possible)
  wait instead, and lose nothing.
- The detection thread commits the onset snapshot before it tells the
  recorder to start, so the snapshot is always in the outbox before the
  event's first segment.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2

from quickcam.common import protocol
from quickcam.common.config import CameraConfig, RecordingConfig
from quickcam.detector.encoders import SegmentEncoder, open_encoder
from quickcam.detector.events import Action, EventClock
from quickcam.detector.faces import Box, FaceBudget, FaceConfirmer, open_face_detector, timed_faces
from quickcam.detector.motion import MotionResult, create_detector
from quickcam.detector.outbox import Outbox, SegmentFormat
from quickcam.detector.sources import EndOfSource, Frame, FrameSource, make_source
from quickcam.detector.zones import ZoneError, build_zone_mask

log = logging.getLogger(__name__)

REOPEN_FIRST_S = 0.5
MAX_SNAPSHOTS = 6  # per event
SNAPSHOT_GAP_NS = 1_000_000_000  # between "larger area" snapshots; a better face skips it
DETECT_QUEUE_S = 0.5  # detection may lag capture by this much before frames are dropped for it
DETECT_SLACK_NS = 2_000_000_000  # pre-roll kept beyond pre_roll_s, for detection lag


@dataclass
class CameraStats:
    """What the status messages and the log say about a camera."""

    state: str = "starting"  # starting, ok, lost, ended
    dark: bool = False
    frames: int = 0
    dropped: int = 0  # frames detection skipped because it was behind (all are still recorded)
    dropped_recording: int = 0  # frames lost to recording because the encoder was far behind
    fps: float = 0.0
    width: int = 0
    height: int = 0
    events: int = 0
    last_event_ms: int = 0
    reopens: int = 0
    faces: int = 0

    def as_status(self) -> dict:
        return {"state": self.state, "dark": self.dark, "fps": round(self.fps, 2), "frames": self.frames,
                "dropped": self.dropped, "dropped_recording": self.dropped_recording,
                "width": self.width, "height": self.height, "events": self.events,
                "last_event_ms": self.last_event_ms, "reopens": self.reopens, "faces": self.faces}


class FrameBuffer:
    """Frames waiting to be recorded (thread-safe).

    Idle, it keeps ``keep_ns`` of the newest frames (the pre-roll). While an
    event holds it (``hold(from_ns)``), it keeps every frame from that time
    on until the recorder takes them.
    """

    def __init__(self, keep_ns: int, max_frames: int, live: bool, camera_id: str) -> None:
        self.keep_ns, self.max_frames, self.live = keep_ns, max_frames, live
        self.camera_id = camera_id
        self.frames: deque[Frame] = deque()
        self.cond = threading.Condition()
        self.hold_from_ns: int | None = None
        self.closed = False
        self.dropped = 0
        self._warned_ns = 0

    def push(self, frame: Frame, stop: threading.Event) -> None:
        with self.cond:
            self.frames.append(frame)
            floor = frame.time_ns - self.keep_ns if self.hold_from_ns is None else self.hold_from_ns
            while self.frames and self.frames[0].time_ns < floor:
                self.frames.popleft()
            while len(self.frames) > self.max_frames and not stop.is_set():
                if not self.live:  # nothing is lost by waiting for the encoder
                    self.cond.wait(0.1)
                    continue
                self.frames.popleft()
                self.dropped += 1
                if frame.time_ns - self._warned_ns > 5_000_000_000:
                    self._warned_ns = frame.time_ns
                    log.warning("camera %s: encoder is %d frames behind; dropping the oldest frames of "
                                "the recording (%d so far)", self.camera_id, self.max_frames, self.dropped)
            self.cond.notify_all()

    def hold(self, from_ns: int) -> None:
        with self.cond:
            self.hold_from_ns = from_ns

    def release(self, from_ns: int) -> None:
        """End the hold set by ``hold(from_ns)``, unless a newer event holds the buffer now."""
        with self.cond:
            if self.hold_from_ns == from_ns:
                self.hold_from_ns = None

    def take(self, after_index: int, until_ns: int, timeout: float) -> list[Frame]:
        """Frames newer than ``after_index`` and not after ``until_ns``; waits up to ``timeout``."""
        with self.cond:
            ready = [f for f in self.frames if f.index > after_index and f.time_ns <= until_ns]
            if not ready and not self.closed:
                self.cond.wait(timeout)
                ready = [f for f in self.frames if f.index > after_index and f.time_ns <= until_ns]
            if ready:  # taken frames are no longer needed here
                while self.frames and self.frames[0].index <= ready[-1].index:
                    self.frames.popleft()
                self.cond.notify_all()
            return ready

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()


@dataclass
class _Command:
    kind: str  # start, end, stop
    event_id: str = ""
    time_ns: int = 0


@dataclass
class _EventFaces:
    """Face boxes seen during an event, for the segment headers (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[tuple[int, list[int]]] = field(default_factory=list)  # (time_ns, box)

    def add(self, time_ns: int, boxes: list[Box]) -> None:
        with self.lock:
            self.seen.extend((time_ns, list(box)) for box in boxes)

    def between(self, start_ns: int, end_ns: int) -> list[dict]:
        with self.lock:
            return [{"time_ms": t // 1_000_000, "box": box} for t, box in self.seen if start_ns <= t <= end_ns]


class OpenSegment:
    """A segment file being written in the outbox's staging area."""

    def __init__(self, outbox: Outbox, recording: RecordingConfig, chosen: SegmentFormat) -> None:
        self.id = protocol.new_message_id()
        self.path = outbox.staging_path(f"{self.id}.mp4")
        width, height, fps = chosen.width, chosen.height, chosen.fps
        self.encoder: SegmentEncoder = open_encoder(recording.encoder, self.path, width, height, fps)
        self.width, self.height, self.fps = width, height, fps
        self.max_ns = int(chosen.seconds * 1e9)
        self.frames = 0
        self.start_ns = self.end_ns = 0
        self.gap_ns = int(1e9 / fps) if chosen.reduced else 0  # over the disk budget: one frame per gap
        self.next_ns = 0

    def write(self, frame: Frame) -> None:
        if self.gap_ns:
            if self.frames and frame.time_ns < self.next_ns:
                return
            # Keep the cadence; after a hole in the source, restart it from this frame.
            on_time = self.frames and frame.time_ns - self.next_ns < self.gap_ns
            self.next_ns = (self.next_ns if on_time else frame.time_ns) + self.gap_ns
        if self.frames == 0:
            self.start_ns = frame.time_ns
        image = frame.image
        if (image.shape[1], image.shape[0]) != (self.width, self.height):
            image = cv2.resize(image, (self.width, self.height))  # a stream changed size mid-event
        self.encoder.write(image)
        self.end_ns = frame.time_ns
        self.frames += 1

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns + int(1e9 / self.fps)


SourceFactory = Callable[[CameraConfig], FrameSource]


class CameraPipeline:
    """Everything one camera does, in three threads; nothing raises out of them.

    ``source_factory`` makes the (unopened) source; tests pass fakes.
    """

    def __init__(self, camera: CameraConfig, outbox: Outbox, stop_event: threading.Event,
                 source_factory: SourceFactory = make_source) -> None:
        self.camera, self.motion_cfg, self.recording = camera, camera.motion, camera.recording
        self.outbox = outbox
        self.stop_event = stop_event
        self.stats = CameraStats()
        self.source: FrameSource = source_factory(camera)
        fps = max(1.0, camera.fps)
        self.detect_queue: queue.Queue[Frame | None] = queue.Queue(maxsize=max(2, round(fps * DETECT_QUEUE_S)))
        keep_ns = int(self.recording.pre_roll_s * 1e9) + DETECT_SLACK_NS
        self.buffer = FrameBuffer(keep_ns, max(8, int(self.recording.buffer_max_s * fps)),
                                  self.source.live, camera.id)
        self.commands: queue.Queue[_Command] = queue.Queue()
        self.detected_until_ns = 0  # the recorder never writes past what detection has seen
        self.faces: dict[str, _EventFaces] = {}
        self.threads = [
            threading.Thread(target=self._guard, args=(self._capture_loop, "capture"), name=f"capture-{camera.id}",
                             daemon=True),
            threading.Thread(target=self._guard, args=(self._detect_loop, "detection"), name=f"detect-{camera.id}",
                             daemon=True),
            threading.Thread(target=self._guard, args=(self._record_loop, "recording"), name=f"record-{camera.id}",
                             daemon=True),
        ]

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def finished(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def _guard(self, loop: Callable[[], None], what: str) -> None:
        """Run one thread's loop; a bug ends this camera's thread with a log, never the process."""
        try:
            loop()
        except Exception:
            log.exception("camera %s: %s thread failed", self.camera.id, what)
            self.stats.state = "failed"
            if what == "capture":
                self.buffer.close()
                self._put_detect(None)
            elif what == "detection":
                self.commands.put(_Command("stop"))

    # -- capture -----------------------------------------------------------------
    def _open_with_backoff(self) -> bool:
        """Open the source, retrying with capped exponential backoff until it works or we stop."""
        backoff, attempt = REOPEN_FIRST_S, 0
        while not self.stop_event.is_set():
            try:
                opened = self.source.open()
                reason = "no frames" if opened else "cannot open"
            except Exception as exc:  # a driver error must not end the detector
                opened, reason = False, f"{type(exc).__name__}: {exc}"
            if opened:
                self.stats.width, self.stats.height = self.source.width, self.source.height
                return True
            if self.stats.state != "lost":
                log.warning("camera %s: lost (%s)", self.camera.id, reason)
                self.stats.state = "lost"
            attempt += 1
            log.info("camera %s: reopen attempt %d failed (%s); next in %.1f s",
                     self.camera.id, attempt, reason, backoff)
            if self.stop_event.wait(backoff):
                return False
            backoff = min(backoff * 2, self.camera.reopen_max_s)
            self.stats.reopens += 1
        return False

    def _capture_loop(self) -> None:
        fps_window: deque[int] = deque(maxlen=30)
        measured_logged = False
        try:
            if not self._open_with_backoff():
                return
            while not self.stop_event.is_set():
                try:
                    frame = self.source.read()
                except EndOfSource:
                    log.info("camera %s: end of file %s", self.camera.id, self.camera.path)
                    self.stats.state = "ended"
                    break
                except Exception as exc:
                    log.warning("camera %s: read failed (%s)", self.camera.id, exc)
                    frame = None
                if frame is None:
                    log.warning("camera %s: lost (no frame); reopening with backoff up to %.0f s",
                                self.camera.id, self.camera.reopen_max_s)
                    self.stats.state = "lost"
                    self.source.close()
                    if not self._open_with_backoff():
                        break
                    continue
                if self.stats.state != "ok":
                    if self.stats.state == "lost":
                        log.info("camera %s: ok again", self.camera.id)
                    self.stats.state = "ok"
                fps_window.append(frame.time_ns)
                if len(fps_window) > 1:
                    self.stats.fps = (len(fps_window) - 1) * 1e9 / max(1, fps_window[-1] - fps_window[0])
                if not measured_logged and len(fps_window) == fps_window.maxlen:
                    measured_logged = True
                    height, width = frame.image.shape[:2]
                    log.info("camera %s: delivering %dx%d at %.1f fps (measured)", self.camera.id, width,
                             height, self.stats.fps)
                self.stats.frames += 1
                self.buffer.push(frame, self.stop_event)
                self.stats.dropped_recording = self.buffer.dropped
                self._put_detect(frame)
        finally:
            self.source.close()
            self.buffer.close()
            self._put_detect(None)  # tells the detection thread to finish

    def _put_detect(self, frame: Frame | None) -> None:
        while True:
            try:
                if frame is None or self.source.live:
                    self.detect_queue.put_nowait(frame)
                else:  # a file read as fast as possible waits for detection
                    self.detect_queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                if frame is not None and not self.source.live:
                    if self.stop_event.is_set():
                        return
                    continue
                try:  # live: detection is behind, skip its oldest frame (still recorded)
                    dropped = self.detect_queue.get_nowait()
                    if dropped is not None:
                        self.stats.dropped += 1
                        if self.stats.dropped % 100 == 1:
                            log.warning("camera %s: detection is behind; %d frame(s) skipped for detection "
                                        "so far (all are recorded)", self.camera.id, self.stats.dropped)
                    else:  # never lose the end marker
                        self.detect_queue.put_nowait(None)
                        return
                except queue.Empty:
                    pass

    # -- detection -----------------------------------------------------------------
    def _detect_loop(self) -> None:
        cfg, rec = self.motion_cfg, self.recording
        zone_mask = None
        try:
            zone_mask = build_zone_mask(self.camera.zones, self.source.width or 640, self.source.height or 480)
        except ZoneError as exc:
            log.error("camera %s: %s; watching the whole picture", self.camera.id, exc)
        detector = create_detector(cfg, fps=self.source.fps or self.camera.fps, zone_mask=zone_mask)
        faces_detector = open_face_detector(self.camera.faces)
        if faces_detector is not None:
            log.info("camera %s: faces by %s, at most %.0f ms a second, only where motion is", self.camera.id,
                     faces_detector.name, self.camera.faces.budget_ms_per_s)
        budget, confirmer = FaceBudget(self.camera.faces.budget_ms_per_s), FaceConfirmer()
        clock = EventClock(int(rec.post_roll_s * 1e9), int(rec.max_event_s * 1e9), int(rec.min_event_s * 1e9),
                           cfg.trigger_frames)
        event_id, snapshots, best_area, best_face, last_snapshot_ns = "", 0, 0.0, 0, 0
        relearning, last_ns = False, 0
        while True:
            frame = self.detect_queue.get()
            if frame is None:
                break
            last_ns = frame.time_ns
            if detector.skip(frame.time_ns, clock.recording):
                self._detected(frame.time_ns)
                continue
            result = detector.detect(frame.image)
            self._dark_mode(result)
            if result.global_change != relearning:
                relearning = result.global_change
                if relearning:
                    log.info("camera %s: the whole picture changed (%.0f%%): lighting, not motion; "
                             "re-learning the background", self.camera.id, result.area_fraction * 100)
            action = clock.step(frame.time_ns, result.motion)
            faces: list[Box] = []
            if result.motion and faces_detector is not None and clock.recording:
                found = timed_faces(faces_detector, budget, frame.image, result.boxes,
                                    self.camera.faces.min_size_px, frame.time_ns)
                faces = confirmer.confirm(found, frame.time_ns)
            if action is Action.START:
                event_id = protocol.new_message_id()
                self.faces[event_id] = _EventFaces()
                self.stats.events += 1
                self.stats.last_event_ms = frame.time_ns // 1_000_000
                log.info("camera %s: motion, event %s starts (area %.3f, %d box(es))", self.camera.id,
                         event_id, result.area_fraction, len(result.boxes))
                from_ns = clock.onset_ns - int(rec.pre_roll_s * 1e9)
                self.buffer.hold(from_ns)
                self._snapshot(frame, event_id, result, faces, 0)  # before anything else of the event
                snapshots, best_area, last_snapshot_ns = 1, result.area_fraction, frame.time_ns
                best_face = max((w * h for _, _, w, h in faces), default=0)
                self.commands.put(_Command("start", event_id, from_ns))
            elif action is Action.CONTINUE and snapshots < MAX_SNAPSHOTS:
                face_area = max((w * h for _, _, w, h in faces), default=0)
                better_face = face_area > best_face * 1.2
                larger = (result.motion and result.area_fraction > best_area * 1.5
                          and frame.time_ns - last_snapshot_ns >= SNAPSHOT_GAP_NS)
                if better_face or larger:
                    self._snapshot(frame, event_id, result, faces, snapshots)
                    snapshots, last_snapshot_ns = snapshots + 1, frame.time_ns
                    best_area, best_face = max(best_area, result.area_fraction), max(best_face, face_area)
            elif action is Action.END:
                log.info("camera %s: event %s ends", self.camera.id, event_id)
                self.commands.put(_Command("end", event_id, clock.end_ns))
            if faces and event_id in self.faces:
                self.stats.faces += len(faces)
                self.faces[event_id].add(frame.time_ns, faces)
            self._detected(frame.time_ns)
        if clock.recording:
            self.commands.put(_Command("end", event_id, last_ns + 1))
        self._detected(last_ns + 1)
        self.commands.put(_Command("stop"))

    def _detected(self, time_ns: int) -> None:
        self.detected_until_ns = time_ns
        self.buffer.notify()

    def _dark_mode(self, result: MotionResult) -> None:
        if result.dark != self.stats.dark:
            self.stats.dark = result.dark
            if result.dark:
                log.info("camera %s: entering dark mode (brightness %.1f < %.1f): every frame denoised over time, "
                         "pixel threshold %.1f from the measured noise", self.camera.id, result.brightness,
                         self.motion_cfg.dark_threshold, result.threshold)
            else:
                log.info("camera %s: leaving dark mode (brightness %.1f)", self.camera.id, result.brightness)

    def _snapshot(self, frame: Frame, event_id: str, result: MotionResult, faces: list[Box], number: int) -> None:
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, self.recording.snapshot_quality])
        if not ok:
            log.error("camera %s: JPEG encoding of snapshot %d failed", self.camera.id, number)
            return
        payload = jpeg.tobytes()
        height, width = frame.image.shape[:2]
        header = protocol.make_header(
            "snapshot", camera=self.camera.id, event=event_id, width=width, height=height,
            seq=number, content_type="image/jpeg", boxes=[list(b) for b in result.boxes],
            faces=[list(f) for f in faces], motion_area=round(result.area_fraction, 4),
            **protocol.payload_fields(payload),
        )
        header["time_ms"] = frame.time_ns // 1_000_000
        self.outbox.commit_bytes(header, payload)

    # -- recording -----------------------------------------------------------------
    def _record_loop(self) -> None:
        event_id, from_ns, end_ns, seq, last_index = "", 0, None, 0, -1
        segment: OpenSegment | None = None
        recording, stopping = False, False
        while True:
            if not recording:
                command = self.commands.get()
            else:
                try:
                    command = self.commands.get_nowait()
                except queue.Empty:
                    command = None
            if command is not None:
                if command.kind == "stop":
                    stopping = True
                    if not recording:
                        break
                elif command.kind == "start":
                    event_id, from_ns, end_ns, seq, recording = command.event_id, command.time_ns, None, 0, True
                    log.debug("camera %s: recording event %s", self.camera.id, event_id)
                elif command.kind == "end":
                    end_ns = command.time_ns
            if not recording:
                continue
            limit = self.detected_until_ns if end_ns is None else min(end_ns - 1, self.detected_until_ns)
            frames = self.buffer.take(last_index, limit, timeout=0.05)
            for frame in frames:
                if frame.time_ns < from_ns:
                    continue  # older than the pre-roll
                last_index = frame.index
                try:
                    if segment is None:
                        segment = self._new_segment(frame)
                    elif segment.duration_ns >= segment.max_ns:
                        self._finish(segment, event_id, seq, final=False)
                        seq += 1
                        segment = self._new_segment(frame)
                    segment.write(frame)
                except Exception:
                    log.exception("camera %s: encoding failed; starting a new segment", self.camera.id)
                    segment = None
            done = end_ns is not None and (self.detected_until_ns >= end_ns - 1 or stopping) and not frames
            if done:
                if segment is not None:
                    self._finish(segment, event_id, seq, final=True)
                    log.info("camera %s: event %s recorded in %d segment(s)", self.camera.id, event_id, seq + 1)
                else:
                    log.warning("camera %s: event %s ended with no frame recorded", self.camera.id, event_id)
                segment, recording = None, False
                self.faces.pop(event_id, None)
                self.buffer.release(from_ns)
                if stopping:
                    break

    def _new_segment(self, frame: Frame) -> OpenSegment:
        height, width = frame.image.shape[:2]
        chosen = self.outbox.segment_format(width, height, self.source.fps or self.camera.fps, self.recording)
        return OpenSegment(self.outbox, self.recording, chosen)

    def _finish(self, segment: OpenSegment, event_id: str, seq: int, final: bool) -> None:
        segment.encoder.close()
        data_size = segment.path.stat().st_size
        digest = hashlib.sha256()
        with open(segment.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        faces = self.faces[event_id].between(segment.start_ns, segment.end_ns) if event_id in self.faces else []
        header = protocol.make_header(
            "segment", camera=self.camera.id, event=event_id, seq=seq, final=final,
            start_ms=segment.start_ns // 1_000_000, end_ms=segment.end_ns // 1_000_000,
            frames=segment.frames, fps=float(segment.fps), width=segment.width, height=segment.height,
            container="mp4", codec=segment.encoder.codec, content_type="video/mp4",
            size=data_size, sha256=digest.hexdigest(), faces=faces,
        )
        header["id"] = segment.id
        self.outbox.commit_file(header, segment.path)
