"""The detector process: cameras -> outbox -> uploader link, until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2

from quickcam.common.config import Config
from quickcam.common.stop_signals import StopSignals, say_stray, stray_notes
from quickcam.detector import status_file
from quickcam.detector.console.governor import RateGovernor
from quickcam.detector.console.hooks import hooks_for
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox, lock_outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.pipeline.camera_pipeline import CAPTURE_LOOPS

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 5.0
EXIT_NO_FRAME = 3  # a camera never delivered a frame (or a file went away mid-analysis): the run did not watch
# what it was asked to

# The stop, from the signal to the exit, in one budget that systemd and compose (30 s) never cut short. Each
# part has its own bound and they follow each other, so the bounds add up to it (they once added up to 35 s
# and more, with the interpreter's teardown after them unbounded: common/stop_signals.exit_now).
STOP_MAX_S = 25.0
CAMERA_JOIN_S = 10.0  # all cameras together, to close their open segments (their footage into the outbox)
# Of it, the capture loops: one still running by then is stuck in a read (a stream or a disk that stopped answering)
# and is given up, so that its camera's open segment is committed without it (CameraPipeline.give_up_capture).
CAPTURE_JOIN_S = 2.0
# A recorder still running at CAMERA_JOIN_S is waited for until then (its last segment's commit on a slow disk): the
# drain gets what is left, at least 2 s, and the link runs all the while. Past it, a segment whose commit has begun
# stays in staging with its header for the next start (Outbox._commit_left); before, it was discarded there.
RECORDER_JOIN_S = 19.0
LINK_CLOSE_S = 2.0  # after the drain: the link's last pass and its last status (``stopping``, 1 s of linger)
STATUS_CLOSE_S = 2.0  # the status file's thread, then its last write (``running: false``)
# Wait at stop as long as an ack may take (link.ack_timeout_s), within what the budget leaves.
SHUTDOWN_DRAIN_MAX_S = STOP_MAX_S - LINK_CLOSE_S - STATUS_CLOSE_S


def shutdown_drain_s(ack_timeout_s: float, spent_s: float = 0.0) -> float:
    """How long the detector waits at stop for acks: the ack timeout, at least 5 s, and never past
    ``SHUTDOWN_DRAIN_MAX_S`` after the stop began (``spent_s`` already went on closing the cameras' segments)."""
    return max(0.0, min(max(SHUTDOWN_DRAIN_S, ack_timeout_s), SHUTDOWN_DRAIN_MAX_S - spent_s))


def _stop_cameras(pipelines: list[CameraPipeline], stopping_at: float) -> None:
    """The cameras' part of the stop: their open segments committed, within ``CAMERA_JOIN_S`` of ``stopping_at``.

    A capture loop still running ``CAPTURE_JOIN_S`` in is stuck in a read: it is given up, and its camera's
    detection and recorder finish without it (the frames it handed over recorded, the open segment committed),
    rather than wait for an end marker it may never send while the process runs out of its budget. A thread
    still running at the end is said and left behind: the process ends all the same (``exit_now``).
    """
    captured_by = stopping_at + CAPTURE_JOIN_S
    while time.monotonic() < captured_by and not all(p.capture_ended() for p in pipelines):
        time.sleep(0.01)
    for pipeline in pipelines:
        if not pipeline.capture_ended():
            pipeline.give_up_capture(time.monotonic() - stopping_at)
    joined_by = stopping_at + CAMERA_JOIN_S  # one deadline for all: eight stuck cameras must not take 80 s
    for pipeline in pipelines:
        pipeline.join(timeout=max(0.0, joined_by - time.monotonic()))
    for pipeline in pipelines:
        pipeline.join_recording(timeout=max(0.0, stopping_at + RECORDER_JOIN_S - time.monotonic()))
    for pipeline in pipelines:
        for loop in pipeline.left_behind():
            said = pipeline.recording_left() if loop == "recording" else ""
            log.error("camera %s: its %s thread did not end within the stop's time; left behind%s", pipeline.camera.id,
                      loop, " (stuck in a read: nothing after its last frame is recorded)" if loop in CAPTURE_LOOPS
                      else f"; {said}" if said else "")


def _say_outbox_left(outbox: Outbox, pipelines: list[CameraPipeline], lost_snapshots: int) -> None:
    """The stop's line on the footage: what waits in the outbox, and what the stop left out or left in staging.

    It said "all footage handed to the uploader" also when a stop had left frames out (its time run out with a
    recorder behind: said per camera and counted), and after a run whose recording had failed (a disk that refused
    segments, the folder deleted under it: FINDINGS #55), as if nothing were missing: the run's losses are said here
    again, as counted in ``quickcam status``.
    """
    depth, size = outbox.depth()
    left_out = sum(p.recorder.left_out_at_stop for p in pipelines)
    not_recorded = sum(p.not_recorded() for p in pipelines) - left_out  # left_out is counted in not_recorded too
    dropped = sum(p.disk.replaced for p in pipelines) - lost_snapshots  # the lost are said on a line of their own
    staged = sum(p.staged_at_exit for p in pipelines)
    notes = "".join([
        f"; {left_out} frame(s) left out at the stop (see above; counted in not_recorded)" if left_out else "",
        f"; {not_recorded} frame(s) of this run were not recorded (see above; not_recorded in quickcam status)"
        if not_recorded > 0 else "",
        f"; {dropped} snapshot(s) of this run were dropped (see above; snapshots_replaced in quickcam status)"
        if dropped > 0 else "",
        f"; {staged} segment(s) whose commit the stop cut short stay in {outbox.staging} and are committed on next "
        "start" if staged else ""])
    if depth:
        log.warning("detector: %d item(s), %d bytes not yet acknowledged; they stay in %s and are sent on next "
                    "start%s", depth, size, outbox.root, notes)
    elif notes:
        log.warning("detector: outbox empty; the footage recorded is handed to the uploader%s", notes)
    elif not lost_snapshots:
        log.info("detector: outbox empty; all footage handed to the uploader")


def _package_version() -> str:
    try:
        return version("quickcam")
    except PackageNotFoundError:
        return "0"


def hangup_notes() -> list[int]:
    """SIGHUP noted in the list returned, for the main loop to say; it is not a stop.

    Its default ended the detector where it was (a terminal closed on a detector started by hand,
    a ``kill -HUP`` meant as a reload): the open segment was lost in staging as for a SIGKILL, and
    the camera left blind. The handler only notes it: logging from it could deadlock.
    """
    notes: list[int] = []
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, _frame: notes.append(signum))
    return notes


def run_detector(config: Config, seconds: float | None = None, config_path: Path | None = None) -> int:
    """Run until SIGINT/SIGTERM (or ``seconds``); returns the exit code."""
    cv2.setNumThreads(1)  # idle OpenCV worker threads spin and burn a core
    stop = threading.Event()
    signals = StopSignals(stop)  # the main loop sets ``stop``: a handler that did deadlocked (stop_signals.py)
    strays = stray_notes()  # SIGUSR1/2: said by the main loop, not a stop
    if came := signals.came():  # while it started (the entry point held it): before any camera opens
        log.info("detector: %s during start-up; stopped before opening any camera", came)
        return 0

    outbox = Outbox(config.recording.outbox_dir, lock_outbox(config.recording.outbox_dir))  # held until the end
    # All cameras run in this one process, each in its own threads: they share
    # one outbox and one uploader link (one connection, one credit window, one
    # snapshot-first order), OpenCV and the encoder release the GIL for the
    # heavy work, and a camera's failure is contained in its own threads
    # (CameraPipeline never lets an exception out), so it cannot stop the others.
    cameras = config.camera_list()
    hooks = hooks_for(config.console, config.low_power)  # console: live tap, zone board, low-power governor
    pipelines = [CameraPipeline(cam, outbox, stop, hooks=hooks) for cam in cameras]
    keep = config.recording.outbox_dir / "sent" if config.recording.keep_local_copy else None
    link = UploaderLink(
        config.link, outbox, [cam.id for cam in cameras],
        camera_status=lambda: {p.camera.id: p.status() for p in pipelines},
        keep_copy_in=keep, version=_package_version(),
    )
    log.info("detector: watching %d camera(s); outbox %s", len(pipelines), config.recording.outbox_dir)
    link.start()
    for pipeline in pipelines:
        pipeline.start()
    console = None
    status_writer = status_file.for_detector(  # for `quickcam status`
        outbox, pipelines, link, config.recording,
        extra=lambda: {"low_power": hooks.governor.status(), **({"console": console.status()} if console else {})})
    status_writer.start()
    if isinstance(hooks.governor, RateGovernor):
        hooks.governor.start()
    if config.console.listen:  # console: off unless [console] listen is set (uvicorn is loaded only then)
        from quickcam.detector.console.server import ConsoleError, ConsoleServer

        try:
            console = ConsoleServer(config.console, cameras, hooks, lambda: status_writer.collect(True),
                                    config_path, outbox.root)
            console.start()
        except ConsoleError as exc:
            log.error("%s; the detector runs on without the console", exc)
            console = None

    deadline = time.monotonic() + seconds if seconds else None
    hangups = hangup_notes()
    while not signals.wait(0.2):
        say_stray(strays, "detector", "the cameras are still watched")
        if hangups:
            hangups.clear()
            log.warning("detector: SIGHUP (its terminal closed, or a reload asked) ignored: the cameras are still "
                        "watched. The detector reads its config at start only: restart it to apply a change")
        if deadline and time.monotonic() >= deadline:
            log.info("detector: --seconds elapsed; stopping")
            stop.set()
            break
        if all(p.finished for p in pipelines):
            log.info("detector: every source has ended; stopping")
            stop.set()
            break

    log.info("detector: stopping; closing open segments")
    stopping_at = time.monotonic()
    if console is not None:
        console.stop()
    if isinstance(hooks.governor, RateGovernor):
        hooks.governor.stop()
    _stop_cameras(pipelines, stopping_at)
    link.stop(drain_s=shutdown_drain_s(config.link.ack_timeout_s, time.monotonic() - stopping_at), join_s=LINK_CLOSE_S)
    status_writer.stop(join_s=STATUS_CLOSE_S)
    lost = sum(p.disk.lost_at_stop for p in pipelines)
    _say_outbox_left(outbox, pipelines, lost)
    if lost:
        log.error("detector: %d snapshot(s) held in memory were lost at the stop: the disk refused them to the end "
                  "(counted in quickcam status as dropped)", lost)
    blind = [p for p in pipelines if not p.stats.opened]
    for pipeline in blind:
        log.error("detector: camera %s never delivered a frame (%s)", pipeline.camera.id,
                  pipeline.stats.never_delivered(time.monotonic()))
    cut_short = [p for p in pipelines if p.stats.abandoned]
    for pipeline in cut_short:
        log.error("detector: camera %s did not analyse its file to the end (%s)", pipeline.camera.id,
                  pipeline.stats.open_error)
    return EXIT_NO_FRAME if blind or cut_short else 0
