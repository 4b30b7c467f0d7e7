"""When a source that went away is reopened: at once after a steady run, with backoff after a short one."""

from __future__ import annotations

from quickcam.detector.pipeline.reopen import STEADY_S, ReopenPace


def test_a_source_that_keeps_going_away_soon_after_opening_waits_longer_each_time_up_to_the_cap() -> None:
    pace = ReopenPace(reopen_max_s=3.0)
    assert pace.wait_s(0.0) == 0.0  # never opened: the first open is not delayed
    waits = []
    for now in range(5):
        pace.opened(float(now))
        waits.append(pace.wait_s(now + 0.1))
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_source_lost_after_a_steady_run_is_reopened_at_once_and_its_backoff_starts_over() -> None:
    pace = ReopenPace(reopen_max_s=30.0)
    for _ in range(3):
        pace.opened(0.0)
        pace.wait_s(1.0)
    pace.opened(100.0)
    assert pace.wait_s(100.0 + STEADY_S) == 0.0
    pace.opened(200.0)
    assert pace.wait_s(201.0) == 0.5
