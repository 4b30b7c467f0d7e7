"""The record stage: the event's frames from the FrameBuffer into segment files in the outbox.

It takes commands from the detect stage, in order: ``start`` (with the first
pre-roll time), ``end``, ``stop``. An event is finished (its last segment
committed as ``final``) before the next event's ``start`` is read, so a slow
recorder never files one event's frames under the next. It never writes past
what detection has seen (``detected_until``), so the end of an event is known
before its frames are written.

Writing goes through ``DiskWrites``: on a full disk it records reduced, then
snapshots only, and back to full when the disk takes writes again.

Other recorders (e.g. passthrough of the camera's own packets) are other
classes with the same ``run(loop)`` taking the same commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from quickcam.common import protocol
from quickcam.common.config import CameraConfig
from quickcam.common.said_every import SaidEvery
from quickcam.detector.encoders import EncoderChoice, SegmentEncoder
from quickcam.detector.faces import Box
from quickcam.detector.outbox import MAX_REDUCED_SEGMENT_S, Outbox, SegmentFormat, budget_format
from quickcam.detector.pipeline.disk import FULL, REDUCED, SNAPSHOTS_ONLY, DiskWrites, disk_error
from quickcam.detector.pipeline.frames import TAKE_MAX, FrameBuffer
from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.sources import Frame

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.2
# A stop gives a live camera's recorder this long from the signal to record what it holds (the cameras have
# CAMERA_JOIN_S = 10 s, the last segment's close included). A backlog the encoder cannot write in time is
# recorded at a reduced frame rate; what is still waiting at the end is counted and said, the segment committed.
STOP_RECORD_S = 7.0
STOP_CLOSE_S = 1.5  # of it, kept for the last segment's close (an encoder's delayed frames, a slow disk)
RATE_FRAMES = 30  # the encoder's rate is measured over its last this many frames
RATE_AFTER_STOP_S = 1.0  # ... the reduced rate chosen this long after the stop
STOP_MARGIN = 0.75  # of the frames the encoder could write in the time left, plan this share


@dataclass
class EventFaces:
    """Face boxes seen during an event, for the segment headers (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[tuple[int, list[int]]] = field(default_factory=list)  # (time_ns, box)

    def add(self, time_ns: int, boxes: list[Box]) -> None:
        with self.lock:
            self.seen.extend((time_ns, list(box)) for box in boxes)

    def between(self, start_ns: int, end_ns: int) -> list[dict]:
        with self.lock:
            return [{"time_ms": t // 1_000_000, "box": box} for t, box in self.seen if start_ns <= t <= end_ns]


@dataclass
class EventSnapshots:
    """One event's snapshots: made (written, or held in memory by a full disk) and failed.

    The detect stage counts them; the recorder reads them when the event is done, to say truly
    what is left of an event none of whose segments was recorded (it said "its snapshots are
    kept" when every one had failed too). The detect stage queues an event's end after its last
    snapshot, so the queue orders the counts before that read.
    """

    kept: int = 0
    failed: int = 0

    def words(self) -> str:
        """What is kept of an event with no segment, in words (the native recorder says the same)."""
        if not self.failed:
            return f"its {self.kept} snapshot(s) are kept" if self.kept else "it has no snapshot: nothing of it is kept"
        if self.kept:
            return f"{self.kept} of its snapshot(s) are kept, {self.failed} failed"
        return f"its {self.failed} snapshot(s) failed too: nothing of it is kept"


def unrecorded_words(lost: int, refused: int) -> str:
    """Why ``lost`` frames of an event were not recorded, ``refused`` of them by the disk (the native's words too)."""
    if refused >= lost:
        return "the disk refused them"
    if not refused:
        return "lost to the failures logged above"
    return f"the disk refused {refused}, the others were lost to the failures logged above"


@dataclass
class Command:
    """From the detect stage to the record stage."""

    kind: str  # start, end, stop
    event_id: str = ""
    time_ns: int = 0
    faces: EventFaces | None = None
    lost: bool = False  # end: the camera was lost, the event ends at its last frame
    snapshots: EventSnapshots | None = None  # start: the event's snapshots, counted by the detect stage


class Segment:
    """What every segment file being written in the staging area has, whatever writes it (encoder or remuxer)."""

    id: str
    path: Path
    encoder: Any  # has close()
    frames: int
    start_ns: int
    end_ns: int
    fps: float

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns + int(1e9 / self.fps)

    def abandon(self) -> None:
        """Give up this segment (its write failed): close what can be closed, free its disk space."""
        try:
            self.encoder.close()
        except Exception as exc:  # the encoder is already broken; the file goes anyway
            log.debug("closing a failed segment's encoder: %s", exc)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # gone with its folder (or a file there)
            self.path.unlink()


class OpenSegment(Segment):
    """A segment file being encoded in the outbox's staging area."""

    def __init__(self, outbox: Outbox, encoders: EncoderChoice, chosen: SegmentFormat) -> None:
        self.id = protocol.new_message_id()
        self.path = outbox.staging_path(f"{self.id}.mp4")
        width, height, fps = chosen.width, chosen.height, chosen.fps
        self.encoder: SegmentEncoder = encoders.open(self.path, width, height, fps)
        self.width, self.height, self.fps = width, height, fps
        self.max_ns = int(chosen.seconds * 1e9)
        self.frames = 0
        self.start_ns = self.end_ns = 0
        self.gap_ns = int(1e9 / fps) if chosen.reduced else 0  # reduced: one frame per gap
        self.next_ns = 0
        self.forced_reduced = False  # reduced because the disk refused a full one (not by the budget)

    def write(self, frame: Frame) -> None:
        if self.gap_ns:
            if self.frames and frame.time_ns < self.next_ns:
                return
            # Keep the cadence; after a hole in the source, restart it from this frame.
            on_time = self.frames and frame.time_ns - self.next_ns < self.gap_ns
            self.next_ns = (self.next_ns if on_time else frame.time_ns) + self.gap_ns
        if self.frames == 0:
            self.start_ns = self.end_ns = frame.time_ns
        decoded = frame.yuv()
        if (decoded is not None and hasattr(self.encoder, "write_decoded")
                and (frame.width, frame.height) == (self.width, self.height)):
            self.encoder.write_decoded(decoded)  # from the decoder's YUV, never through BGR
        else:
            image = frame.bgr()
            if (image.shape[1], image.shape[0]) != (self.width, self.height):
                image = cv2.resize(image, (self.width, self.height))  # a stream changed size mid-event
            self.encoder.write(image)
        # first and last times, as passthrough.py has them: a time that went back (a source's fault) must not
        # make a header that ends before it starts, which the link refuses (the footage kept in outbox/refused)
        self.start_ns, self.end_ns = min(self.start_ns, frame.time_ns), max(self.end_ns, frame.time_ns)
        self.frames += 1


def _clock(time_ns: int) -> str:
    """A frame's time as the log says it (local, to the second)."""
    return time.strftime("%H:%M:%S", time.localtime(time_ns / 1e9))


def _deleted(exc: BaseException, path: Path) -> bool:
    """Whether ``exc`` is a segment's file (or its folder) deleted under it: the outbox removed by hand.

    ``Outbox.ensure_folders`` makes the folders again; this segment alone is lost, said in one line.
    """
    return isinstance(exc, (FileNotFoundError, NotADirectoryError)) and not path.exists()  # or a file in its place


class RecordStage:
    """Encodes each event's frames into segments; its state survives a restart of its loop."""

    thins_at_stop = True  # a stop's backlog may be recorded at a reduced rate (not packets: they need their GOP)

    def __init__(self, camera: CameraConfig, outbox: Outbox, buffer: FrameBuffer, commands: queue.Queue[Command],
                 disk: DiskWrites, detected_until: Callable[[], int], fps: Callable[[], float],
                 stop_event: threading.Event | None = None) -> None:
        self.camera, self.recording = camera, camera.recording
        self.stop_event = stop_event or threading.Event()  # the detector's stop: the time left starts with it
        self.outbox, self.buffer, self.commands, self.disk = outbox, buffer, commands, disk
        self.detected_until, self.fps = detected_until, fps
        self.event_id, self.from_ns, self.end_ns, self.seq, self.last_index = "", 0, None, 0, -1
        self.faces: EventFaces | None = None
        self.segment: OpenSegment | None = None
        self.recording_event, self.stopping = False, False
        self.camera_lost = False  # the event ends because the camera was lost
        self.lost_frames = 0  # frames of an event not recorded (disk refused them, or the encoder failed)
        self.refused_frames = 0  # of those, the ones the disk refused
        self.snapshots = EventSnapshots()  # the event's, as the detect stage counts them
        self.encoders = EncoderChoice(camera.id, camera.recording.encoder)  # the fallback said once, in status
        self.stop_by = 0.0  # (monotonic) once told to stop: when what is still waiting is given up
        self.stop_fps = 0.0  # at a stop with a backlog: the reduced rate it is recorded at (0: every frame)
        self.thinned = 0  # frames of that backlog not recorded at the reduced rate (counted in not_recorded)
        self.written: deque[float] = deque(maxlen=RATE_FRAMES)  # (monotonic) when the last frames were written
        self.closing: Segment | None = None  # the segment being closed and committed (said if the stop ends first)
        self.left_out_at_stop = 0  # frames a stop did not record (its time ran out, or its reduced rate left them)
        self.encoder_retried = 0  # of the event, frames an encoder failed on, written into a new segment
        # A write failing on every frame for a cause that is no disk's (its folder deleted for good, with the one the
        # detector runs in): it was a line with a traceback a frame, 231 in 20 s (FINDINGS #55, cwd_gone.py)
        self.failed_said = SaidEvery()

    def run(self, loop: Loop) -> None:
        while True:
            loop.beat()
            self.disk.recover()
            if self._step(loop):
                self.disk.stop()
                return

    def _next_command(self, wait: bool) -> Command | None:
        try:
            if not self.recording_event:
                return self.commands.get(timeout=IDLE_WAIT_S) if wait else self.commands.get_nowait()
            if self.end_ns is None and not self.stopping:  # only this event's end (or stop) can come now
                return self.commands.get_nowait()
        except queue.Empty:
            pass
        return None

    def _step(self, loop: Loop) -> bool:
        """One round: commands, then the frames detection has seen. True when told to stop and done."""
        # Read how far detection has looked *before* its commands: it queues an event's end before it
        # moves past it, so every end up to ``seen`` is in the queue now and no later frame is filed
        # under the event (a file analysed fast may be far ahead of the recorder).
        seen = self.detected_until()
        command = self._next_command(wait=True)
        while command is not None:
            if command.kind == "stop":
                self.stopping = True
                if not self.recording_event:
                    return True
            elif command.kind == "start":
                self.event_id, self.from_ns, self.end_ns, self.seq = command.event_id, command.time_ns, None, 0
                self.faces, self.recording_event = command.faces, True
                self.snapshots = command.snapshots or EventSnapshots()
                self.written.clear()  # the encoder's rate is this event's (not across the idle time before it)
                log.debug("camera %s: recording event %s", self.camera.id, self.event_id)
            elif command.kind == "end":
                self.end_ns, self.camera_lost = command.time_ns, command.lost
            command = self._next_command(wait=False)
        if not self.recording_event:
            return False
        if self.end_ns is None and self.stopping:
            self.end_ns = seen + 1  # told to stop with no end: the event ends with what was seen
        limit = seen if self.end_ns is None else min(self.end_ns - 1, seen)
        if self.stop_event.is_set() and self.buffer.live and self._out_of_time(limit):
            self._event_done()
            return self.stopping  # (else an event queued behind this one is given up and counted next)
        # at a stop one at a time: the time left is looked at between frames (a batch is seconds of a slow encoder)
        most = 1 if self.stop_event.is_set() else TAKE_MAX
        frames = self.buffer.take(self.last_index, limit, timeout=0.05, most=most)
        for frame in frames:
            loop.beat()
            if self.stop_event.is_set() and not self.stop_by:  # the time left starts now, not after this batch
                self.stop_by = time.monotonic() + STOP_RECORD_S
            if frame.time_ns < self.from_ns:
                continue  # older than the pre-roll
            self.last_index = frame.index
            self._record(frame)
        if self.end_ns is not None and (seen >= self.end_ns - 1 or self.stopping) and not frames:
            self._event_done()
            return self.stopping
        return False

    def _out_of_time(self, limit: int) -> bool:
        """At a stop: whether the time is up; before that, the rate the backlog fits in it at (``stop_fps``).

        The process ends at its stop's bound whatever the recorder holds: a recorder still encoding
        then lost its open segment and its whole backlog, unsaid (12 busy cameras on 2 cores: 20-26 s
        each). Now the backlog is recorded at the rate the encoder can write in the time left (measured
        over its last frames, a second after the stop), and at the end what is still waiting is counted
        and said, and the open segment committed.
        """
        now = time.monotonic()
        self.stop_by = self.stop_by or now + STOP_RECORD_S  # (seen within a few frames of the signal)
        waiting = [f for f in self.buffer.waiting(self.last_index, limit) if f.time_ns >= self.from_ns]
        if not waiting:
            return False
        if now >= self.stop_by - STOP_CLOSE_S:
            self._give_up(waiting)
            return True
        left_s = self.stop_by - STOP_CLOSE_S - now
        if not self.thins_at_stop or self.stop_fps or now - (self.stop_by - STOP_RECORD_S) < RATE_AFTER_STOP_S:
            return False
        # the encoder's rate over its last frames, the second after the stop among them (the CPU freed of capture
        # and detection); those alone were too bursty to go by (a disk that writes in 32 KB blocks)
        written = [*self.written, now] if len(self.written) > 1 else [self.stop_by - STOP_RECORD_S, now]
        rate = (len(written) - 2) / max(1e-3, written[-1] - written[0])
        span_s = max(1e-3, (waiting[-1].time_ns - waiting[0].time_ns) / 1e9)
        if len(waiting) <= rate * left_s * STOP_MARGIN:
            return False
        fps = self.fps() or self.camera.fps
        self.stop_fps = max(0.5, min(fps / 2, rate * left_s * STOP_MARGIN / span_s))
        log.warning("camera %s: stopping with %.1f s of event %s still to record (%d frame(s); the recorder was "
                    "behind); recorded at %.1f fps to fit the stop's time", self.camera.id, span_s, self.event_id,
                    len(waiting), self.stop_fps)
        self._close(final=False)  # the next segment at the reduced rate
        return False

    def _give_up(self, waiting: list[Any]) -> None:
        """The stop's time is up with ``waiting`` not recorded: counted, said with the seconds they span."""
        self.disk.not_recorded(len(waiting))
        self.lost_frames += len(waiting)
        self.left_out_at_stop += len(waiting)
        first, last = waiting[0].time_ns, waiting[-1].time_ns
        log.error("camera %s: the stop's time ran out with the recorder behind: the last %.1f s of event %s "
                  "(%s to %s, %d frame(s)) not recorded, counted in not_recorded; what was recorded is committed",
                  self.camera.id, (last - first) / 1e9 + 1 / (self.fps() or self.camera.fps), self.event_id,
                  _clock(first), _clock(last), len(waiting))

    def left_at_exit(self) -> tuple[str, int]:
        """At the process's exit with this recorder still running: what becomes of the segment it holds, in words,
        and the frames that are lost with it (0 when none, or when the next start commits it).

        A segment whose commit has begun has its header beside it in staging: the next start commits it
        (``Outbox._commit_left``). One still being written or closed is lost with the process.
        """
        segment = self.closing or self.segment
        if segment is None:
            return "", 0
        what = f"segment {self.seq} of event {self.event_id} ({segment.frames} frame(s))"
        if self.closing is not None and self.outbox.staged_header(segment.id).exists():
            return (f"{what} was still being committed (a disk that does not answer?): it stays in .staging/ with its "
                    "header and the next start commits it"), 0
        return f"{what} was still being written: lost, counted in not_recorded", segment.frames

    def _record(self, frame: Frame) -> None:
        if self._snapshots_only():
            return
        if self.segment is not None and self.segment.forced_reduced and self.disk.rung == FULL:
            self._close(final=False)  # the disk is back: full recording from this frame on
        before = self.segment
        written = before.frames if before is not None else 0
        self._write(frame, may_cut=True, anew=True,
                    failure="encoding failed (%d frame(s) of event %s lost); starting a new segment")
        kept = self.segment is not None and (self.segment is before or before is None)  # (not a failure's new one)
        if kept and self.segment.frames == written and self.stop_fps:
            self.thinned += 1  # left out by the stop's reduced rate
            self.left_out_at_stop += 1
            self.disk.not_recorded()
        else:
            self.written.append(time.monotonic())

    def _snapshots_only(self) -> bool:
        """On a disk down to snapshots only the open segment is closed and this frame counted as not recorded."""
        if self.disk.rung != SNAPSHOTS_ONLY:
            return False
        if self.segment is not None:
            self._close(final=False)
        self.disk.not_recorded()
        self.lost_frames += 1
        self.refused_frames += 1
        return True

    def _write(self, item: Any, may_cut: bool, failure: str, anew: bool = False) -> None:
        """Write a frame (or packet) into the open segment, cut when full if ``may_cut``.

        A failure loses only the open segment and this item: they are counted, and a
        disk error goes to ``DiskWrites`` (which steps down the ladder); anything else is
        logged with ``failure`` (a format taking the count lost and the event id). With
        ``anew`` (a frame, which any segment may start with) an encoder's failure loses
        nothing: ``_encoder_failed``.
        """
        try:
            if self.segment is None:
                self.segment = self._new_segment(item)
            elif may_cut and self.segment.duration_ns >= self.segment.max_ns:
                self._close(final=False)
                self.segment = self._new_segment(item)
            self.segment.write(item)
        except Exception as exc:
            if (anew and self.segment is not None and disk_error(exc) is None and not _deleted(exc, self.segment.path)
                    and self._encoder_failed(item, exc)):
                return
            segment, self.segment = self.segment, None
            lost = 1 + (segment.frames if segment is not None else 0)
            deleted = segment is not None and _deleted(exc, segment.path)
            if segment is not None:
                segment.abandon()
            self.lost_frames += lost
            error = disk_error(exc)
            if error is None:  # (a disk error is counted by segment_failed)
                self.disk.not_recorded(lost)
            if deleted:
                log.error("camera %s: %s was deleted while it was written (was the outbox deleted?); %d frame(s) "
                          "of event %s lost; starting a new segment", self.camera.id, segment.path, lost,
                          self.event_id)
            elif error is None and isinstance(exc, OSError):  # counted in not_recorded; said once a minute
                more = self.failed_said.said()
                if more is not None:
                    log.error("camera %s: " + failure + " (%s)%s", self.camera.id, lost, self.event_id, exc, more)
            elif error is None:
                log.exception("camera %s: " + failure, self.camera.id, lost, self.event_id)
            else:
                self.refused_frames += lost
                self.disk.segment_failed(error, lost, f"segment {self.seq} of event {self.event_id}")

    def _encoder_failed(self, frame: Frame, exc: Exception) -> bool:
        """The encoder failed on ``frame`` (libx264 under memory pressure: its open at a segment's first frame, or an
        encode): the segment's frames so far are committed, and the frame starts a new segment in the next encoder
        (mp4v after H.264). True when it is written there; False when that fails too (then counted as before).

        Before, the frame was lost, with every frame of the segment before it: under an address-space limit
        libx264 failed at one segment in a few, a frame lost each time (``tests/test_encoder_failure.py``).
        """
        failed = self.segment
        assert failed is not None
        self.encoders.failed(exc)
        if failed.frames:
            self._close(final=False)  # what it holds, committed (a failure here is counted and said by _close)
        else:
            self.segment = None
            failed.abandon()  # nothing in it
        try:
            self.segment = self._new_segment(frame)
            self.segment.write(frame)
            self.encoder_retried += 1
        except Exception as again:
            log.debug("camera %s: the next encoder failed too on the frame: %s", self.camera.id, again)
            if self.segment is not None and self.segment.frames == 0:
                self.segment.abandon()
                self.segment = None
            return False
        return True

    def _new_segment(self, frame: Frame) -> OpenSegment:
        width, height = frame.width, frame.height
        fps = self.fps() or self.camera.fps
        if self.stop_fps:  # a stop with a backlog: full size, the rate it fits the stop's time at
            rec = self.recording
            chosen = SegmentFormat(width, height, min(fps, self.stop_fps),
                                   max(rec.segment_s, min(MAX_REDUCED_SEGMENT_S, rec.segment_s * fps / self.stop_fps)),
                                   reduced=True)
        elif self.disk.rung == REDUCED:
            rec = self.recording  # the budget's reduced format, whatever the budget says now
            chosen = budget_format(width, height, fps, rec.segment_s, 1, 1, 0, rec.over_budget_fps)
        else:
            chosen = self.outbox.segment_format(width, height, fps, self.recording)
        segment = OpenSegment(self.outbox, self.encoders, chosen)
        segment.forced_reduced = self.disk.rung == REDUCED
        return segment

    def _close(self, final: bool) -> None:
        """Finish the open segment and hand it to the outbox; a failure loses only this segment."""
        segment, self.segment = self.segment, None
        if segment is None:
            return
        self.closing = segment
        try:
            self._close_segment(segment, final)
        finally:
            self.closing = None

    def _close_segment(self, segment: Segment, final: bool) -> None:
        try:
            header = self._finish(segment, final)
        except Exception as exc:
            segment.abandon()
            self.lost_frames += segment.frames
            error = disk_error(exc)
            if error is None:  # (a disk error is counted by segment_failed)
                self.disk.not_recorded(segment.frames)
            if _deleted(exc, segment.path):
                log.error("camera %s: segment %d of event %s was deleted from %s before it was closed (was the "
                          "outbox deleted?); %d frame(s) lost", self.camera.id, self.seq, self.event_id,
                          segment.path.parent, segment.frames)
            elif error is None:
                log.exception("camera %s: closing segment %d of event %s failed (%d frame(s) lost)",
                              self.camera.id, self.seq, self.event_id, segment.frames)
            else:
                self.refused_frames += segment.frames
                self.disk.segment_failed(error, segment.frames, f"segment {self.seq} of event {self.event_id}")
            return
        self.disk.commit_segment(header, segment.path)
        self.seq += 1

    def _finish(self, segment: OpenSegment, final: bool) -> dict:
        segment.encoder.close()
        data_size = segment.path.stat().st_size
        digest = hashlib.sha256()
        with open(segment.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        faces = self.faces.between(segment.start_ns, segment.end_ns) if self.faces is not None else []
        header = protocol.make_header(
            "segment", camera=self.camera.id, event=self.event_id, seq=self.seq, final=final,
            start_ms=segment.start_ns // 1_000_000, end_ms=segment.end_ns // 1_000_000,
            frames=segment.frames, fps=float(segment.fps), width=segment.width, height=segment.height,
            container="mp4", codec=segment.encoder.codec, content_type="video/mp4",
            size=data_size, sha256=digest.hexdigest(), faces=faces,
        )
        header["id"] = segment.id
        return header

    def _event_done(self) -> None:
        if self.segment is not None:
            self._close(final=True)
        if self.camera_lost:
            log.warning("camera %s lost during event %s; the event is closed at the last frame (%d segments)",
                        self.camera.id, self.event_id, self.seq)
        elif self.seq:
            why = unrecorded_words(self.lost_frames, self.refused_frames)
            lost = f"; {self.lost_frames} frame(s) not recorded ({why})" if self.lost_frames else ""
            if self.thinned:
                lost += (f"; its last part recorded at {self.stop_fps:.1f} fps to fit the stop's time "
                         f"({self.thinned} frame(s) left out, counted in not_recorded)")
            if self.encoder_retried:
                lost += (f"; the encoder failed on {self.encoder_retried} frame(s), each written into a new segment "
                         f"({self.encoders.failures} failure(s) since start)")
            log.info("camera %s: event %s recorded in %d segment(s)%s", self.camera.id, self.event_id, self.seq, lost)
        elif self.lost_frames:  # nothing of its footage: say what is left of it, truly
            level = logging.WARNING if self.snapshots.kept else logging.ERROR
            log.log(level, "camera %s: event %s: no segment recorded (%d frame(s) not recorded: %s); %s",
                    self.camera.id, self.event_id, self.lost_frames,
                    unrecorded_words(self.lost_frames, self.refused_frames), self.snapshots.words())
        else:
            log.warning("camera %s: event %s ended with no frame recorded", self.camera.id, self.event_id)
        self.segment, self.recording_event, self.faces, self.lost_frames = None, False, None, 0
        self.refused_frames, self.thinned, self.encoder_retried = 0, 0, 0
        self.camera_lost = False
        self.buffer.release(self.from_ns)
