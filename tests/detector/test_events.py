"""EventClock: trigger, post-roll, minimum and maximum length, on timestamps alone."""

from __future__ import annotations

from quickcam.detector.events import Action, EventClock

S = 1_000_000_000


def _run(clock: EventClock, motion: list[bool], fps: int = 10) -> list[Action]:
    return [clock.step(i * S // fps, m) for i, m in enumerate(motion)]


def test_an_event_starts_after_trigger_frames_of_motion_and_dates_its_onset_from_the_first() -> None:
    clock = EventClock(post_roll_ns=S, max_event_ns=60 * S, trigger_frames=2)
    actions = _run(clock, [False, True, False, True, True, True])
    assert actions.index(Action.START) == 4
    assert clock.onset_ns == 3 * S // 10


def test_one_noisy_frame_does_not_start_an_event() -> None:
    clock = EventClock(post_roll_ns=S, max_event_ns=60 * S, trigger_frames=2)
    assert Action.START not in _run(clock, [True, False] * 20)


def test_the_event_ends_post_roll_after_the_last_motion() -> None:
    clock = EventClock(post_roll_ns=S, max_event_ns=60 * S)
    actions = _run(clock, [True] * 5 + [False] * 30)
    assert actions.index(Action.END) == 4 + 11  # last motion at frame 4, 1 s post-roll at 10 fps
    assert clock.end_ns == 15 * S // 10


def test_a_lost_source_cuts_the_running_event_and_the_trigger_streak() -> None:
    clock = EventClock(post_roll_ns=S, max_event_ns=60 * S, trigger_frames=2)
    _run(clock, [True] * 5)
    assert clock.cut(7 * S // 10) and clock.end_ns == 7 * S // 10 and not clock.recording
    clock.step(8 * S // 10, True)
    assert not clock.cut(9 * S // 10)  # nothing running; the half-made streak starts over
    assert clock.step(S, True) is Action.NONE and clock.step(11 * S // 10, True) is Action.START


def test_a_short_event_lasts_at_least_min_event_length() -> None:
    clock = EventClock(post_roll_ns=S // 10, max_event_ns=60 * S, min_event_ns=3 * S)
    actions = _run(clock, [True] + [False] * 50)
    assert actions.index(Action.END) == 30


def test_a_long_event_is_cut_at_max_length_and_restarts_while_motion_goes_on() -> None:
    clock = EventClock(post_roll_ns=S, max_event_ns=2 * S)
    actions = _run(clock, [True] * 50)
    assert actions.count(Action.START) >= 2
    first_end = actions.index(Action.END)
    assert first_end == 21 and actions[first_end + 1] is Action.START
