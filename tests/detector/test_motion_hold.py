"""A person who stops (a burglar at a drawer) stays motion; what is left behind joins the background (base.HOLD_S)."""

from __future__ import annotations

import math

import numpy as np

from quickcam.common.config import MotionConfig, RecordingConfig
from quickcam.detector.events import Action, EventClock
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.base import HOLD_S

FPS = 10.0
SIZE = (120, 160)  # height, width: the default detection size, so nothing is shrunk
PERSON = (30, 12)  # height, width in pixels: about 1.9 % of the frame


def _room(rng: np.random.Generator) -> np.ndarray:
    """A textured, static room (gray levels 90-150)."""
    return rng.integers(90, 150, SIZE, dtype=np.uint8)


def _person(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(20, 60, PERSON, dtype=np.uint8)  # dark clothes, some texture


def _frame(room: np.ndarray, person: np.ndarray | None, x: float, rng: np.random.Generator) -> np.ndarray:
    """The room with the person's left edge at ``x`` (sub-pixel: blended), and sensor noise (sigma 2)."""
    image = room.astype(np.float32)
    if person is not None:
        height, width = person.shape
        whole, part = int(math.floor(x)), x - math.floor(x)
        top = 60
        for offset, weight in ((whole, 1 - part), (whole + 1, part)):
            if weight and 0 <= offset <= SIZE[1] - width:
                patch = image[top:top + height, offset:offset + width]
                patch += weight * (person - room[top:top + height, offset:offset + width])
    image += rng.normal(0, 2, SIZE)
    return np.clip(image, 0, 255).astype(np.uint8)


def _events(motion: list[bool]) -> list[tuple[int, int]]:
    """(start, end) frames of the events the default event logic cuts from ``motion``."""
    recording = RecordingConfig()
    clock = EventClock(int(recording.post_roll_s * 1e9), int(recording.max_event_s * 1e9),
                       int(recording.min_event_s * 1e9), MotionConfig().trigger_frames)
    events, start = [], 0
    for index, moving in enumerate(motion):
        action = clock.step(int(index * 1e9 / FPS), moving)
        if action is Action.START:
            start = index
        elif action is Action.END:
            events.append((start, index))
    if clock.recording:
        events.append((start, len(motion)))
    return events


def test_a_person_nearly_still_for_20_s_keeps_one_event_running_and_leaves_no_ghost() -> None:
    """Walk in (3 s), stand at a drawer swaying by half a pixel (20 s), walk out (3 s).

    Before HOLD_S the background took the standing person in within about 5 s
    and the event ended while they were there (motion lost for 15 s)."""
    rng = np.random.default_rng(7)
    room, person = _room(rng), _person(rng)
    path = ([None] * 50 + [2 * k for k in range(30)]  # quiet, then in at 2 px a frame
            + [60 + 0.5 * math.sin(2 * math.pi * k / 25) for k in range(200)]  # nearly still
            + [60 + 3 * k for k in range(1, 34)] + [None] * 60)  # out, then quiet
    detector = create_detector(MotionConfig(), fps=FPS)
    motion = [detector.detect(_frame(room, None if x is None else person, x or 0, rng)).motion for x in path]
    present = [i for i, x in enumerate(path) if x is not None]
    events = _events(motion)
    assert len(events) == 1, events
    start, end = events[0]
    assert start <= present[0] + 3
    assert end >= present[-1]  # the event ran the whole time they were there
    assert end <= present[-1] + 1 + int((RecordingConfig().post_roll_s + 1.5) * FPS)  # no ghost holds it on
    assert not any(motion[present[-1] + 15:]), "the place where they stood is still motion after they left"


def test_what_is_left_behind_joins_the_background_after_hold_s() -> None:
    """A bag put down (it never moves again) holds motion for about HOLD_S, then no longer: no endless event."""
    rng = np.random.default_rng(8)
    room, bag = _room(rng), _person(rng)
    path = [None] * 30 + [3 * k for k in range(20)] + [57.0] * int((HOLD_S + 10) * FPS)
    detector = create_detector(MotionConfig(), fps=FPS)
    motion = [detector.detect(_frame(room, None if x is None else bag, x or 0, rng)).motion for x in path]
    put_down = 50
    still_moving = [i for i in range(put_down, len(path)) if motion[i]]
    assert still_moving[-1] - put_down >= (HOLD_S - 5) * FPS  # held while it might be a person standing
    assert not any(motion[put_down + int((HOLD_S + 5) * FPS):])  # then accepted as part of the room


def test_a_walker_sneaking_across_in_40_s_is_motion_all_the_way() -> None:
    """0.3 px a frame at 10 fps (120 px in 40 s): the background must not take him in on the way."""
    rng = np.random.default_rng(9)
    room, person = _room(rng), _person(rng)
    path = [None] * 30 + [0.3 * k for k in range(400)] + [None] * 40
    detector = create_detector(MotionConfig(), fps=FPS)
    motion = [detector.detect(_frame(room, None if x is None else person, x or 0, rng)).motion for x in path]
    events = _events(motion)
    assert len(events) == 1, events
    assert events[0][0] <= 30 + 3 and events[0][1] >= 30 + 400
    assert sum(motion[30:430]) >= 0.95 * 400
