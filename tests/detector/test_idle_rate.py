"""The opt-in idle detection rate (``[motion] idle_detect_fps``): fewer looks while nothing moves."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common.config import CameraConfig, ConfigError, MotionConfig, RecordingConfig, load_config
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.pipeline.detect import DetectStage
from quickcam.detector.pipeline.disk import DiskWrites
from quickcam.detector.pipeline.frames import FrameBuffer
from quickcam.detector.pipeline.idle_rate import IdleRate
from quickcam.detector.pipeline.stats import CameraStats
from quickcam.detector.sources import Frame
from tests.detector.fakes import camera_config

FPS = 15
PERIOD_NS = round(1e9 / FPS)
T0 = 1_000_000_000


def test_off_by_default_every_frame_is_looked_at() -> None:
    assert MotionConfig().idle_detect_fps is None
    idle = IdleRate(None)
    assert all(idle.look(i * PERIOD_NS, busy=False) for i in range(30))


def test_idle_it_looks_at_every_third_frame_of_15_fps_at_5_and_at_every_frame_while_busy() -> None:
    idle = IdleRate(5.0)
    jitter = [0, 2_000_000, -2_000_000]  # a camera's clock is not exact
    looked = [i for i in range(30) if idle.look(i * PERIOD_NS + jitter[i % 3], busy=False)]
    assert looked == list(range(0, 30, 3))
    assert all(idle.look((30 + i) * PERIOD_NS, busy=True) for i in range(10))


def test_a_bad_idle_rate_is_a_one_line_config_error(tmp_path: Path) -> None:
    file = tmp_path / "q.toml"
    file.write_text("[motion]\nidle_detect_fps = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    assert str(caught.value).startswith("config error: motion.idle_detect_fps: input should be greater than 0")
    assert "\n" not in str(caught.value)


def _stage(tmp_path: Path, idle_detect_fps: float | None,
           pre_roll_s: float = 2.0) -> tuple[DetectStage, list[int]]:
    camera = CameraConfig(fps=FPS, motion=MotionConfig(idle_detect_fps=idle_detect_fps),
                          recording=RecordingConfig(pre_roll_s=pre_roll_s))
    outbox = Outbox(tmp_path / f"outbox-{idle_detect_fps}")
    buffer = FrameBuffer(2_000_000_000, 100, True, camera.id)
    stage = DetectStage(camera, queue.Queue(), buffer, queue.Queue(), DiskWrites(camera.id, outbox), CameraStats(),
                        lambda: FPS)
    looked: list[int] = []
    stage.told = []  # per look, the source frames since the last look the core was told
    setup = stage._setup

    def counted_setup(frame: Frame):  # counts the frames the motion core is given
        detector = setup(frame)
        detect = detector.detect

        def counting(image: np.ndarray, frames: int = 1):
            looked.append(stage.last_ns)
            stage.told.append(frames)
            return detect(image, frames)

        detector.detect = counting
        return detector

    stage._setup = counted_setup
    return stage, looked


def _frames(count: int, person_from: int) -> list[Frame]:
    """A quiet textured picture; from ``person_from`` on a bright person-sized block walks in.

    (Textured: a uniform picture is a camera that sees nothing, which the view guard says after 4 s.)
    """
    frames = []
    texture = np.random.default_rng(99).integers(60, 120, (15, 20), dtype=np.uint8)
    background = cv2.resize(texture, (160, 120), interpolation=cv2.INTER_CUBIC)
    for i in range(count):
        image = background.copy()
        image += np.random.default_rng(i).integers(0, 3, image.shape, dtype=np.uint8)
        if i >= person_from:
            x = 20 + 2 * (i - person_from)
            image[40:100, x:x + 20] = 230
        frames.append(Frame(image, T0 + i * PERIOD_NS, i))
    return frames


def test_idle_the_detect_stage_looks_less_and_sees_an_onset_at_most_one_idle_interval_later(tmp_path: Path) -> None:
    onsets = {}
    for rate in (None, 5.0):
        stage, looked = _stage(tmp_path, rate)
        for frame in _frames(120, person_from=91):  # 6 s quiet (the background settles), then a person
            stage.step(frame)
        assert stage.clock.recording, f"idle_detect_fps={rate}: the person was not seen"
        onsets[rate] = stage.clock.onset_ns
        quiet_looks = sum(1 for t in looked if t < T0 + 91 * PERIOD_NS)
        if rate is None:
            assert quiet_looks == 91
        else:
            assert 29 <= quiet_looks <= 32  # every third frame while nothing moves
            seen = (onsets[rate] - T0) // PERIOD_NS
            assert [t for t in looked if t >= onsets[rate]] == [T0 + i * PERIOD_NS for i in range(seen, 120)]
    assert 0 <= onsets[5.0] - onsets[None] <= 3 * PERIOD_NS  # one idle interval (1/5 s) at most


def test_idle_the_motion_core_is_told_the_source_frames_since_its_last_look(tmp_path: Path) -> None:
    """Its counters (the light context, the hold) must run in time, not in looks (``motion/looks.py``)."""
    for rate, idle_told in ((None, 1), (5.0, 3), (2.0, 8)):
        stage, looked = _stage(tmp_path, rate)
        for frame in _frames(120, person_from=91):
            stage.step(frame)
        assert stage.clock.recording, rate
        quiet = [told for t, told in zip(looked, stage.told, strict=True) if t < T0 + 91 * PERIOD_NS]
        assert set(quiet[1:]) == {idle_told}, (rate, quiet)
        after = [told for t, told in zip(looked, stage.told, strict=True) if t > stage.clock.onset_ns]
        assert after and set(after) == {1}  # every frame looked at again: as always


def test_in_the_dark_every_frame_is_looked_at_even_when_idle(tmp_path: Path) -> None:
    """In the dark a person is a few gray levels, found by averaging frames: no frame is skipped there."""
    stage, looked = _stage(tmp_path, 5.0)
    for frame in _frames(30, person_from=30):
        frame.image[:] = frame.image // 20  # 4-5 gray levels: dark
        stage.step(frame)
    assert stage.dark.dark
    assert len(looked) == 30


def test_looking_less_than_the_pre_roll_the_event_still_starts_before_the_person_came(tmp_path: Path) -> None:
    """Looks further apart than the pre-roll (idle_detect_fps = 2 and a 0.2 s pre-roll; the same as
    idle_keyframes_only with a 4 s GOP and a 2 s pre-roll): the person walks in just after a quiet look and is
    seen a look later. The footage must still start at the last look without motion, not at the onset minus
    the pre-roll (the person's first frames lost)."""
    starts = {}
    for rate in (None, 2.0):
        stage, looked = _stage(tmp_path, rate, pre_roll_s=0.2)
        for frame in _frames(120, person_from=89):
            stage.step(frame)
        commands = [stage.commands.get_nowait() for _ in range(stage.commands.qsize())]
        start = next(c for c in commands if c.kind == "start")
        onset = stage.clock.onset_ns
        starts[rate] = start.time_ns
        if rate is None:  # every frame looked at: the pre-roll before the onset, as ever
            assert start.time_ns == onset - 200_000_000
        else:
            quiet = max(t for t in looked if t < onset)
            assert onset - quiet >= 6 * PERIOD_NS  # the person was seen a look interval late
            assert start.time_ns == quiet < T0 + 89 * PERIOD_NS < onset - 200_000_000
    assert starts[2.0] < T0 + 89 * PERIOD_NS  # the person's first frame is recorded


@pytest.mark.parametrize("idle_detect_fps", [None, 0.25])
def test_the_pre_roll_buffer_keeps_frames_back_to_the_last_quiet_look(tmp_path: Path,
                                                                       idle_detect_fps: float | None) -> None:
    """One look every 4 s and a 1 s pre-roll: when an event starts, the frames since the last quiet look (4 s
    before the onset) are still there to be recorded; looking at every frame, the buffer is as it was."""
    camera = camera_config(tmp_path / "outbox", pre_roll_s=1.0)
    camera = camera.model_copy(update={"motion": MotionConfig(idle_detect_fps=idle_detect_fps)})
    buffer = CameraPipeline(camera, Outbox(tmp_path / "outbox"), threading.Event()).buffer
    period_ns = 100_000_000  # the demo camera's 10 fps
    stop = threading.Event()
    for i in range(100):  # 10 s
        buffer.push(Frame(np.zeros((24, 32), np.uint8), T0 + i * period_ns, i), stop)
    onset = T0 + 99 * period_ns - 500_000_000  # detection half a second behind the source
    oldest = buffer.keyframe_at_or_before(onset - 4_000_000_000)
    if idle_detect_fps:
        assert oldest is not None and oldest <= onset - 4_000_000_000
    else:  # the pre-roll and the slack for detection's lag, no more
        assert oldest is None and buffer.keyframe_at_or_before(onset - 1_000_000_000) is not None


def test_idle_keyframes_only_the_motion_core_is_told_the_frames_between_two_keyframes(tmp_path: Path) -> None:
    """A source decoding keyframes only hands on one frame a GOP and says nothing of the others: the stage's
    "keyframes only" answer is what tells it frames were skipped (a 1 s GOP at 15 fps: 15 frames a look)."""
    camera = CameraConfig(fps=FPS, idle_keyframes_only=True)
    stage = DetectStage(camera, queue.Queue(), FrameBuffer(2_000_000_000, 100, True, camera.id), queue.Queue(),
                        DiskWrites(camera.id, Outbox(tmp_path / "outbox")), CameraStats(), lambda: FPS)
    told: list[int] = []
    setup = stage._setup

    def counted_setup(frame: Frame):
        detector = setup(frame)
        detect = detector.detect
        detector.detect = lambda image, frames=1: told.append(frames) or detect(image, frames)
        return detector

    stage._setup = counted_setup
    for index, frame in enumerate(_frames(150, person_from=150)):
        if index % FPS == 0:  # a keyframe a second: the only frames the source decodes while idle
            assert not stage.wants_every_frame()  # nothing moves: keyframes only
            stage.step(frame)
    assert told == [1] + [FPS] * 9
    every = CameraConfig(fps=FPS)  # the option off: every frame, never told more than one
    stage = DetectStage(every, queue.Queue(), FrameBuffer(2_000_000_000, 100, True, every.id), queue.Queue(),
                        DiskWrites(every.id, Outbox(tmp_path / "outbox2")), CameraStats(), lambda: FPS)
    assert stage.wants_every_frame() and not stage.skipped
