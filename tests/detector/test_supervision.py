"""No exception ends a camera's loop for good, and status is never ok while a loop is stuck."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline.supervise import Supervisor
from quickcam.detector.sources import DemoSource, Walk
from tests.detector.fakes import T0_NS, ScriptedSource, camera_config, header, journal, pipeline_for, run
from tests.waiting import wait_until


def test_a_detection_error_is_logged_once_counted_and_the_loop_restarts_with_the_event_recorded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    demo = DemoSource(320, 240, 10.0, realtime=False, walks=(Walk(2.0, 5.0),), period_s=1000.0)
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), ScriptedSource(lambda i: demo.read().image, 80))
    step = pipeline.detect.step
    failures = {"left": 3}

    def flaky_step(frame):  # a bug that strikes three frames in the middle of the walk
        if frame.index >= 35 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("motion model exploded")
        return step(frame)

    pipeline.detect.step = flaky_step
    run([pipeline])
    status = pipeline.status()
    assert status["loops"]["detection"]["errors"] == 3
    assert "motion model exploded" in status["loops"]["detection"]["last_error"]
    failed = [r for r in caplog.records if "detection loop failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info  # once, with the traceback; the repeats are counted
    segments = [row for row in journal(tmp_path) if row["type"] == "segment"]
    assert len({row["event"] for row in journal(tmp_path)}) == 1 and segments  # the event carried on


class _Stuck(ScriptedSource):
    """A live camera whose driver hangs in read() after 20 frames, until released."""

    def __init__(self) -> None:
        # a textured picture: a uniform one is a camera that sees nothing (the view guard says so: degraded)
        texture = np.random.default_rng(3).integers(40, 200, (48, 64, 3), dtype=np.uint8)
        super().__init__(lambda i: texture, 10_000)
        self.live = True
        self.release = threading.Event()

    def read(self):
        if self.position >= 20:
            self.release.wait()
        time.sleep(0.02)
        return super().read()


def test_status_says_stalled_not_ok_while_a_loop_has_not_moved_for_three_frame_intervals(tmp_path: Path) -> None:
    stop = threading.Event()
    source = _Stuck()
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), source, stop)
    pipeline.start()
    try:
        assert wait_until(lambda: source.position >= 20)
        assert wait_until(lambda: pipeline.status()["state"] == "stalled", 30), pipeline.status()
        assert "capture loop stalled" in pipeline.status()["fault"]
        source.release.set()
        assert wait_until(lambda: pipeline.status()["state"] == "ok", 30), pipeline.status()
    finally:
        source.release.set()
        stop.set()
        pipeline.join(10)


def test_a_loop_that_keeps_failing_is_restarted_with_growing_backoff_and_reported_failing() -> None:
    supervisor = Supervisor("camera t")
    calls: list[float] = []

    def broken(loop) -> None:
        calls.append(time.monotonic())
        if len(calls) <= 4:
            raise OSError("four times")

    loop = supervisor.add("recording", broken)
    supervisor.start()
    assert wait_until(lambda: len(calls) >= 2, 30)
    assert "recording loop failing (OSError: four times" in supervisor.problems()[0]
    assert wait_until(lambda: supervisor.finished, 10)
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps[-1] > 2 * gaps[0]  # backoff grows
    assert loop.errors == 4 and loop.finished and "four times" in loop.last_error


class _BadPictureAfterOpen(ScriptedSource):
    """A live camera whose 6th picture after each open is one no conversion takes (7 channels): capture throws."""

    def __init__(self) -> None:
        self.texture = np.random.default_rng(5).integers(40, 200, (48, 64, 3), dtype=np.uint8)
        self.bad = np.zeros((48, 64, 7), np.uint8)
        super().__init__(lambda i: self.bad if self.read_since_open == 5 else self.texture, 10_000)
        self.live = True
        self.is_open, self.read_since_open, self.closes = False, 0, 0

    def open(self) -> bool:
        self.is_open, self.read_since_open = True, 0
        return super().open()

    def read(self):
        time.sleep(0.01)
        frame = super().read()
        self.read_since_open += 1
        return frame

    def close(self) -> None:
        self.is_open = False
        self.closes += 1


def test_a_camera_whose_capture_loop_threw_is_lost_not_ok_until_it_has_reopened(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop is "failing" for RECENT_FAILURE_S after each throw; past that, while the restarted loop waits to
    # reopen (the reopen pace: 0.5 s doubling to reopen_max_s, 30 s by default), the status read "ok", no fault.
    # Shortened here so that the wait outlasts it (camera_config's reopen_max_s is 0.2 s).
    monkeypatch.setattr("quickcam.detector.pipeline.supervise.RECENT_FAILURE_S", 0.05)
    stop = threading.Event()
    source = _BadPictureAfterOpen()
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), source, stop)
    pipeline.start()
    closed: list[dict] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (source.closes < 4 or len(closed) < 5):
            before = (source.is_open, source.closes, source.opens)
            status = pipeline.status()
            if not before[0] and before == (source.is_open, source.closes, source.opens) and source.closes:
                closed.append(status)  # read while the source stayed closed, waiting to be reopened
            time.sleep(0.005)
    finally:
        stop.set()
        pipeline.join(10)
    assert source.closes >= 4 and len(closed) >= 5, (source.closes, len(closed))
    assert [s["state"] for s in closed] == ["lost"] * len(closed), [s["state"] for s in closed]  # before: ok
    assert all(s["fault"].startswith("capture loop failed (") for s in closed), [s["fault"] for s in closed]
    assert pipeline.status()["loops"]["capture"]["errors"] >= 4


def test_a_capture_loop_failure_is_named_once_in_the_fault_with_its_count_while_it_is_recent(tmp_path: Path) -> None:
    # For RECENT_FAILURE_S after a throw the fault named it twice: "capture loop failed (X); retrying ...;
    # capture loop failing (X; 1 failure(s) so far)". Now once, the loop's count with it (the native detector too).
    stop = threading.Event()
    source = _BadPictureAfterOpen()
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), source, stop)
    pipeline.start()
    faults: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and source.closes < 3:
            status = pipeline.status()
            if status["loops"]["capture"]["errors"] and status["state"] in ("lost", "failing"):
                faults.append(status["fault"])
            time.sleep(0.005)
        error = pipeline.status()["loops"]["capture"]["last_error"]
    finally:
        stop.set()
        pipeline.join(10)
    assert faults and error.startswith("error: OpenCV"), (faults[-3:], error)  # cv2.error, on one line
    assert all(fault.count(error) == 1 for fault in faults), [f for f in faults if f.count(error) != 1][:3]
    assert any(fault.startswith(f"capture loop failed ({error}; 2 failure(s) so far)") for fault in faults), faults


class _UnpluggedMidWalk(ScriptedSource):
    """A live camera whose capture throws mid-walk (a picture no conversion takes, 7 channels), then is gone:
    it will not open again."""

    def __init__(self) -> None:
        demo = DemoSource(320, 240, 10.0, realtime=False, walks=(Walk(1.0, 8.0),), period_s=1000.0)
        self.bad = np.zeros((240, 320, 7), np.uint8)
        super().__init__(lambda i: self.bad if i == 40 else demo.read().image, 10_000)
        self.live = True

    def open(self) -> bool:
        return self.position == 0 and super().open()

    def read(self):
        time.sleep(0.01)
        return super().read()


def test_a_live_camera_whose_capture_loop_throws_mid_event_commits_the_event_at_its_last_frame(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The native detector closes the event at once (its capture loop throwing on a live source); the Python
    # detector left it open, its segment in staging, for as long as the camera was gone: for ever, unplugged.
    caplog.set_level(logging.INFO, logger="quickcam.detector.pipeline")
    stop = threading.Event()
    source = _UnpluggedMidWalk()
    pipeline = pipeline_for(camera_config(tmp_path), Outbox(tmp_path), source, stop)
    pipeline.start()
    try:
        assert wait_until(lambda: any(header(tmp_path, row["id"])["final"] for row in journal(tmp_path)
                                 if row["type"] == "segment"), 10), journal(tmp_path)
        assert pipeline.status()["state"] == "lost" and source.position == 41  # still gone
    finally:
        stop.set()
        pipeline.join(10)
    segments = [header(tmp_path, row["id"]) for row in journal(tmp_path) if row["type"] == "segment"]
    assert len({s["event"] for s in segments}) == 1 and segments[-1]["final"], segments
    assert segments[-1]["end_ms"] == (T0_NS + 40 * 100_000_000) // 1_000_000  # the last frame received
    assert not any((tmp_path / ".staging").iterdir())
    said = [r.getMessage() for r in caplog.records if "during event" in r.getMessage()]
    assert said == [f"camera cam0 lost during event {segments[0]['event']}; the event is closed at the last frame "
                    f"({len(segments)} segments)"], said
