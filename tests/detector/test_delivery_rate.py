"""The rule that says a live camera delivers well under its declared rate (detector/pipeline/delivery_rate.py).

Fed arrival times, no camera: the sustained slow delivery is said with both rates; a dip shorter than
``SLOW_AFTER_S``, a camera at half its rate (night mode's slow shutter) and a rule that does not apply
(dark, keyframes only: ``judged`` False) are not; a gap (a reopen) starts the judgement again.
"""

from __future__ import annotations

from quickcam.detector.pipeline.delivery_rate import SLOW_AFTER_S, WINDOW_S, DeliveryRate


def _feed(rate: DeliveryRate, fps: float, start: float, seconds: float) -> float:
    """Frames at ``fps`` from ``start`` for ``seconds``; the time after the last."""
    count = round(fps * seconds)
    for n in range(count):
        rate.delivered(start + n / fps)
    return start + count / fps


def test_four_of_ten_fps_for_long_is_said_with_both_rates_and_clears_when_the_rate_is_back() -> None:
    rate = DeliveryRate()
    now = _feed(rate, 10.0, 0.0, 10.0)
    assert rate.fault(10.0, True, now) == ""
    now = _feed(rate, 4.0, now, WINDOW_S)
    assert rate.fault(10.0, True, now) == ""  # slow from here on
    now = _feed(rate, 4.0, now, SLOW_AFTER_S)
    assert rate.fault(10.0, True, now).startswith(f"delivering 4.0 of its 10.0 fps for {SLOW_AFTER_S:.0f} s (")
    now = _feed(rate, 10.0, now, WINDOW_S)
    assert rate.fault(10.0, True, now) == ""


def test_a_dip_shorter_than_the_bound_a_halved_rate_and_a_rule_that_does_not_apply_are_not_said() -> None:
    rate = DeliveryRate()
    now = _feed(rate, 10.0, 0.0, 10.0)
    now = _feed(rate, 2.0, now, WINDOW_S)
    rate.fault(10.0, True, now)
    now = _feed(rate, 2.0, now, SLOW_AFTER_S - 3)
    assert rate.fault(10.0, True, now) == ""  # a dip
    now = _feed(rate, 10.0, now, WINDOW_S)
    assert rate.fault(10.0, True, now) == ""
    for _ in range(10):  # half its rate (night mode), for long
        now = _feed(rate, 5.0, now, WINDOW_S)
        assert rate.fault(10.0, True, now) == ""
    for _ in range(10):  # dark, or keyframes only
        now = _feed(rate, 1.0, now, WINDOW_S)
        assert rate.fault(10.0, False, now) == ""


def test_a_gap_longer_than_the_window_a_reopen_starts_the_judgement_again() -> None:
    rate = DeliveryRate()
    now = _feed(rate, 4.0, 0.0, WINDOW_S)
    rate.fault(10.0, True, now)
    now = _feed(rate, 4.0, now, SLOW_AFTER_S - 1)
    now = _feed(rate, 4.0, now + WINDOW_S + 1, WINDOW_S)  # lost and reopened, slow again
    assert rate.fault(10.0, True, now) == ""
