"""The view guard on synthetic pictures and on real footage: covered, turned away and frozen are said; the dark,
an IR switch, a light step and heavy noise are not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.pipeline.view_guard import (
    BLOCKED_S,
    CLEAR_S,
    FROZEN_S,
    MOVED_ACCEPT_S,
    MOVED_S,
    ViewFault,
    ViewGuard,
)

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 4.0  # the guard looks four times a second; feeding it more only skips frames
SIZE = (384, 288)


MOTION = create_detector(MotionConfig())


def prepared(image: np.ndarray) -> np.ndarray:
    """The motion core's picture of ``image`` (``MotionDetector.gray``, what the detect stage hands the guard)."""
    return MOTION._prepare(image)


def test_the_motion_core_keeps_the_picture_the_guard_reads() -> None:
    detector = create_detector(MotionConfig())
    image = next(textured())
    detector.detect(image)
    assert detector.gray is not None and np.array_equal(detector.gray, prepared(image))


def watch(frames: Iterator[np.ndarray], seconds: float, watch_frozen: bool = True,
          guard: ViewGuard | None = None, start_s: float = 0.0) -> tuple[ViewGuard, list[tuple[float, str]]]:
    """Feed ``seconds`` of frames at FPS; every change as (seconds, kind or '' when the view came back)."""
    guard = guard or ViewGuard(watch_frozen)
    changes = []
    for n in range(int(seconds * FPS)):
        t = start_s + n / FPS
        started, ended = guard.look(prepared(next(frames)), int(t * 1e9))
        if started is not None or ended is not None:
            changes.append((t, started.kind if started else ""))
    return guard, changes


def textured(seed: int = 1, noise: float = 3.0) -> Iterator[np.ndarray]:
    """A textured scene with sensor noise, as every real camera has."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(30, 220, (36, 48, 3), dtype=np.uint8), SIZE, interpolation=cv2.INTER_CUBIC)
    while True:
        yield np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def test_a_uniform_picture_is_said_blocked_after_a_few_seconds_in_words_and_cleared_when_the_view_is_back() -> None:
    scene, flat = textured(), repeat(np.full((*SIZE[::-1], 3), 60, np.uint8))
    guard, changes = watch(scene, 10)
    assert changes == [] and guard.fault is None
    guard, changes = watch(flat, 8, guard=guard, start_s=10)
    [(at, kind)] = changes
    assert kind == "blocked" and BLOCKED_S <= at - 10 <= BLOCKED_S + 0.5
    assert isinstance(guard.fault, ViewFault) and guard.fault.since_ns == 10 * 10**9
    assert guard.fault.text.startswith("view blocked: the picture has no detail for")
    assert "covered" in guard.fault.text and "no light at all" in guard.fault.text
    guard, changes = watch(scene, 3, guard=guard, start_s=18)
    assert changes == [(18 + CLEAR_S, "")] and guard.fault is None and guard.episodes == 1


def test_a_view_hovering_at_the_threshold_is_one_episode_not_one_a_second() -> None:
    scene, flat = textured(), np.full((*SIZE[::-1], 3), 60, np.uint8)
    guard, _ = watch(scene, 10)
    flicker = (flat if (n // 3) % 2 == 0 else next(scene) for n in range(10**6))  # 0.75 s each, for a while
    guard, changes = watch(repeat(flat), 5, guard=guard, start_s=10)
    guard, more = watch(flicker, 20, guard=guard, start_s=15)
    assert [kind for _, kind in changes + more] == ["blocked"] and guard.episodes == 1


def test_a_camera_re_aimed_for_good_is_said_moved_then_its_new_view_is_taken_as_its_own() -> None:
    guard, usual, other = ViewGuard(watch_frozen=False), prepared(next(textured(1))), prepared(next(textured(9)))
    changes = []
    for n in range(int((10 + MOVED_ACCEPT_S + 5) * FPS)):  # ten minutes: the pictures are made once
        started, ended = guard.look(usual if n < 10 * FPS else other, int(n * 1e9 / FPS))
        if started is not None or ended is not None:
            changes.append((n / FPS, started.kind if started else ""))
    assert [kind for _, kind in changes] == ["moved", ""] and guard.episodes == 1
    assert changes[1][0] - changes[0][0] >= MOVED_ACCEPT_S - MOVED_S - 1


def test_a_camera_that_starts_covered_says_so_though_it_never_learnt_a_view() -> None:
    guard, changes = watch(repeat(np.zeros((*SIZE[::-1], 3), np.uint8)), 6)
    assert [kind for _, kind in changes] == ["blocked"]


def test_a_covered_lens_sending_an_unchanging_black_picture_stays_blocked_never_frozen() -> None:
    """Before, blocked for FROZEN_S, then frozen with "the camera's encoder is stuck: restart or power-cycle the
    camera": a black picture has no noise to change, but the fix is to uncover the lens (outside finding #17)."""
    guard, changes = watch(textured(), 10)
    guard, changes = watch(repeat(np.zeros((*SIZE[::-1], 3), np.uint8)), 3 * FROZEN_S + 5, guard=guard, start_s=10)
    assert [kind for _, kind in changes] == ["blocked"] and guard.fault.kind == "blocked", changes
    assert "covered" in guard.fault.text


def test_frozen_is_said_only_after_frozen_s_of_identical_frames_and_only_when_watched() -> None:
    still = next(textured())
    guard, changes = watch(repeat(still), FROZEN_S + 2)
    [(at, kind)] = changes
    assert kind == "frozen" and FROZEN_S <= at <= FROZEN_S + 0.5 and "frames keep coming" in guard.fault.text
    assert watch(repeat(still), FROZEN_S + 2, watch_frozen=False)[1] == []  # a file may hold a still


def test_a_static_scene_whose_decoder_repeats_frames_between_keyframes_is_not_frozen() -> None:
    """H.264 skips the macroblocks of a static scene: identical frames for a GOP, a new one at each keyframe."""
    scene = textured(noise=2.0)

    def gop_of_repeats() -> Iterator[np.ndarray]:
        while True:
            keyframe = next(scene)
            for _ in range(int(2 * FPS)):  # a 2 s GOP
                yield keyframe

    assert watch(gop_of_repeats(), 30)[1] == []


def _gop_run(gop_s: float, stuck_from_s: float, seconds: float) -> list[tuple[float, str]]:
    """A static scene whose decoder repeats every frame between keyframes (fresh noise at each keyframe), and
    from ``stuck_from_s`` on an encoder that repeats its picture across keyframes too."""
    scene, guard, changes = textured(noise=2.0), ViewGuard(), []
    picture = next(scene)
    for n in range(int(seconds * FPS)):
        t = n / FPS
        keyframe = n % int(gop_s * FPS) == 0
        if keyframe and t < stuck_from_s:
            picture = next(scene)
        started, ended = guard.look(prepared(picture), int(t * 1e9), keyframe)
        if started is not None or ended is not None:
            changes.append((t, started.kind if started else ""))
    return changes


def test_where_keyframes_are_known_a_freeze_must_span_two_of_them() -> None:
    assert _gop_run(gop_s=15, stuck_from_s=1000, seconds=60) == []  # a 15 s GOP is not a 10 s freeze
    [(at, kind)] = _gop_run(gop_s=2, stuck_from_s=10, seconds=25)  # stuck after the 8 s keyframe's picture
    assert kind == "frozen" and 8 + FROZEN_S <= at <= 8 + FROZEN_S + 1


# -- real footage: OpenCV's vtest.avi (a pavement with walkers) and messi5.jpg ---------------------------------


@cache
def _real() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DATA / "vtest.avi"))
    frames = []
    while len(frames) < 60:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    if len(frames) < 60:
        pytest.skip("tests/data/vtest.avi missing: run scripts/install_test_tools.sh")
    return frames


def footage(change: Callable[[np.ndarray, float], np.ndarray] = lambda f, t: f, after_s: float = 8.0,
            seed: int = 2) -> Iterator[np.ndarray]:
    """The real footage back and forth, at FPS, with sensor noise; from ``after_s`` on, ``change(frame, t)``."""
    frames, noise = _real(), np.empty((*SIZE[::-1], 3), np.float32)
    cv2.setRNGSeed(seed)
    for n in range(10**6):
        at = n % (2 * len(frames) - 2)
        frame = frames[at if at < len(frames) else 2 * len(frames) - 2 - at].astype(np.float32)
        t = n / FPS
        if t >= after_s:
            frame = change(frame, t - after_s).astype(np.float32)
        cv2.randn(noise, 0, 2)
        yield np.clip(frame + noise, 0, 255).astype(np.uint8)


def _cover(frame: np.ndarray, t: float) -> np.ndarray:
    """A hand or a cloth over the lens in half a second: smooth and dark."""
    k = min(1.0, t / 0.5)
    return frame * (1 - k) + (cv2.GaussianBlur(frame, (0, 0), 40) * 0.35 + 20) * k


def _spray(frame: np.ndarray, t: float) -> np.ndarray:
    """Paint sprayed on the lens over 3 s: blurred and darkened."""
    k = min(1.0, t / 3.0)
    return cv2.GaussianBlur(frame, (0, 0), 1 + 14 * k) * (1 - 0.5 * k)


def _turned(frame: np.ndarray, t: float) -> np.ndarray:
    other = cv2.imread(str(DATA / "messi5.jpg"))
    if other is None:
        pytest.skip("tests/data/messi5.jpg missing: run scripts/install_test_tools.sh")
    return cv2.resize(other, SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


@pytest.mark.parametrize(("change", "kind", "within_s"), [
    (_cover, "blocked", BLOCKED_S + 1.5), (_spray, "blocked", BLOCKED_S + 4), (_turned, "moved", MOVED_S + 1.5),
])
def test_real_footage_covered_sprayed_or_turned_away_is_said(change: Callable, kind: str, within_s: float) -> None:
    guard, changes = watch(footage(change), 8 + within_s + 1)
    [(at, said)] = changes
    assert said == kind and at - 8 <= within_s


def test_real_footage_frozen_by_a_stuck_encoder_is_said() -> None:
    def stuck() -> Iterator[np.ndarray]:
        held = np.empty(0)
        for n, frame in enumerate(footage()):
            if n <= 32:  # from 8 s on, the encoder repeats one frame
                held = frame
            yield held

    guard, changes = watch(stuck(), 8 + FROZEN_S + 1)
    assert [kind for _, kind in changes] == ["frozen"]


def _ir(frame: np.ndarray, t: float) -> np.ndarray:
    gray = cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32)
    return cv2.cvtColor(np.clip((gray - 110) * 0.8 + 120, 0, 255), cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("change", [
    pytest.param(lambda f, t: f * 0.05, id="dark at 5 %"),
    pytest.param(_ir, id="IR switch"),
    pytest.param(lambda f, t: f * (1.8 if t % 8 < 4 else 0.45), id="light steps"),
    pytest.param(lambda f, t: f * max(0.12, 1 - t / 6), id="fade"),
    pytest.param(lambda f, t: f + cv2.randn(np.empty_like(f), 0, 12), id="heavy noise"),
])
def test_real_footage_in_the_dark_under_ir_light_steps_a_fade_or_heavy_noise_is_never_flagged(
        change: Callable) -> None:
    assert watch(footage(change), 30)[1] == []


def _next_room_lit(frame: np.ndarray, t: float) -> np.ndarray:
    """A dim room (mean ~15) with a doorway (13 % x 55 % of the picture) onto the next room, dark, whose light is
    switched on at 8 s: the opening 20 x brighter than it was (footage_check's `next-room-light`)."""
    door = np.zeros(frame.shape[:2], np.float32)
    h, w = door.shape
    door[int(0.2 * h):int(0.75 * h), int(0.4 * w):int(0.53 * w)] = 1.0
    door = cv2.GaussianBlur(door, (0, 0), 1.2)[..., None]
    room = frame * 0.15
    return room * (1 + 5 * door) + 30 * door if t >= 8 else room * (1 - 0.7 * door)


def test_a_light_left_on_in_the_next_room_seen_through_a_doorway_is_not_a_moved_camera() -> None:
    """Before, `view moved` 8 s after the light came on (FINDINGS #83): the doorway's edges, in place but the other
    way round and twentyfold, drowned the whole picture's correlation with the learnt view (-0.13 against
    MOVED_MATCH). Matched tile by tile, sign dropped, the room still lines up (0.73 at the lowest); a camera
    turned away (above) is still said."""
    guard, changes = watch(footage(_next_room_lit, after_s=0), 8 + MOVED_S + 6)
    assert changes == [] and guard.match > 0.6, (changes, guard.match)
