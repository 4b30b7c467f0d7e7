"""One camera's pipeline: capture thread -> motion -> event clock -> segments and snapshots.

Capture runs in its own thread and only ever puts frames in a bounded queue,
so a slow encoder or disk can never stall the camera driver. The processing
thread decides what is recorded and hands finished files to the outbox.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass

import cv2

from quickcam.common import protocol
from quickcam.common.config import CameraConfig, MotionConfig, RecordingConfig
from quickcam.detector.encoders import SegmentEncoder, open_encoder
from quickcam.detector.events import Action, EventClock
from quickcam.detector.motion import MotionResult, RunningAverageMotion
from quickcam.detector.outbox import Outbox
from quickcam.detector.sources import EndOfSource, Frame, FrameSource, open_source

log = logging.getLogger(__name__)

REOPEN_MAX_S = 30.0
MAX_SNAPSHOTS = 5  # per event
SNAPSHOT_GAP_NS = 1_000_000_000


@dataclass
class CameraStats:
    state: str = "starting"  # ok, lost, dark, ended
    frames: int = 0
    dropped: int = 0
    fps: float = 0.0
    events: int = 0
    last_event_ms: int = 0

    def as_status(self) -> dict:
        return {"state": self.state, "fps": round(self.fps, 2), "frames": self.frames,
                "dropped": self.dropped, "events": self.events, "last_event_ms": self.last_event_ms}


class OpenSegment:
    """A segment file being written in the outbox's staging area."""

    def __init__(self, outbox: Outbox, recording: RecordingConfig, width: int, height: int, fps: float) -> None:
        self.id = protocol.new_message_id()
        self.path = outbox.staging_path(f"{self.id}.mp4")
        self.encoder: SegmentEncoder = open_encoder(recording.encoder, self.path, width, height, fps)
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self.start_ns = self.end_ns = 0

    def write(self, frame: Frame) -> None:
        if self.frames == 0:
            self.start_ns = frame.time_ns
        self.encoder.write(frame.image)
        self.end_ns = frame.time_ns
        self.frames += 1

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns + int(1e9 / self.fps)


class CameraPipeline:
    """Everything one camera does, in two threads; never raises out of them."""

    def __init__(self, camera: CameraConfig, motion: MotionConfig, recording: RecordingConfig,
                 outbox: Outbox, stop_event: threading.Event) -> None:
        self.camera, self.motion_cfg, self.recording = camera, motion, recording
        self.outbox = outbox
        self.stop_event = stop_event
        self.stats = CameraStats()
        self.frames: queue.Queue[Frame | None] = queue.Queue(maxsize=max(4, int(camera.fps * 4)))
        self.capture_thread = threading.Thread(target=self._capture_loop, name=f"capture-{camera.id}", daemon=True)
        self.process_thread = threading.Thread(target=self._process_loop, name=f"process-{camera.id}", daemon=True)
        self.source: FrameSource | None = None

    def start(self) -> None:
        self.capture_thread.start()
        self.process_thread.start()

    def join(self, timeout: float) -> None:
        self.capture_thread.join(timeout)
        self.process_thread.join(timeout)

    # -- capture -------------------------------------------------------------
    def _capture_loop(self) -> None:
        backoff = 0.5
        fps_window: deque[int] = deque(maxlen=30)
        try:
            while not self.stop_event.is_set():
                if self.source is None:
                    try:
                        self.source = open_source(self.camera)
                    except Exception as exc:  # a driver error must not end the detector
                        log.error("camera %s: cannot open (%s)", self.camera.id, exc)
                frame = None
                if self.source is not None:
                    try:
                        frame = self.source.read()
                    except EndOfSource:
                        log.info("camera %s: end of file %s", self.camera.id, self.camera.path)
                        self.stats.state = "ended"
                        break
                if frame is None:
                    if self.stats.state != "lost":
                        log.warning("camera %s: lost; reopening with backoff up to %.0f s", self.camera.id, REOPEN_MAX_S)
                    self.stats.state = "lost"
                    if self.stop_event.wait(backoff):
                        break
                    backoff = min(backoff * 2, REOPEN_MAX_S)
                    if self.source is not None:
                        reopen = getattr(self.source, "open", None)
                        if reopen is not None and reopen():
                            log.info("camera %s: reopened", self.camera.id)
                    continue
                backoff = 0.5
                if self.stats.state in ("starting", "lost"):
                    self.stats.state = "ok"
                fps_window.append(frame.time_ns)
                if len(fps_window) > 1:
                    self.stats.fps = (len(fps_window) - 1) * 1e9 / max(1, fps_window[-1] - fps_window[0])
                self.stats.frames += 1
                try:
                    self.frames.put(frame, timeout=2.0)
                except queue.Full:
                    self.stats.dropped += 1
                    log.warning("camera %s: processing is behind; dropped a frame", self.camera.id)
        finally:
            if self.source is not None:
                self.source.close()
            self.frames.put(None)  # tells the processing thread to finish

    # -- processing ----------------------------------------------------------
    def _process_loop(self) -> None:
        detector = RunningAverageMotion(self.motion_cfg)
        clock = EventClock(int(self.recording.post_roll_s * 1e9), int(self.recording.max_event_s * 1e9))
        pre_roll: deque[Frame] = deque(maxlen=max(1, int(self.recording.pre_roll_s * self.camera.fps)))
        segment: OpenSegment | None = None
        event_id, seq, best_area, snapshots, last_snapshot_ns = "", 0, 0.0, 0, 0
        dark, next_dark_check = False, 0
        while True:
            frame = self.frames.get()
            if frame is None:
                break
            if dark and not clock.recording and frame.time_ns < next_dark_check:
                pre_roll.append(frame)
                continue
            result = detector.detect(frame.image)
            now_dark = result.brightness < self.motion_cfg.dark_threshold
            if now_dark != dark:
                dark = now_dark
                log.info("camera %s: %s dark mode (brightness %.1f)", self.camera.id,
                         "entering" if dark else "leaving", result.brightness)
                self.stats.state = "dark" if dark else "ok"
            if dark:
                next_dark_check = frame.time_ns + int(self.motion_cfg.dark_interval_s * 1e9)
            action = clock.step(frame.time_ns, result.motion)
            try:
                if action is Action.START:
                    event_id, seq, best_area, snapshots = protocol.new_message_id(), 0, result.area_fraction, 1
                    last_snapshot_ns = frame.time_ns
                    self.stats.events += 1
                    self.stats.last_event_ms = frame.time_ns // 1_000_000
                    log.info("camera %s: motion, event %s starts (area %.3f)", self.camera.id, event_id, result.area_fraction)
                    self._snapshot(frame, event_id, result, 0)
                    segment = self._new_segment(frame)
                    for old in pre_roll:
                        segment.write(old)
                    pre_roll.clear()
                    segment.write(frame)
                elif action is Action.CONTINUE and segment is not None:
                    if (result.motion and result.area_fraction > best_area * 1.5 and snapshots < MAX_SNAPSHOTS
                            and frame.time_ns - last_snapshot_ns >= SNAPSHOT_GAP_NS):
                        # A clearly larger view of the intruder is worth another instant upload.
                        self._snapshot(frame, event_id, result, snapshots)
                        best_area, snapshots, last_snapshot_ns = result.area_fraction, snapshots + 1, frame.time_ns
                    if segment.duration_ns >= self.recording.segment_s * 1e9:
                        self._finish(segment, event_id, seq, final=False)
                        seq += 1
                        segment = self._new_segment(frame)
                    segment.write(frame)
                elif action is Action.END:
                    if segment is not None:
                        self._finish(segment, event_id, seq, final=True)
                        log.info("camera %s: event %s ended after %d segment(s)", self.camera.id, event_id, seq + 1)
                    segment = None
                    pre_roll.append(frame)
                else:
                    pre_roll.append(frame)
            except Exception:
                log.exception("camera %s: recording failed; continuing", self.camera.id)
                segment = None
        if segment is not None:
            self._finish(segment, event_id, seq, final=True)
            log.info("camera %s: flushed the open segment at shutdown", self.camera.id)

    def _new_segment(self, frame: Frame) -> OpenSegment:
        height, width = frame.image.shape[:2]
        fps = self.source.fps if self.source is not None else self.camera.fps
        return OpenSegment(self.outbox, self.recording, width, height, fps)

    def _finish(self, segment: OpenSegment, event_id: str, seq: int, final: bool) -> None:
        segment.encoder.close()
        data_size = segment.path.stat().st_size
        digest = hashlib.sha256()
        with open(segment.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        header = protocol.make_header(
            "segment", camera=self.camera.id, event=event_id, seq=seq, final=final,
            start_ms=segment.start_ns // 1_000_000, end_ms=segment.end_ns // 1_000_000,
            frames=segment.frames, fps=float(segment.fps), width=segment.width, height=segment.height,
            container="mp4", codec=segment.encoder.codec, content_type="video/mp4",
            size=data_size, sha256=digest.hexdigest(),
        )
        header["id"] = segment.id
        self.outbox.commit_file(header, segment.path)

    def _snapshot(self, frame: Frame, event_id: str, result: MotionResult, number: int) -> None:
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, self.recording.snapshot_quality])
        if not ok:
            log.error("camera %s: JPEG encoding failed", self.camera.id)
            return
        payload = jpeg.tobytes()
        height, width = frame.image.shape[:2]
        header = protocol.make_header(
            "snapshot", camera=self.camera.id, event=event_id, width=width, height=height,
            seq=number, content_type="image/jpeg", boxes=[list(b) for b in result.boxes],
            motion_area=round(result.area_fraction, 4), **protocol.payload_fields(payload),
        )
        header["time_ms"] = frame.time_ns // 1_000_000
        self.outbox.commit_bytes(header, payload)

