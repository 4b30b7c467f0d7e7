"""One camera's pipeline: the stages, wired and supervised.

    source ─► capture ─► FrameBuffer (every frame, for recording) ─► record ─► outbox
                 │                                                     ▲ start/end
                 └─► detection queue (bounded) ─► detect ──────────────┘
                                                    └─► snapshots ─► outbox

The recorder is chosen per camera once its source has opened: a source that
delivers encoded video it can pass through (``AvSource.mode``) puts its
packets in the buffer and the ``PassthroughStage`` remuxes them; anything else
puts frames there and the ``RecordStage`` encodes them. With a ``detect_path``
the recorded stream has its own loop (``PacketCaptureStage``) and capture
decodes only the detection stream.

Each stage is a small class in its own module with a ``run(loop)``; this
module only builds them, starts their loops under a ``Supervisor`` (restart
with backoff, heartbeats) and reports the camera's health. Writes go through
one ``DiskWrites`` per camera, which steps recording down when the disk is
full and back up when it is not.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from quickcam.common.config import CameraConfig
from quickcam.common.protocol_schema import FAULT_MAX, error_text
from quickcam.detector.console.hooks import PipelineHooks
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline.capture import CaptureStage, Lost, Undecoded, redacted
from quickcam.detector.pipeline.detect import DetectStage
from quickcam.detector.pipeline.disk import FULL, DiskWrites
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.packet_capture import PacketCaptureStage
from quickcam.detector.pipeline.passthrough import PassthroughStage
from quickcam.detector.pipeline.record import Command, RecordStage
from quickcam.detector.pipeline.stats import CameraStats
from quickcam.detector.pipeline.supervise import Loop, Supervisor
from quickcam.detector.sources import Frame, FrameSource, make_source

log = logging.getLogger(__name__)

DETECT_QUEUE_S = 0.5  # detection may lag capture by this much before frames are dropped for it
DETECT_SLACK_NS = 2_000_000_000  # pre-roll kept beyond pre_roll_s, for detection lag
STALL_FRAMES = 3  # a loop that has not beaten for this many frame intervals is stalled
CAPTURE_LOOPS = ("capture", "recorded stream")  # the loops that read a source: may be stuck in a read

SourceFactory = Callable[[CameraConfig], FrameSource]


def _source_name(camera: CameraConfig) -> str:
    """The camera's source as a log line shows it: its path or URL (without a password), or its device."""
    return redacted(camera.path) if camera.path else f"{camera.source} {camera.index}"


class CameraPipeline:
    """Everything one camera does, in three supervised loops; nothing raises out of them.

    ``source_factory`` makes the (unopened) source; tests pass fakes. ``hooks`` are where the
    console meets the stages (live tap, run-time zones, low-power governor); the defaults do nothing.
    """

    def __init__(self, camera: CameraConfig, outbox: Outbox, stop_event: threading.Event,
                 source_factory: SourceFactory = make_source, hooks: PipelineHooks | None = None) -> None:
        self.camera, self.outbox, self.stop_event = camera, outbox, stop_event
        self.stats = CameraStats()
        self.source: FrameSource = source_factory(camera)
        fps = max(1.0, camera.fps)
        recording = camera.recording
        detect_queue: queue.Queue[Frame | Lost | Undecoded | None] = queue.Queue(
            maxsize=max(2, round(fps * DETECT_QUEUE_S)))
        commands: queue.Queue[Command] = queue.Queue()
        # an event starts at the last look without motion at the latest (``DetectStage._first_pre_roll_ns``)
        idle_look_s = 1 / camera.motion.idle_detect_fps if camera.motion.idle_detect_fps else 0.0
        self.buffer = FrameBuffer(int(max(recording.pre_roll_s, idle_look_s) * 1e9) + DETECT_SLACK_NS,
                                  int(recording.buffer_max_s * 1e9), self.source.live, camera.id)
        self.disk = DiskWrites(camera.id, outbox)
        source_fps = lambda: self.source.fps  # noqa: E731 - known once the source is open
        hooks = hooks or PipelineHooks()  # console: live tap, run-time zones, low-power governor
        self.capture = CaptureStage(camera, self.source, self.buffer, detect_queue, self.stats, stop_event,
                                    hooks.tap)
        self.capture.recording_ok = lambda: self.disk.rung == FULL
        self.detect = DetectStage(camera, detect_queue, self.buffer, commands, self.disk, self.stats, source_fps,
                                  hooks.zones, hooks.governor)
        detected_until = lambda: self.detect.detected_until_ns  # noqa: E731
        if hasattr(self.source, "every_frame"):  # *_keyframes_only: detection says when it needs every frame
            self.source.every_frame = self.detect.wants_every_frame
        elif camera.idle_keyframes_only or camera.event_keyframes_only:
            log.info("camera %s: idle_keyframes_only / event_keyframes_only ignored: a %s source delivers no "
                     "encoded video to skip (they are for streams recorded by passthrough)", camera.id, camera.source)
        self.record = RecordStage(camera, outbox, self.buffer, commands, self.disk, detected_until, source_fps,
                                  stop_event)
        self.record_source: Any = self.source
        self.packet_capture: PacketCaptureStage | None = None
        if camera.detect_path and hasattr(self.source, "take_packets"):
            from quickcam.detector.av_source import AvSource

            self.record_source = AvSource(camera, camera.path, decode=False)
            self.capture.record_source = self.record_source
            self.packet_capture = PacketCaptureStage(camera, self.record_source, self.buffer, stop_event,
                                                     detected_until, lambda: not self.detect.finished)
            self.detect.recorded_away = lambda: bool(self.packet_capture and self.packet_capture.fault)
            if hasattr(self.source, "every_frame"):  # the substream's pictures are recorded unless path passes through
                self.source.every_frame = self._substream_every_frame
        self.passthrough = PassthroughStage(camera, outbox, self.buffer, commands, self.disk, detected_until,
                                            lambda: self.record_source.fps, stop_event,
                                            stream_info=lambda: self.record_source.info)
        self.chosen: RecordStage | None = None
        self.staged_at_exit = 0  # segments whose commit the stop's end cut short: in staging for the next start
        if camera.record == "passthrough" and not hasattr(self.source, "take_packets"):
            log.warning("camera %s: re-encoding instead of passing the camera's video through: a %s source "
                        "delivers no encoded video (passthrough is for file and stream sources)", camera.id,
                        camera.source)
        self.supervisor = Supervisor(f"camera {camera.id}")
        stall_s = STALL_FRAMES / fps
        self.supervisor.add("capture", self.capture.run, stall_s)
        if self.packet_capture is not None:
            self.supervisor.add("recorded stream", self.packet_capture.run, stall_s)
        self.supervisor.add("detection", self.detect.run, stall_s)
        self.supervisor.add("recording", self._recording, stall_s)

    def _substream_every_frame(self) -> bool:
        """With a ``detect_path``, every frame while ``path`` is not (yet) recorded by passthrough: the substream's
        pictures are then the footage (keyframes only would record one picture a GOP), else detection's say."""
        return getattr(self.record_source, "mode", None) != "passthrough" or self.detect.wants_every_frame()

    @property
    def recorder(self) -> RecordStage:
        """The passthrough recorder once the recorded source says it can be passed through, else re-encoding.

        Chosen once: the passthrough recorder also re-encodes the frames of a
        source that gave up passthrough later (its keyframes stopped coming).
        """
        if self.chosen is not None:
            return self.chosen
        return self.passthrough if getattr(self.record_source, "mode", None) == "passthrough" else self.record

    def _recording(self, loop: Loop) -> None:
        """The recording loop: waits until the recorded source has opened, then runs the chosen recorder."""
        while getattr(self.record_source, "mode", "reencode") is None and not self.stop_event.is_set():
            loop.beat()  # nothing can be recorded before the source opens: no frame, no event
            if self.detect.finished:
                break
            self.stop_event.wait(0.05)
        self.chosen = self.recorder
        self.chosen.run(loop)

    def start(self) -> None:
        self.supervisor.start()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the loops to end; not for a capture given up (``give_up_capture``)."""
        self.supervisor.join(timeout, skip=CAPTURE_LOOPS if self.detect.capture_gone.is_set() else ())

    def join_recording(self, timeout: float) -> None:
        """Wait up to ``timeout`` more for the recording loop alone (its last commit on a slow disk, at a stop)."""
        self.supervisor.join(timeout, skip=tuple(name for name in self.supervisor.loops if name != "recording"))

    def not_recorded(self) -> int:
        """Frames of this camera not recorded since start: refused by the disk, dropped behind, or recorded away."""
        return self.disk.unrecorded + self.buffer.dropped + self.stats.recorded_away

    def recording_left(self) -> str:
        """At the stop's end with the recording loop still running: what becomes of the segment it holds, in words.

        One still being written is lost with the process: counted in ``not_recorded`` here, before the last status.
        One whose commit has begun is committed by the next start (its header waits beside it in staging).
        """
        words, lost = self.recorder.left_at_exit()
        if lost:
            self.disk.not_recorded(lost)
            self.recorder.left_out_at_stop += lost
        elif words:
            self.staged_at_exit += 1
        return words

    def capture_ended(self) -> bool:
        """Whether the loops that read the camera (capture, and a recorded stream's) have ended."""
        return all(loop.thread is None or not loop.thread.is_alive()
                   for name, loop in self.supervisor.loops.items() if name in CAPTURE_LOOPS)

    def give_up_capture(self, waited_s: float) -> None:
        """At the detector's stop, for a capture still running ``waited_s`` after it: stuck in a read that does not
        return (a stream or a disk that stopped answering).

        Its end marker would never reach detection, so neither the running event's end nor the recorder's
        stop would come, and the open segment was lost with the process (left in staging, swept at the next
        start). Detection finishes without it once the frames handed over are looked at: the event closes
        at the last of them and the recorder commits its open segment as the final one. The native detector
        does the same (``give_up_capture`` in camera.cpp).
        """
        log.warning("camera %s: capture has not ended %.1f s after the stop (a read from %s that does not return); "
                    "recording stops without it (the frames handed over are recorded, the running event closed at "
                    "the last of them)", self.camera.id, waited_s, _source_name(self.camera))
        self.detect.capture_gone.set()

    def left_behind(self) -> list[str]:
        """The loops whose threads are still running: at the end of the stop, given up (the process ends)."""
        return [name for name, loop in self.supervisor.loops.items()
                if loop.thread is not None and loop.thread.is_alive()]

    @property
    def finished(self) -> bool:
        return self.supervisor.finished

    def _capture_failure_once(self, problems: dict[str, str], now: float) -> str:
        """Why the camera is blind, naming a capture loop failure once (its count from the loop's problem).

        Blind because the capture loop threw, the fault said it twice for ``RECENT_FAILURE_S``:
        ``capture loop failed (X); capture loop failing (X; 1 failure(s) so far)``. The loop's
        problem is dropped from ``problems`` then, and its count joins the camera's own words.
        """
        lost_why, capture = self.stats.lost_why, self.supervisor.loops.get("capture")
        if capture is None or not capture.recently_failed(now):
            return lost_why
        if lost_why != f"capture loop failed ({capture.last_error})":  # blind for another reason
            return lost_why
        problems.pop("capture", None)
        return f"capture loop failed ({capture.last_error}; {capture.errors} failure(s) so far)"

    def _recorded_fault(self) -> str:
        """With a ``detect_path``: ``path`` lost or not opening (detection goes on, events are not recorded)."""
        return self.packet_capture.fault if self.packet_capture is not None else ""

    def _damaged_packets(self) -> tuple[int, str]:
        """Packets the detection source's decoder found damaged since start, and its open streak in words ('' when
        none is open: ``damaged_packets.py``); 0 and '' for a source that decodes nothing itself (demo, OpenCV's)."""
        damaged = getattr(self.source, "damaged", None)
        return (damaged.count, damaged.fault()) if damaged is not None else (0, "")

    def _behind_fault(self) -> str:
        """The recorder's lag once it is past half of ``buffer_max_s`` (``FrameBuffer.behind_say_ns``), else ''.

        Said as a fault, the camera ``degraded``: the health check fails once it lasts ``HEALTH_GRACE_S``.
        """
        behind = self.buffer.behind_ns()
        if behind <= self.buffer.behind_say_ns:
            return ""
        return (f"recording {behind / 1e9:.0f} s behind the camera (the encoder is too slow for it: frames waiting "
                f"over recording.buffer_max_s = {self.buffer.max_ns / 1e9:.0f} s are dropped and counted)")

    def _rate_judged(self) -> bool:
        """Whether delivering well under the declared rate says something now (detector/pipeline/delivery_rate.py):
        a live source, not in dark mode, every frame decoded."""
        return (bool(getattr(self.source, "live", False)) and not self.stats.dark
                and not (self.camera.idle_keyframes_only or self.camera.event_keyframes_only))

    def status(self) -> dict[str, Any]:
        """The camera's status: counters, and a state that is never ``ok`` while something is wrong.

        ``fault`` says what is wrong in words ('' when nothing is); ``loops``
        gives each loop's health (running, errors, seconds since its last beat). A camera
        that delivers frames but cannot see (``view`` blocked, moved or frozen: the view
        guard), or whose stream is damaged (an open streak of ``damaged_packets``), is
        ``degraded``, its fault first.
        """
        now = time.monotonic()
        opening_s = self.stats.slow_open_s(now)  # an open that does not return leaves the camera "starting"
        status = self.stats.as_status()
        state = self.stats.state
        problems = {} if state == "ended" else {name: loop.problem(now) for name, loop in self.supervisor.loops.items()}
        lost_why = self._capture_failure_once(problems, now) if state in ("failing", "lost") else self.stats.lost_why
        problems = {name: problem for name, problem in problems.items() if problem}
        # running, but blind (the view guard), partly blind (a damaged stream: its pictures not analysed; a lost
        # camera is said as lost instead) or recording less
        damaged, damaged_fault = self._damaged_packets()
        slow = self.capture.delivery.fault(self.source.fps, state == "ok" and self._rate_judged(), now)
        disk = "; ".join(filter(None, [self.stats.view_fault if state == "ok" else "",
                                       damaged_fault if state == "ok" else "", slow, self._recorded_fault(),
                                       self.disk.fault(), self._behind_fault()]))
        slow_open = (f"still opening after {opening_s:.0f} s (the open has not returned: a disk, device or server "
                     "that does not answer?)" if opening_s else "")
        if state in ("failing", "lost"):  # the camera itself: say that first
            fault = "; ".join(filter(None, [lost_why, slow_open, self.stats.open_error, self.stats.retrying,
                                            *problems.values()]))
        elif problems:
            fault = "; ".join(problems.values())
            state = "stalled" if all("stalled" in p for p in problems.values()) else "failing"
        elif disk:
            fault = disk
            state = "degraded" if state == "ok" else state
        else:
            fault = slow_open
        if disk and fault != disk:
            fault = f"{fault}; {disk}" if fault else disk
        # a configured part that is off (faces without a usable model, the H.264 encoder): said last, and not a
        # state of its own
        fault = "; ".join(filter(None, [fault, self.stats.faces_off, self.record.encoders.status_note()]))
        # one line (a source's path from the config may hold a line break), cut with an ellipsis when long
        status.update(state=state, fault=error_text(fault, FAULT_MAX), write_failures=self.disk.failed,
                      not_recorded=self.not_recorded(),
                      snapshots_replaced=self.disk.replaced,
                      damaged_packets=damaged,
                      loops={name: loop.as_status() for name, loop in self.supervisor.loops.items()})
        mode = getattr(self.record_source, "mode", "reencode")
        if mode:
            status["recorder"] = mode
        return status
