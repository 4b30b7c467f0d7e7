"""The detect stage: motion on each frame, the event clock, snapshots, faces.

It tells the record stage where each event starts and ends (``Command``) and
how far it has looked (``detected_until_ns``). The onset snapshot is handed to
``DiskWrites`` before the ``start`` command, so it is committed before the
event's first segment. Its state (background model, event clock, the open
event) lives on the object, so a restart of its loop carries an event on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import replace

import cv2

from quickcam.common import protocol
from quickcam.common.config import CameraConfig
from quickcam.detector.console.governor import FullRate, Governor
from quickcam.detector.console.live_zones import ZoneBoard
from quickcam.detector.events import Action, EventClock
from quickcam.detector.faces import Box, FaceBudget, FaceConfirmer, open_face_detector, timed_faces
from quickcam.detector.motion import MotionDetector, MotionResult, create_detector
from quickcam.detector.pipeline.capture import Lost, Undecoded
from quickcam.detector.pipeline.dark import DarkMode
from quickcam.detector.pipeline.disk import DiskWrites
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.idle_rate import IdleRate
from quickcam.detector.pipeline.record import Command, EventFaces, EventSnapshots
from quickcam.detector.pipeline.stats import CameraStats
from quickcam.detector.pipeline.supervise import Loop
from quickcam.detector.pipeline.view_guard import ViewFault, ViewGuard
from quickcam.detector.sources import Frame
from quickcam.detector.zones import ZoneError

log = logging.getLogger(__name__)

MAX_SNAPSHOTS = 6  # per event
SNAPSHOT_GAP_NS = 1_000_000_000  # between "larger area" snapshots; a better face skips it
IDLE_WAIT_S = 0.2


class DetectStage:
    """Frames in, event commands and snapshots out."""

    def __init__(self, camera: CameraConfig, frames: queue.Queue[Frame | Lost | Undecoded | None], buffer: FrameBuffer,
                 commands: queue.Queue[Command], disk: DiskWrites, stats: CameraStats,
                 fps: Callable[[], float], zones: ZoneBoard | None = None, governor: Governor | None = None) -> None:
        self.camera, self.cfg, self.rec = camera, camera.motion, camera.recording
        # console: zones saved by the editor at run time, and the low-power rate
        self.zones = (zones or ZoneBoard()).watch(camera.id, camera.zones)
        self.governor = governor or FullRate()
        self.frames, self.buffer, self.commands, self.disk, self.stats = frames, buffer, commands, disk, stats
        self.fps = fps
        self.dark = DarkMode(camera.id, camera.motion)
        # a stuck encoder repeats its frame: watched on live sources only (a file may hold a still picture)
        self.guard = ViewGuard(watch_frozen=camera.source in ("camera", "stream"))
        self.clock = EventClock(int(self.rec.post_roll_s * 1e9), int(self.rec.max_event_s * 1e9),
                                int(self.rec.min_event_s * 1e9), self.cfg.trigger_frames)
        self.detector: MotionDetector | None = None
        self.faces_detector = None
        self.budget, self.confirmer = FaceBudget(camera.faces.budget_ms_per_s), FaceConfirmer()
        self.detected_until_ns = 0  # the recorder never writes past what detection has seen
        self.event_id, self.event_faces, self.event_snapshots = "", EventFaces(), EventSnapshots()
        self.snapshots, self.best_area, self.best_face, self.last_snapshot_ns = 0, 0.0, 0, 0
        self.relearning, self.last_ns = False, 0
        self.idle = IdleRate(self.cfg.idle_detect_fps)  # opt-in: fewer looks while nothing moves
        self.moving = False  # the last frame looked at showed motion
        self.quiet_look_ns = 0  # the last frame looked at without motion: motion began after it
        self.last_look_ns = 0  # the last frame looked at
        self.skipped = False  # frames came since the last look that were not looked at (``_frames_since_look``)
        self.onset_taken = False  # the running event's onset snapshot is taken (event_keyframes_only may skip)
        self.finished = False  # its source has ended and every event is closed
        # Set at the detector's stop when the capture loop is stuck in a read (``CameraPipeline.give_up_capture``):
        # its end marker may never come, so detection finishes once the frames it handed over are looked at.
        self.capture_gone = threading.Event()
        # With a detect_path: whether path (the recorded stream) is away now; an event's frames meanwhile are
        # counted as not recorded (``CameraStats.recorded_away``)
        self.recorded_away: Callable[[], bool] = lambda: False

    def wants_every_frame(self) -> bool:
        """Whether every frame must be decoded and looked at (asked by a source that can decode keyframes only).

        Always in the dark (a person there is found by averaging frames). While an event runs, keyframes
        only with ``event_keyframes_only`` once its onset snapshot is taken, while the last look showed
        motion and found no face (a face is confirmed by a second search within a second); a look
        without motion brings every frame back, so the end of the event (and a person the motion core
        missed on a keyframe) is found at the full rate, as without the option. While no event runs,
        keyframes only with ``idle_keyframes_only`` and no motion at the last look. A "no" means frames
        may be skipped before the next look: it is noted for the motion core's clocks (``_frames_since_look``).
        """
        every = self._every_frame()
        if not every:
            self.skipped = True
        return every

    def _every_frame(self) -> bool:
        if self.dark.dark:
            return True
        if self.clock.recording:
            sparse = self.camera.event_keyframes_only and self.onset_taken and self.moving
            return not sparse or bool(self.confirmer.previous)
        return self.moving or not self.camera.idle_keyframes_only

    def _setup(self, frame: Frame) -> MotionDetector:
        """The motion detector for this camera, made from its first frame's size.

        Zones are in picture pixels, so their mask is made at the picture's size (a decoder's
        luma may be shrunk); the motion core scales it to its own detection size.
        """
        width, height = frame.width, frame.height
        zone_mask = None
        try:
            zone_mask = self.zones.mask(width, height)
        except ZoneError as exc:
            log.error("camera %s: %s; watching the whole picture", self.camera.id, exc)
        self.detector = create_detector(self.cfg, fps=self.fps() or self.camera.fps, zone_mask=zone_mask)
        self.faces_detector, self.stats.faces_off = open_face_detector(self.camera.faces, self.camera.id)
        if self.faces_detector is not None:
            log.info("camera %s: faces by %s, at most %.0f ms a second, only where motion is", self.camera.id,
                     self.faces_detector.name, self.camera.faces.budget_ms_per_s)
        return self.detector

    def run(self, loop: Loop) -> None:
        while True:
            loop.beat()
            try:
                frame = self.frames.get(timeout=IDLE_WAIT_S)
            except queue.Empty:
                if self.capture_gone.is_set():
                    if self.clock.recording:
                        log.warning("camera %s: capture stuck at the stop during event %s; the event is closed at "
                                    "the last frame delivered", self.camera.id, self.event_id)
                    break
                continue
            if frame is None:
                break
            if isinstance(frame, Lost):
                self._lost()
                continue
            if isinstance(frame, Undecoded):  # read, not looked at: an event ending now keeps them
                self.last_ns = max(self.last_ns, frame.until_ns)
                self.skipped = True
                continue
            if self.clock.recording and self.recorded_away():  # (the native detector counts the same frames)
                self.stats.recorded_away += 1
            self.step(frame)
        if self.clock.recording:
            self.clock.recording = self.stats.recording = False
            self.commands.put(Command("end", self.event_id, self.last_ns + 1))
        self._detected(self.last_ns + 1)
        self.commands.put(Command("stop"))
        self.finished = True

    def step(self, frame: Frame) -> None:
        """Detection on one frame."""
        self.last_ns = frame.time_ns
        if frame.damaged:  # recorded, not analysed: ``_damaged``
            self._damaged(frame)
            return
        # opt-in dark_interval_s sampling only; by default every frame is looked at, in the dark too
        if ((self.detector is not None and self.detector.skip(frame.time_ns, self.clock.recording))
                or not self.governor.admit(self.camera.id, frame.time_ns)  # console: low power skips this frame
                or not self.idle.look(frame.time_ns, self.moving or self.clock.recording or self.dark.dark)):
            self.skipped = True
            self._detected(frame.time_ns)
            return
        if self.detector is not None and self.zones.changed():  # console: the zone editor saved new zones
            self.detector = create_detector(self.cfg, fps=self.fps() or self.camera.fps,
                                            zone_mask=self.zones.new_mask(frame.width, frame.height))
            log.info("camera %s: new zones applied (the background is learned again)", self.camera.id)
        detector = self.detector or self._setup(frame)
        result = detector.detect(frame.image, self._frames_since_look(frame.time_ns))
        if frame.scale != 1:  # a decoder's shrunk luma: boxes in picture pixels
            result = replace(result, boxes=[tuple(v * frame.scale for v in box) for box in result.boxes])
        self.dark.update(result)
        self.stats.dark = self.dark.dark
        blinded = self._watch_view(frame, detector)
        self._motion_between_looks(frame.time_ns, result.motion)
        self.moving = result.motion or result.person_waiting  # motion waiting for the person check counts
        self.last_look_ns = frame.time_ns
        if result.global_change != self.relearning:
            self.relearning = result.global_change
            if self.relearning:
                log.info("camera %s: the whole picture changed (%.0f%%): lighting, not motion; "
                         "re-learning the background", self.camera.id, result.area_fraction * 100)
        if not self.clock.recording:
            self.onset_taken = False
        action = self.clock.step(frame.time_ns, result.motion)
        if blinded is not None and action is Action.NONE and self.clock.begin(blinded.since_ns, frame.time_ns):
            action = Action.START  # the covering itself is evidence: its pre-roll is recorded
        if not result.motion:
            self.quiet_look_ns = frame.time_ns
        faces: list[Box] = []
        if result.motion and self.faces_detector is not None and self.clock.recording:
            found = timed_faces(self.faces_detector, self.budget, frame.gray(), result.boxes,
                                self.camera.faces.min_size_px, frame.time_ns)
            faces = self.confirmer.confirm(found, frame.time_ns)
        if action is Action.START:
            self._start(frame, result, faces, blinded)
        elif action is Action.CONTINUE and self.snapshots < MAX_SNAPSHOTS:
            face_area = max((w * h for _, _, w, h in faces), default=0)
            better_face = face_area > self.best_face * 1.2
            larger = (result.motion and result.area_fraction > self.best_area * 1.5
                      and frame.time_ns - self.last_snapshot_ns >= SNAPSHOT_GAP_NS)
            if better_face or larger:
                self._snapshot(frame, result, faces, self.snapshots)
                self.snapshots, self.last_snapshot_ns = self.snapshots + 1, frame.time_ns
                self.best_area = max(self.best_area, result.area_fraction)
                self.best_face = max(self.best_face, face_area)
        elif action is Action.END:
            log.info("camera %s: event %s ends", self.camera.id, self.event_id)
            self.stats.recording = False
            self.commands.put(Command("end", self.event_id, self.clock.end_ns))
        if faces and self.clock.recording:
            self.stats.faces += len(faces)
            self.event_faces.add(frame.time_ns, faces)
        self._detected(frame.time_ns)

    def _damaged(self, frame: Frame) -> None:
        """A damaged picture (flagged corrupt, or predicted from a damaged packet: ``damaged_packets.py``).

        Compared with the background its broken blocks were motion that was not there (a false event,
        an event held open, a snapshot of a broken picture) or hid motion that was; learnt, they stayed
        in the background. So it is not looked at at all: the motion core, the view guard and the
        event clock do not see it (a running event goes on and records it; its post-roll counts from
        the last motion seen). The next look counts the frames it skipped, and an event starting then
        reaches back to the last look without motion (``_first_pre_roll_ns``), so a walker who came in
        while the picture was broken is recorded from before.
        """
        self.skipped = True
        self._detected(frame.time_ns)

    def _frames_since_look(self, time_ns: int) -> int:
        """Source frames since the last look, for the motion core's clocks (``motion/looks.py``).

        1 whenever no frame was skipped since it (every frame looked at: the
        core runs exactly as it always has); after skipped or undecoded
        frames, or once the source was told keyframes only, the time since
        the last look in frames at the source's rate.
        """
        skipped, self.skipped = self.skipped, False
        if not skipped or not self.last_look_ns:
            return 1
        return max(1, round((time_ns - self.last_look_ns) * max(1.0, self.fps() or self.camera.fps) / 1e9))

    def _motion_between_looks(self, time_ns: int, motion: bool) -> None:
        """``event_keyframes_only``: a quiet look after a look with motion, a GOP later, counts the post-roll
        from just before itself: the motion seen at the last look may have gone on until then.

        Counted from the last look with motion, a GOP longer than ``post_roll_s`` would end the event
        at the first quiet keyframe, up to a post-roll before it would end with every frame looked at.
        """
        if not (self.camera.event_keyframes_only and self.clock.recording and self.moving) or motion:
            return
        frame_ns = int(1e9 / max(1.0, self.fps() or self.camera.fps))
        if time_ns - self.last_look_ns > frame_ns * 3 // 2:  # frames between the looks were not looked at
            self.clock.motion_until(time_ns - frame_ns)

    def _lost(self) -> None:
        """The camera is lost: the running event ends at the last frame received, so it is committed now.

        Waiting for frames would leave its open segment in staging for as long as the camera is
        gone (for ever if it was unplugged, or the detector is then killed). The background
        starts again from the first frame back (``MotionDetector.restart``): one frame
        not looked at, then detection learning fast for ``relearn_s``.
        """
        if self.clock.cut(self.last_ns + 1):
            self.stats.recording = False
            self.commands.put(Command("end", self.event_id, self.clock.end_ns, lost=True))
        self._detected(self.last_ns + 1)
        if self.detector is not None:  # what it learnt of the picture is stale when the camera comes back
            self.detector.restart()
            self.relearning = True  # a restart, not a change of light: said here, once
            log.info("camera %s: the background is learned again from the first frame back (detection from "
                     "the frame after it)", self.camera.id)

    def _watch_view(self, frame: Frame, detector: MotionDetector) -> ViewFault | None:
        """The view guard's look at detection's picture; the fault that just blinded the camera, if one did.

        Logged once on entering and once on leaving; the status carries the fault while it lasts.
        Blocked and moved start an event (``step``); a frozen picture has nothing new to record.
        """
        if detector.gray is None:
            return None
        started, ended = self.guard.look(detector.gray, frame.time_ns, getattr(frame.decoded, "key_frame", None))
        fault = self.guard.fault
        self.stats.view, self.stats.view_fault = (fault.kind, fault.text) if fault else ("ok", "")
        self.stats.view_faults = self.guard.episodes
        if ended is not None and started is None:
            log.info("camera %s: the view is back (%s for %.0f s)", self.camera.id, ended.kind,
                     (frame.time_ns - ended.since_ns) / 1e9)
        if started is None:
            return None
        log.warning("camera %s: %s", self.camera.id, started.text)
        return started if started.kind in ("blocked", "moved") else None

    def _start(self, frame: Frame, result: MotionResult, faces: list[Box], blinded: ViewFault | None = None) -> None:
        self.event_id, self.event_faces = protocol.new_message_id(), EventFaces()
        self.event_snapshots = EventSnapshots()
        self.stats.events += 1
        self.stats.last_event_ms = frame.time_ns // 1_000_000
        self.stats.recording = True
        if blinded is not None:
            log.info("camera %s: view %s, event %s starts to keep what came before", self.camera.id, blinded.kind,
                     self.event_id)
        else:
            log.info("camera %s: motion, event %s starts (area %.3f, %d box(es))", self.camera.id, self.event_id,
                     result.area_fraction, len(result.boxes))
        from_ns = self._first_pre_roll_ns()
        self.buffer.hold(from_ns)
        self._snapshot(frame, result, faces, 0)  # before anything else of the event
        self.snapshots, self.best_area, self.last_snapshot_ns = 1, result.area_fraction, frame.time_ns
        self.onset_taken = True
        self.best_face = max((w * h for _, _, w, h in faces), default=0)
        self.commands.put(Command("start", self.event_id, from_ns, self.event_faces, snapshots=self.event_snapshots))

    def _first_pre_roll_ns(self) -> int:
        """Where the event's footage starts: ``pre_roll_s`` before the onset, and never after the last look
        without motion.

        Looking at every frame, the motion began a frame before the onset at most. Looking less while
        idle (``idle_detect_fps``, the low-power governor, ``dark_interval_s``) it may have begun just
        after the last quiet look, a look interval before the onset: with an interval longer than the
        pre-roll (``idle_detect_fps = 0.25`` and a 2 s pre-roll) the intruder's first seconds would not
        be recorded. (``idle_keyframes_only`` looks at keyframes, and a passthrough event starts at the
        keyframe at or before its first pre-roll time: that is the last quiet look already.)
        """
        from_ns = self.clock.onset_ns - int(self.rec.pre_roll_s * 1e9)
        frame_ns = int(1e9 / max(1.0, self.fps() or self.camera.fps))
        if self.quiet_look_ns and self.clock.onset_ns - self.quiet_look_ns > frame_ns * 3 // 2:  # looks skipped
            from_ns = min(from_ns, self.quiet_look_ns)
        return from_ns

    def _detected(self, time_ns: int) -> None:
        self.detected_until_ns = time_ns
        self.buffer.notify()

    def _snapshot(self, frame: Frame, result: MotionResult, faces: list[Box], number: int) -> None:
        """Make and commit a snapshot; one that fails is counted (``snapshots_failed``) and logged, and the event
        is recorded all the same (``DiskWrites`` holds one a full disk refuses: that is not a failure here)."""
        try:
            made = self._make_snapshot(frame, result, faces, number)
        except Exception as exc:
            self.stats.snapshots_failed += 1
            self.event_snapshots.failed += 1
            log.error("camera %s: snapshot %d of event %s failed (%s%d snapshot(s) failed since start)",
                      self.camera.id, number, self.event_id, f"{exc}; " if isinstance(exc, OSError) else "",
                      self.stats.snapshots_failed, exc_info=not isinstance(exc, OSError))  # a bug's traceback only
            return
        if not made:
            self.stats.snapshots_failed += 1
            self.event_snapshots.failed += 1
            log.error("camera %s: JPEG encoding of snapshot %d of event %s failed (%d snapshot(s) failed since start)",
                      self.camera.id, number, self.event_id, self.stats.snapshots_failed)
            return
        self.event_snapshots.kept += 1  # written, or held in memory by a full disk

    def _make_snapshot(self, frame: Frame, result: MotionResult, faces: list[Box], number: int) -> bool:
        """False when the JPEG encoding failed; raises what the commit raises."""
        image = frame.picture()  # the one frame needed, at full size and quality
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.rec.snapshot_quality])
        if not ok:
            return False
        payload = jpeg.tobytes()
        height, width = image.shape[:2]
        header = protocol.make_header(
            "snapshot", camera=self.camera.id, event=self.event_id, width=width, height=height,
            seq=number, content_type="image/jpeg", boxes=[list(b) for b in result.boxes],
            faces=[list(f) for f in faces], motion_area=round(result.area_fraction, 4),
            **protocol.payload_fields(payload),
        )
        header["time_ms"] = frame.time_ns // 1_000_000
        self.disk.commit_snapshot(header, payload)
        return True
