"""What the delivery window lets through: late items in flight go again whatever the window; an item over the
uploader's size limit is held, not set aside (``detector/delivery.py``; docs/protocol.md section 8)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector.delivery import Delivery
from quickcam.detector.link_state import InFlight, LinkState
from quickcam.detector.outbox import Outbox
from quickcam.uploader.cli import detector_line

ACK_TIMEOUT_S = 3.0


def _commit(box: Outbox, kind: str, payload: bytes) -> str:
    fields = {"camera": "cam0", "event": "e1", "width": 4, "height": 4, **protocol.payload_fields(payload)}
    if kind == "snapshot":
        header = protocol.make_header("snapshot", content_type="image/jpeg", **fields)
    else:
        header = protocol.make_header("segment", seq=0, final=True, start_ms=1, end_ms=2, frames=1, fps=15.0,
                                      container="mp4", codec="h264", content_type="video/mp4", **fields)
    box.commit_bytes(header, payload)
    return header["id"]


def _delivery(tmp_path: Path, messages: int, max_payload: int = 0
              ) -> tuple[Delivery, list[str], Callable[[dict[str, Any], bytes | None], bool]]:
    """A delivery window of ``messages`` over a fresh outbox; the ids it sends, in order; its ``send``."""
    state = LinkState(connected=True, credit_messages=messages, credit_bytes=1 << 26, max_payload=max_payload)
    delivery = Delivery(LinkConfig(ack_timeout_s=ACK_TIMEOUT_S), Outbox(tmp_path / "outbox"), state, None)
    sent: list[str] = []

    def send(header: dict[str, Any], payload: bytes | None) -> bool:
        sent.append(header["id"])
        return True

    return delivery, sent, send


@pytest.mark.parametrize("messages", [0, 1], ids=["paused", "window full"])
def test_a_late_item_in_flight_goes_again_behind_a_new_snapshot_the_window_has_no_room_for(
        tmp_path: Path, messages: int) -> None:
    # Before, the first new item the window had no room for ended the pass: a snapshot made after the segment
    # went (snapshots go first) kept the segment from being sent again, while paused and while the window was
    # full, for as long as the snapshot waited, which with a lost ack and a full window was for ever.
    delivery, sent, send = _delivery(tmp_path, messages)
    segment = _commit(delivery.outbox, "segment", b"video")
    delivery.state.in_flight[segment] = InFlight(5, 0.0)
    snapshot = _commit(delivery.outbox, "snapshot", b"jpeg")
    assert [item.id for item in delivery.outbox.pending()] == [snapshot, segment]  # the snapshot first
    assert delivery.send_pending(send, ACK_TIMEOUT_S - 1)
    assert sent == []  # not late yet; no room for the snapshot
    assert delivery.send_pending(send, ACK_TIMEOUT_S + 0.1)
    assert sent == [segment]
    assert delivery.state.retransmits == 1 and set(delivery.state.in_flight) == {segment}


def test_no_new_item_overtakes_one_the_window_has_no_room_for(tmp_path: Path) -> None:
    delivery, sent, send = _delivery(tmp_path, 2)
    delivery.state.credit_bytes = 10
    first = _commit(delivery.outbox, "segment", b"x" * 8)
    big = _commit(delivery.outbox, "segment", b"x" * 8)
    small = _commit(delivery.outbox, "segment", b"x")
    assert delivery.send_pending(send, 0.0)
    assert sent == [first] and big not in delivery.state.in_flight and small not in delivery.state.in_flight


def test_an_item_over_the_uploaders_limit_is_held_said_once_and_sent_once_the_limit_is_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Before, it was moved to outbox/refused for good: off the machine only if a person moved it back.
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    delivery, sent, send = _delivery(tmp_path, 16, max_payload=100)
    big = _commit(delivery.outbox, "segment", b"x" * 500)
    small = _commit(delivery.outbox, "segment", b"x" * 50)
    for now in (0.0, 1.0):
        assert delivery.send_pending(send, now)
    assert sent == [small] and {item.id for item in delivery.outbox.pending()} == {big, small}
    assert not any(delivery.outbox.refused.iterdir())
    state = delivery.state
    assert (state.too_large, state.too_large_now, state.error_cleared_at) == (1, 1, 0.0)
    assert state.last_error == (f"{big} is 500 bytes, over the uploader's 100-byte limit; raise "
                                "uploader.max_payload_mb (or shorten recording.segment_s)")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"link: {state.last_error}; kept in the outbox and sent once the uploader takes it; the "
                      "items behind it go on"], errors
    state.max_payload = 1000  # a credit with the raised limit
    assert delivery.send_pending(send, 2.0)
    assert sent == [small, big]
    assert (state.too_large, state.too_large_now) == (1, 0) and state.error_cleared_at > 0


def test_status_says_items_over_the_size_limit_are_held_only_while_they_are(tmp_path: Path) -> None:
    """An outside reader of `quickcam status` saw '3 outbox item(s) over the uploader's size limit (kept and
    held ...)' with the outbox empty: the count is since start; what is held now is said apart."""
    delivery, sent, send = _delivery(tmp_path, 16, max_payload=100)
    _commit(delivery.outbox, "segment", b"x" * 500)
    assert delivery.send_pending(send, 0.0) is not None
    state = delivery.state

    def line() -> str:
        return detector_line({"link": {"too_large": state.too_large, "too_large_now": state.too_large_now}}, 0)
    assert "1 HELD NOW: over the uploader's size limit" in line()
    state.max_payload = 1000
    assert delivery.send_pending(send, 1.0)
    assert "1 outbox item(s) found over the uploader's size limit since start" in line()
    assert "HELD" not in line() and "kept and held" not in line()
