"""The link's last error is shown as current only while it stands; once the uploader answers again it is past.

A detector whose uploader went silent for a moment used to show "last error:
uploader silent for 2 s" in ``quickcam status`` for ever after, on a link that
worked again: it read as a fault that was not there.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector import status_file
from quickcam.detector.link import UploaderLink
from quickcam.detector.link_state import LinkState
from quickcam.detector.outbox import Outbox
from quickcam.uploader.cli import detector_line
from tests.conftest import private_endpoint
from tests.fakes.uploader_peer import UploaderPeer
from tests.waiting import wait_until


class _MutableUploader(UploaderPeer):
    """A protocol peer that answers every hello and status with credit, except while ``muted``."""

    def __init__(self, endpoint: str) -> None:
        self.muted = threading.Event()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        return None if self.muted.is_set() else super().answer(peer, message)


def _line(link: UploaderLink) -> str:
    now = time.time()
    return detector_line(status_file.build_status({}, (0, 0), 0, status_file.link_status(link), now=now), now)


@pytest.mark.realtime  # the silence is three heartbeats on the wall clock
def test_an_uploader_silence_is_shown_as_past_with_its_time_once_the_uploader_answers_again(tmp_path: Path) -> None:
    endpoint = private_endpoint(tmp_path)
    link = UploaderLink(LinkConfig(endpoint=endpoint, heartbeat_s=0.2, ack_timeout_s=3),
                        Outbox(tmp_path / "outbox"), ["cam0"], camera_status=dict)  # makes the private folder
    peer = _MutableUploader(endpoint)
    try:
        link.start()
        assert wait_until(lambda: link.state.connected, 15)
        peer.muted.set()
        assert wait_until(lambda: not link.state.connected, 10)
        during = _line(link)
        peer.muted.clear()
        assert wait_until(lambda: link.state.connected and link.state.error_cleared_at, 15)
        after = _line(link)
    finally:
        link.stop()
        peer.close()
    assert re.search(r"NOT CONNECTED; .*; last error: uploader silent for \d+ s$", during), during
    assert "last error: " not in after, after  # not current any more
    assert re.search(r"connected; .*; last error \d+ s ago, cleared \d+ s ago: uploader silent for \d+ s$",
                     after), after


def test_a_new_error_stands_again_until_the_link_is_healthy_and_a_refused_key_is_not_healthy() -> None:
    state = LinkState()
    state.healthy()
    assert state.error_cleared_at == 0  # nothing to clear
    state.fail("uploader silent for 9 s")
    assert state.last_error_at and not state.error_cleared_at
    state.healthy()
    cleared = state.error_cleared_at
    assert cleared >= state.last_error_at
    state.healthy()
    assert state.error_cleared_at == cleared  # cleared once, at the first healthy moment
    state.fail("uploader refused this detector's CURVE key (ZAP status 400)")
    state.auth_refused = True
    state.healthy()
    assert not state.error_cleared_at  # still refused: the error stands


def test_status_shows_an_error_as_current_when_the_detector_does_not_say_it_cleared() -> None:
    now = 1_800_000_000.0
    link = {"endpoint": "ipc://link/uploader.sock", "connected": False, "last_error": "uploader silent for 6 s"}
    det = {"time": now, "running": True, "interval_s": 2.0, "link": link}
    assert detector_line(det, now).endswith("; last error: uploader silent for 6 s")  # an older or other detector
    link.update(connected=True, last_error_at=now - 300, error_cleared_at=now - 90)
    assert detector_line(det, now).endswith("; last error 5 min ago, cleared 90 s ago: uploader silent for 6 s")
