"""The camera pipeline end to end on generated frames: events, segments, snapshots, faults."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from quickcam.detector.outbox import Outbox
from quickcam.detector.sources import DemoSource, Frame, Walk
from tests.detector.fakes import T0_NS, ScriptedSource, camera_config, header, journal, pipeline_for, run
from tests.own_logs import own_records


def _demo(walks: tuple[Walk, ...] = (Walk(3.0, 6.0),)) -> DemoSource:
    return DemoSource(320, 240, 10.0, realtime=False, walks=walks, period_s=1000.0)


def _segments(outbox_dir: Path) -> list[dict]:
    return [header(outbox_dir, item["id"]) for item in journal(outbox_dir) if item["type"] == "segment"]


def _frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_snapshot_comes_first_then_playable_segments_of_segment_length_with_pre_roll(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    demo = _demo()
    pipeline = pipeline_for(camera_config(tmp_path), outbox, ScriptedSource(lambda i: demo.read().image, 120))
    run([pipeline])

    items = journal(tmp_path)
    events = {item["event"] for item in items}
    assert len(events) == 1
    assert items[0]["type"] == "snapshot" and items[0]["seq"] == 0
    segments = _segments(tmp_path)
    assert [s["seq"] for s in segments] == list(range(len(segments)))
    assert segments[-1]["final"] and not any(s["final"] for s in segments[:-1])
    for segment in segments[:-1]:
        assert segment["frames"] == 10  # segment_s = 1 s at 10 fps
    for segment in segments:  # each plays on its own
        assert _frames_in(tmp_path / f"{segment['id']}.bin") == segment["frames"]
    assert segments[0]["codec"] == "h264"
    # Pre-roll: the recording starts a second before the first frame with motion.
    snapshot_ms = items[0]["time_ms"]
    assert snapshot_ms - 1300 <= segments[0]["start_ms"] <= snapshot_ms - 1000
    # The walker is on screen 3-6 s; with 1 s post-roll the event covers about 2-7 s.
    recorded = sum(s["frames"] for s in segments)
    assert 45 <= recorded <= 60


def test_a_lighting_step_produces_no_event(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    demo = _demo(walks=())

    def draw(index: int) -> np.ndarray:
        image = demo.read().image
        return cv2.convertScaleAbs(image, alpha=1.5 if 30 <= index < 60 else 1.0)

    run([pipeline_for(camera_config(tmp_path), outbox, ScriptedSource(draw, 90))])
    assert journal(tmp_path) == []


def test_dark_mode_is_entered_and_left_and_every_dark_frame_is_watched(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    outbox = Outbox(tmp_path)
    demo = _demo(walks=())
    camera = camera_config(tmp_path)

    def draw(index: int) -> np.ndarray:
        image = demo.read().image
        return cv2.convertScaleAbs(image, alpha=0.03) if 20 <= index < 80 else image

    pipeline = pipeline_for(camera, outbox, ScriptedSource(draw, 110))
    calls = []
    original = pipeline.detect.dark.update
    pipeline.detect.dark.update = lambda result: (calls.append(result.brightness), original(result))[1]
    run([pipeline])
    messages = [r.getMessage() for r in caplog.records]
    assert any("entering dark mode" in m for m in messages)
    assert any("leaving dark mode" in m for m in messages)
    assert not pipeline.stats.dark
    assert sum(1 for b in calls if b < 10) >= 55  # 60 dark frames, every one looked at
    assert journal(tmp_path) == []  # the light going off and on again is no event


def test_a_walker_in_a_dark_room_is_recorded_with_the_default_settings(tmp_path: Path) -> None:
    """The lights go off (5 % brightness, sensor noise) and someone walks through: one event, from the
    darkness alone nothing."""
    outbox = Outbox(tmp_path)
    demo = _demo(walks=(Walk(6.0, 9.0),))
    rng = np.random.default_rng(11)

    def draw(index: int) -> np.ndarray:
        image = demo.read().image.astype(np.float32)
        gain = 1.0 if index < 20 else 0.05  # the light goes off at 2 s
        return np.clip(image * gain + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)

    pipeline = pipeline_for(camera_config(tmp_path), outbox, ScriptedSource(draw, 120))
    run([pipeline])
    items = journal(tmp_path)
    assert len({item["event"] for item in items}) == 1
    snapshot = next(item for item in items if item["type"] == "snapshot")
    onset_ms = T0_NS // 1_000_000 + _entering_ms(demo)
    assert onset_ms <= snapshot["time_ms"] <= onset_ms + 500  # seen within half a second of entering
    assert pipeline.stats.dark


def _entering_ms(demo: DemoSource) -> int:
    """When the demo walker's box first reaches into the frame (frames are numbered from 1 by the source)."""
    index = next(i for i in range(1000) if (box := demo.walker_box(i / demo.fps)) and box[0] + box[2] > 0)
    return int((index + 1) * 1000 / demo.fps)


def test_a_lost_marker_keeps_its_place_when_detection_is_behind_on_a_live_camera(tmp_path: Path) -> None:
    """Frames are skipped for detection oldest first; the marker stays before the frames from after the return."""
    from quickcam.detector.pipeline.capture import LOST, CaptureStage
    from quickcam.detector.pipeline.frames import FrameBuffer
    from quickcam.detector.pipeline.stats import CameraStats
    from quickcam.detector.pipeline.supervise import Loop

    source = ScriptedSource(lambda i: None, 0)
    source.live = True
    waiting: queue.Queue = queue.Queue(maxsize=3)
    stage = CaptureStage(camera_config(tmp_path), source, FrameBuffer(10**9, 8, True, "cam0"), waiting,
                         CameraStats(), threading.Event())
    frames = [Frame(np.zeros((2, 2), np.uint8), T0_NS + n, n) for n in range(4)]
    for item in (frames[0], LOST, frames[1], frames[2], frames[3]):
        stage._put_detect(item, Loop("capture", lambda _loop: None))
    assert list(waiting.queue) == [LOST, frames[2], frames[3]]  # it was [f1, f2, LOST], f3 dropped uncounted
    assert stage.stats.dropped == 2


class _SlowOpen(ScriptedSource):
    """A live stream whose open takes ``OPEN_S`` (FFmpeg reading its first frames to learn the frame rate)."""

    OPEN_S = 1.0  # the window for the burst below (~0.1 s of work), with room for a loaded machine

    def open(self) -> bool:
        time.sleep(self.OPEN_S)
        return super().open()


def test_the_frames_a_live_stream_read_while_it_opened_wait_for_detection_then_it_never_waits(
        tmp_path: Path) -> None:
    """They come at once after the open: skipped, the first seconds after every reopen went unwatched.
    For as long as the open took, frames wait for a detection that is behind; after it, the oldest are skipped."""
    from quickcam.detector.pipeline.capture import CaptureStage
    from quickcam.detector.pipeline.frames import FrameBuffer
    from quickcam.detector.pipeline.stats import CameraStats
    from quickcam.detector.pipeline.supervise import Loop

    source = _SlowOpen(lambda i: None, 0)
    source.live = True
    waiting: queue.Queue = queue.Queue(maxsize=3)
    stage = CaptureStage(camera_config(tmp_path), source, FrameBuffer(10**9, 8, True, "cam0"), waiting,
                         CameraStats(), threading.Event())
    loop = Loop("capture", lambda _loop: None)
    assert stage._open_with_backoff(loop)
    frames = [Frame(np.zeros((2, 2), np.uint8), T0_NS + n, n) for n in range(16)]
    looked: list[Frame] = []

    def detection() -> None:  # behind: 10 ms a frame, for the first 8
        for _ in range(8):
            looked.append(waiting.get())
            time.sleep(0.01)

    behind = threading.Thread(target=detection)
    behind.start()
    started = time.monotonic()
    for frame in frames[:8]:  # the burst: none skipped
        stage._put_detect(frame, loop)
    behind.join(5)
    assert [f.time_ns - T0_NS for f in looked] == list(range(8)) and stage.stats.dropped == 0
    assert time.monotonic() - started < _SlowOpen.OPEN_S
    time.sleep(max(0.0, stage.catch_up_until - time.monotonic()))
    for frame in frames[8:11]:  # after it, nobody looking: room for three
        stage._put_detect(frame, loop)
    took = []
    for frame in frames[11:]:  # ... then the oldest is skipped at once, five times
        started = time.monotonic()
        stage._put_detect(frame, loop)
        took.append(time.monotonic() - started)
    # A put that waited for room (0.1 s a try) takes that long every time; the quickest of five judges the code,
    # not a loaded machine's pauses (a single 50 ms bound over all the puts did)
    assert min(took) < 0.02, took
    assert [f.time_ns - T0_NS for f in waiting.queue] == [13, 14, 15] and stage.stats.dropped == 5


class _Flaky(ScriptedSource):
    """Loses the camera at frame 20; the next two reopen attempts fail."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.failed_reopens = 0

    def open(self) -> bool:
        if self.position > 20 and self.failed_reopens < 2:
            self.failed_reopens += 1
            return False
        return super().open()


def test_a_camera_that_disappears_and_comes_back_is_reopened(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    outbox = Outbox(tmp_path)
    demo = _demo(walks=())
    source = _Flaky(lambda i: None if i == 20 else demo.read().image, 60)
    pipeline = pipeline_for(camera_config(tmp_path), outbox, source)
    run([pipeline])
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "lost" in messages and "reopen attempt" in messages and "ok again" in messages
    assert pipeline.stats.reopens == 2
    assert pipeline.stats.frames == 59  # every frame but the missing one came through
    assert pipeline.stats.state == "ended"


class _EndsAtOnce(ScriptedSource):
    """A stream URL that serves a short clip: one frame after each open, then nothing (an HTTP file)."""

    def open(self) -> bool:
        self.given = 0
        return super().open()

    def read(self) -> Frame | None:
        self.given += 1
        return super().read() if self.given == 1 else None


def test_a_stream_that_ends_soon_after_each_open_is_reopened_with_backoff_not_in_a_tight_loop(tmp_path: Path) -> None:
    demo = _demo(walks=())
    source = _EndsAtOnce(lambda i: demo.read().image, 10_000)
    camera = camera_config(tmp_path).model_copy(update={"reopen_max_s": 1.0})
    stop = threading.Event()
    pipeline = pipeline_for(camera, Outbox(tmp_path), source, stop)
    started = time.monotonic()
    pipeline.start()
    _poll(lambda: "reopening in 1.0 s" in pipeline.status()["fault"], 10)  # the second wait: 0.5 s, then 1 s
    status = pipeline.status()
    time.sleep(max(0.0, started + 1.6 - time.monotonic()))
    stop.set()
    pipeline.join(10)
    assert status["state"] == "lost" and "went away soon after it opened" in status["fault"]
    assert 2 <= source.opens <= 4  # reopened at once, it was thousands in 1.6 s


class _SlowFirstPicture(ScriptedSource):
    """Lost at frame 20; reopened at once, its first picture then takes until ``picture`` is set (a stream probing)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.picture = threading.Event()

    def read(self) -> Frame | None:
        if self.position == 21:
            self.picture.wait(10)
        return super().read()


def test_a_camera_reopened_but_without_a_picture_yet_is_still_lost_and_says_why(tmp_path: Path) -> None:
    """Between a reopen and its first picture it was ``lost`` with an empty fault: blind, not saying so."""
    demo = _demo(walks=())
    source = _SlowFirstPicture(lambda i: None if i == 20 else demo.read().image, 60)
    stop = threading.Event()
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), source, stop)
    pipeline.start()
    try:
        _poll(lambda: source.position == 21 and source.opens == 2, 10)  # reopened, its read waiting
        time.sleep(0.1)
        status = pipeline.status()
    finally:
        source.picture.set()
        stop.set()
        pipeline.join(10)
    assert source.opens == 2 and status["state"] == "lost", status
    assert status["fault"] == "lost: no frame; reopened, waiting for its first picture", status
    assert pipeline.stats.lost_why == ""  # the picture came: nothing left to say


@pytest.mark.realtime  # played in real time: a live source, detection never waits for it
def test_a_video_file_that_appears_later_is_opened_and_read(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    demo = _demo(walks=(Walk(1.0, 3.0),))
    writer = cv2.VideoWriter(str(tmp_path / "made.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(40):
        writer.write(demo.read().image)
    writer.release()
    # Played in real time: a stand-in for a live camera, waited for (a file analysed as fast as
    # possible is read once and not waited for: tests/test_camera_open.py).
    camera = camera_config(tmp_path / "outbox").model_copy(update={"source": "file", "path": str(video),
                                                                    "realtime": True})
    from quickcam.detector.pipeline import CameraPipeline

    pipeline = CameraPipeline(camera, Outbox(tmp_path / "outbox"), threading.Event())
    pipeline.start()
    _poll(lambda: pipeline.stats.state == "failing", 30)  # its first try: polled, a loaded machine is slower
    assert pipeline.stats.state == "failing"  # never opened: retried with backoff, never exits
    assert "no such file" in pipeline.status()["fault"]
    shutil.move(str(tmp_path / "made.avi"), str(video))
    pipeline.join(30)
    assert pipeline.finished and pipeline.stats.state == "ended"
    assert pipeline.stats.frames == 40 and pipeline.stats.events == 1
    assert (pipeline.stats.width, pipeline.stats.height) == (320, 240)


def test_two_cameras_run_at_once_and_a_broken_one_does_not_stop_the_other(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    stop = threading.Event()
    demo = _demo()
    good = pipeline_for(camera_config(tmp_path, "good"), outbox, ScriptedSource(lambda i: demo.read().image, 100),
                        stop)

    def broken(index: int) -> np.ndarray:
        raise RuntimeError("driver crashed")

    bad = pipeline_for(camera_config(tmp_path, "bad"), outbox, ScriptedSource(broken, 100), stop)
    good.start()
    bad.start()
    good.join(60)
    assert good.finished
    assert bad.stats.state == "failing" and not bad.finished  # never delivered a frame; still retrying
    stop.set()
    bad.join(10)
    assert bad.finished
    cameras = {item["camera"] for item in journal(tmp_path)}
    assert cameras == {"good"}
    assert good.stats.events == 1


def test_two_demo_cameras_record_their_own_events(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    demos = {"a": _demo((Walk(2.0, 4.0),)), "b": _demo((Walk(5.0, 7.0),))}
    pipelines = [pipeline_for(camera_config(tmp_path, name), outbox,
                              ScriptedSource(lambda i, d=demo: d.read().image, 100))
                 for name, demo in demos.items()]
    run(pipelines)
    for name in demos:
        items = [item for item in journal(tmp_path) if item["camera"] == name]
        assert items[0]["type"] == "snapshot"
        assert any(item["type"] == "segment" for item in items)
        assert len({item["event"] for item in items}) == 1


@pytest.mark.realtime  # a wall-clock bound
def test_stopping_mid_event_closes_the_open_segment_as_final(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    stop = threading.Event()
    demo = _demo(walks=(Walk(1.0, 8.0),))  # still in view when the stop comes at 4.5 s

    def draw(index: int) -> np.ndarray:
        if index == 45:
            stop.set()  # SIGTERM arrives while the walker is still in view
        return demo.read().image

    pipeline = pipeline_for(camera_config(tmp_path), outbox, ScriptedSource(draw, 1000), stop)
    started = time.monotonic()
    run([pipeline], timeout=10)
    assert time.monotonic() - started < 10
    segments = _segments(tmp_path)
    assert segments and segments[-1]["final"]
    assert _frames_in(tmp_path / f"{segments[-1]['id']}.bin") == segments[-1]["frames"]


class _Unplugged(ScriptedSource):
    """Delivers until ``lost_at``, then is gone (no frame, no reopen) until ``plugged`` is set."""

    def __init__(self, *args: object, lost_at: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.lost_at, self.plugged = lost_at, threading.Event()

    def open(self) -> bool:
        return (self.position < self.lost_at or self.plugged.is_set()) and super().open()

    def read(self) -> Frame | None:
        if self.position == self.lost_at and not self.plugged.is_set():
            return None  # unplugged: the read gives nothing (the position stays, so it stays gone)
        return super().read()


def _poll(condition: Callable[[], object], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_camera_lost_mid_event_commits_the_event_at_its_last_frame_and_a_later_walk_is_a_new_event(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    outbox = Outbox(tmp_path)
    # The walker is in view when the camera goes at 4 s; a 2 s walk comes 1 s after it is back.
    demo = _demo(walks=(Walk(1.0, 8.0), Walk(11.0, 13.0)))

    def draw(index: int) -> np.ndarray:
        if index == 40:  # the first frame back: while it was unplugged, 6 s went by unseen
            for _ in range(60):
                demo.read()
        return demo.read().image

    source = _Unplugged(draw, 200, lost_at=40)
    pipeline = pipeline_for(camera_config(tmp_path), outbox, source)
    pipeline.start()
    try:
        # Still unplugged: the event is closed at its last frame, its final segment committed.
        _poll(lambda: any(s["final"] for s in _segments(tmp_path)), 30)
        segments = _segments(tmp_path)
        assert segments and segments[-1]["final"] and not any(s["final"] for s in segments[:-1])
        assert [s["seq"] for s in segments] == list(range(len(segments)))
        assert segments[-1]["end_ms"] == (T0_NS + 40 * 100_000_000) // 1_000_000  # the last frame received
        assert _frames_in(tmp_path / f"{segments[-1]['id']}.bin") == segments[-1]["frames"]
        assert not any((tmp_path / ".staging").iterdir())
        assert pipeline.status()["state"] == "lost" and not pipeline.stats.recording
        said = [r.getMessage() for r in caplog.records if "lost during event" in r.getMessage()]
        assert said == [f"camera cam0 lost during event {segments[0]['event']}; the event is closed at the last "
                        f"frame ({len(segments)} segments)"]
    finally:
        source.plugged.set()
    pipeline.join(60)
    assert pipeline.finished and pipeline.stats.state == "ended"
    events = list(dict.fromkeys(s["event"] for s in _segments(tmp_path)))
    # The short walk right after the reconnect is an event of its own, seen as it comes in (the stale
    # background once made it motion every other frame: never the two in a row that start an event).
    assert len(events) == 2 and pipeline.stats.events == 2
    onset = next(i for i in journal(tmp_path) if i["event"] == events[1] and i["type"] == "snapshot")["time_ms"]
    entering_ms = T0_NS // 1_000_000 + _entering_ms(_demo((Walk(11.0, 13.0),))) - 6000  # 6 s went by unseen
    assert entering_ms <= onset <= entering_ms + 500
    messages = [r.getMessage() for r in caplog.records]
    assert any("background is learned again from the first frame back" in m for m in messages)
    assert not any("whole picture changed" in m for m in messages)  # a reconnect is not a change of light
    assert [s["final"] for s in _segments(tmp_path) if s["event"] == events[1]][-1]


def test_a_demo_started_later_in_its_script_shows_the_same_walks_sooner_and_logs_scene_time_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    default = DemoSource(160, 120, 10.0, realtime=False)
    started = DemoSource(160, 120, 10.0, realtime=False, start_s=3.0)
    with caplog.at_level(logging.INFO, logger="quickcam.detector.sources"):
        first = started.read()
    for index in range(0, 300):  # frame i of the later start is frame i + 30 of the default script
        assert started.walker_box(started.scene_time_s(index)) == default.walker_box(default.scene_time_s(index + 30))
    assert started.walker_box(started.scene_time_s(9)) is None and started.walker_box(started.scene_time_s(10))
    zero_ms = int(own_records(caplog)[-1].getMessage().rsplit(" ", 2)[-2])
    assert zero_ms == (first.time_ns - 3_000_000_000) // 1_000_000
