"""Issue 12 item 6: the detector's link says what it knows, and waits for acks at shutdown.

- An uploader frozen with SIGSTOP is reported as silent / not answering, never
  as a CURVE key problem when CURVE is off.
- At stop the detector waits up to its ack timeout (bounded) for the ack of an
  item in flight, instead of leaving it for the next start.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import zmq

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector.app import SHUTDOWN_DRAIN_MAX_S, shutdown_drain_s
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from tests.conftest import private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.test_curve import running_uploader, snapshot
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # silences and the shutdown's wait are measured on the wall clock


def test_a_frozen_uploader_is_reported_as_silent_without_blaming_curve(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    outbox = Outbox(workdir / "outbox")
    link = UploaderLink(LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3,
                                   heartbeat_s=0.5), outbox, ["cam0"], camera_status=dict)
    with running_uploader(workdir) as up:
        link.start()
        try:
            assert wait_until(lambda: link.state.connected, 15)
            up.proc.send_signal(signal.SIGSTOP)
            try:
                assert wait_until(lambda: not link.state.connected, 10)
            finally:
                up.proc.send_signal(signal.SIGCONT)
            assert wait_until(lambda: link.state.connected, 15)
        finally:
            link.stop()
    assert "link: uploader silent for" in caplog.text
    assert "CURVE" not in caplog.text and "curve" not in caplog.text
    # The handshake that times out while the uploader stays frozen (libzmq: 30 s) says the same.
    text = link._handshake_failure(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, after_s=30)
    assert text.startswith("no answer from the uploader at ") and "CURVE" not in text


class _SlowAckUploader(UploaderPeer):
    """A protocol peer that answers heartbeats at once but acks items only after ``ack_after_s``."""

    def __init__(self, endpoint: str, ack_after_s: float) -> None:
        self.ack_after_s = ack_after_s
        self.received_at: float | None = None
        self.pending: list[tuple[float, bytes, str]] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type in ("hello", "status"):
            return credit()
        self.received_at = time.monotonic()
        self.pending.append((time.monotonic() + self.ack_after_s, peer, message.header["id"]))
        return None

    def between(self) -> None:
        for due in [p for p in self.pending if p[0] <= time.monotonic()]:
            self.pending.remove(due)
            self.send(due[1], protocol.make_header("ack", ref=due[2]))


def test_shutdown_waits_up_to_the_ack_timeout_for_an_item_in_flight(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    assert shutdown_drain_s(10) == 10 and shutdown_drain_s(1) == 5
    assert shutdown_drain_s(3600) == SHUTDOWN_DRAIN_MAX_S  # bounded: systemd and compose give 30 s to stop
    assert shutdown_drain_s(3600, spent_s=10) == SHUTDOWN_DRAIN_MAX_S - 10  # cameras' closing counts in it
    assert shutdown_drain_s(10, spent_s=30) == 0
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    endpoint = private_endpoint(tmp_path)
    config = LinkConfig(endpoint=endpoint, ack_timeout_s=10, heartbeat_s=0.5)
    outbox = Outbox(tmp_path / "outbox")
    link = UploaderLink(config, outbox, ["cam0"], camera_status=dict)  # makes the private folder
    slow = _SlowAckUploader(endpoint, ack_after_s=7)  # longer than the old 5 s drain, inside the 10 s timeout
    try:
        link.start()
        assert wait_until(lambda: link.state.connected, 15)
        header, payload = snapshot()
        outbox.commit_bytes(header, payload)
        assert wait_until(lambda: slow.received_at is not None, 10)
        started = time.monotonic()
        link.stop(drain_s=shutdown_drain_s(config.ack_timeout_s))
        waited = time.monotonic() - started
    finally:
        slow.close()
    assert outbox.depth()[0] == 0, "the item in flight was left for the next start"
    assert 5 < waited < 10, waited
    assert "waiting up to 10 s for the uploader to acknowledge 1 item(s)" in caplog.text
    assert "1 of 1 item(s) acknowledged" in caplog.text


def test_the_drain_line_counts_the_items_committed_during_the_drain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """It said `depth at the start - depth left`: "1 of 1" here, "-1 of 1" had none been acked."""
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    endpoint = private_endpoint(tmp_path)
    outbox = Outbox(tmp_path / "outbox")
    link = UploaderLink(LinkConfig(endpoint=endpoint, ack_timeout_s=10, heartbeat_s=0.5), outbox, ["cam0"],
                        camera_status=dict)
    slow = _SlowAckUploader(endpoint, ack_after_s=0.5)
    try:
        link.start()
        assert wait_until(lambda: link.state.connected, 15)
        outbox.commit_bytes(*snapshot())
        assert wait_until(lambda: slow.received_at is not None, 10)
        late = threading.Timer(0.1, lambda: [outbox.commit_bytes(*snapshot()) for _ in range(2)])
        late.start()  # a camera's last segments, committed while the link drains
        link.stop(drain_s=5)
        late.join()
    finally:
        slow.close()
    assert outbox.depth()[0] == 0, caplog.text
    assert "3 of 3 item(s) acknowledged" in caplog.text, caplog.text


def test_a_new_item_leaves_at_once_while_the_idle_link_sleeps_until_its_next_heartbeat(tmp_path: Path) -> None:
    """The link no longer looks at the outbox 20 times a second: a committed item wakes it."""
    endpoint = private_endpoint(tmp_path)
    outbox = Outbox(tmp_path / "outbox")
    link = UploaderLink(LinkConfig(endpoint=endpoint, ack_timeout_s=30, heartbeat_s=30), outbox, ["cam0"],
                        camera_status=dict)
    peer = _SlowAckUploader(endpoint, ack_after_s=0)
    try:
        link.start()
        assert wait_until(lambda: link.state.connected, 15)
        assert link._idle_ms(time.monotonic(), time.monotonic() + 30) == 1000  # asleep: nothing is due
        time.sleep(0.5)  # past the first status after connecting: the link sleeps in its poll (a second at most)
        header, payload = snapshot()
        committed = time.monotonic()
        outbox.commit_bytes(header, payload)
        assert wait_until(lambda: peer.received_at is not None, 10)
        assert peer.received_at - committed < 0.5  # woken by the commit, not by its once-a-second look
        assert wait_until(lambda: outbox.depth()[0] == 0, 10)
    finally:
        link.stop()
        peer.close()


def test_a_detector_stopping_right_after_it_started_delivers_before_it_ends(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A short file analysed in a fraction of a second ended before the first handshake, and its event
    waited in the outbox for a next start that an analysis run never has (seen in CI, test_camera_open)."""
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    outbox = Outbox(workdir / "outbox")
    header, payload = snapshot()
    outbox.commit_bytes(header, payload)
    link = UploaderLink(LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3,
                                   heartbeat_s=0.5), outbox, ["cam0"], camera_status=dict)
    with running_uploader(workdir):
        link.start()
        link.stop(drain_s=shutdown_drain_s(3))  # at once: not yet connected
    assert outbox.depth()[0] == 0, caplog.text
    assert "1 of 1 item(s) acknowledged" in caplog.text


def test_with_no_uploader_at_all_the_stop_waits_5_s_for_one_then_keeps_the_items(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    outbox = Outbox(tmp_path / "outbox")
    header, payload = snapshot()
    outbox.commit_bytes(header, payload)
    link = UploaderLink(LinkConfig(endpoint=private_endpoint(tmp_path), ack_timeout_s=20, heartbeat_s=0.5),
                        outbox, ["cam0"], camera_status=dict)
    link.start()
    started = time.monotonic()
    link.stop(drain_s=shutdown_drain_s(20))
    waited = time.monotonic() - started
    assert outbox.depth()[0] == 1  # kept for the next start, never lost
    assert 4.5 < waited < 8, waited  # not the whole 20 s: nobody is there to answer
    assert "the uploader is not connected, the rest is sent on next start" in caplog.text
