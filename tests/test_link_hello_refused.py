"""A hello the uploader refuses: one error line a streak naming the fix, counted, in ``quickcam status``.

Before, a hello the protocol refuses (camera id ``..``, taken by the config until the sixteenth session) was a
traceback and a restart of the link at every heartbeat; a hello the uploader nacked (another protocol version)
was `uploader rejected a message of ours` at every heartbeat, with no fix named and nothing counted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector import status_file
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from quickcam.uploader.cli import detector_line
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer
from tests.native_build import native_detector
from tests.test_curve import running_uploader
from tests.waiting import wait_until


def _link(endpoint: str, root: Path, cameras: list[str]) -> UploaderLink:
    return UploaderLink(LinkConfig(endpoint=endpoint, heartbeat_s=0.2), Outbox(root / "outbox"), cameras,
                        camera_status=dict)


def _line(link: UploaderLink) -> str:
    now = time.time()
    return detector_line(status_file.build_status({}, (0, 0), 0, status_file.link_status(link), now=now), now)


def _link_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "quickcam.detector.link" and r.levelno >= logging.WARNING]


def test_a_hello_the_protocol_refuses_is_one_line_naming_the_fix_not_a_traceback_at_every_heartbeat(
        workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with running_uploader(workdir):
        # an id the config now refuses; any hello the protocol refuses goes this way
        link = _link(private_endpoint(workdir), workdir, [".."])
        try:
            link.start()
            assert wait_until(lambda: link.state.hello_refused >= 3, 10), link.state
            line = _line(link)
        finally:
            link.stop()
    errors = _link_records(caplog)
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is None  # no traceback
    message = errors[0].getMessage()
    assert message.startswith("link: the uploader refuses this detector's hello (bad_value: hello.cameras holds '..'")
    assert "fix the camera ids in this detector's config" in message and "restart it" in message, message
    assert "hello(s) refused" in line and "last error: the uploader refuses this detector's hello" in line, line


class _RefusingUploader(UploaderPeer):
    """Nacks every hello (an uploader of another protocol version) until ``accept`` is set."""

    def __init__(self, endpoint: str) -> None:
        self.accept = threading.Event()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "hello" and not self.accept.is_set():
            return protocol.make_nack(message.header["id"], "bad_value", "hello.v is not a version this uploader reads")
        return super().answer(peer, message)


def _detector_beside(tmp_path: Path, which: str, peer_class: type[UploaderPeer]
                     ) -> tuple[UploaderPeer, subprocess.Popen[str], Callable[[], dict], Path]:
    """``which`` detector, watching the demo with no event (hellos only), linked to ``peer_class``'s stand-in:
    the stand-in, the process, a reader of the status file's ``link`` and the status file."""
    endpoint = private_endpoint(tmp_path)
    peer = peer_class(endpoint)
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.2\n'
                                            "[motion]\nmin_area_fraction = 0.95\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    command = [str(native_detector())] if which == "native" else [QUICKCAM, "detector"]
    process = subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "60"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = tmp_path / "outbox" / "detector-status.json"

    def link() -> dict:
        try:
            return json.loads(status.read_text()).get("link", {})
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    return peer, process, link, status


@pytest.mark.parametrize("which", ["python", "native"])
def test_either_detector_says_a_refused_hello_once_and_counts_it_in_its_status_file(tmp_path: Path,
                                                                                     which: str) -> None:
    peer, process, link, status = _detector_beside(tmp_path, which, _RefusingUploader)
    try:
        assert wait_until(lambda: link().get("hello_refused", 0) >= 3, 20), link()
        line = detector_line(json.loads(status.read_text()), time.time())
        peer.accept.set()
        assert wait_until(lambda: link().get("connected") and link().get("error_cleared_at"), 20), link()
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
        peer.close()
    refused = [x for x in output.splitlines() if "refuses this detector's hello" in x]
    assert len(refused) == 1 and "upgrade the older of the two" in refused[0], output[-3000:]
    assert "Traceback" not in output and "rejected a message of ours" not in output, output[-3000:]
    assert "hello(s) refused" in line and "last error: the uploader refuses this detector's hello" in line, line
    assert "the uploader takes this detector's hello now" in output, output[-3000:]


class _FailingUploader(UploaderPeer):
    """Answers every hello with a nack that names no message (``ref`` ""), as the receiver's ``internal`` does."""

    def __init__(self, endpoint: str) -> None:
        self.accept = threading.Event()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "hello" and not self.accept.is_set():
            return protocol.make_nack("", "internal", "internal error; send again later")
        return super().answer(peer, message)


@pytest.mark.parametrize("which", ["python", "native"])
def test_either_detector_counts_a_nack_naming_no_message_as_rejected_not_as_a_refused_hello(tmp_path: Path,
                                                                                           which: str) -> None:
    # Before, an empty-ref nack before credit was counted (and said) as a refused hello, with the fix "upgrade
    # the older of the two": it names no message, and after credit the same nack was counted nowhere.
    peer, process, link, status = _detector_beside(tmp_path, which, _FailingUploader)
    try:
        assert wait_until(lambda: link().get("rejected", 0) >= 3, 20), link()
        line = detector_line(json.loads(status.read_text()), time.time())
        peer.accept.set()
        assert wait_until(lambda: link().get("connected") and link().get("error_cleared_at"), 20), link()
        final = link()
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
        peer.close()
    assert final.get("hello_refused") == 0, final
    assert "refuses this detector's hello" not in output, output[-3000:]
    assert output.count("rejected a message of ours (internal: internal error; send again later)") == 1, output[-3000:]
    assert "message(s) rejected by the uploader" in line, line


class _LateRefusingUploader(UploaderPeer):
    """Nacks each hello only once the next one came (a slow uploader: the nack of the hello before crosses the
    detector's next hello on the wire)."""

    def __init__(self, endpoint: str) -> None:
        self.held = ""
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "hello":
            late, self.held = self.held, message.header["id"]
            if not late:
                return None
            return protocol.make_nack(late, "bad_value", "hello.v is not a version this uploader reads")
        return super().answer(peer, message)


@pytest.mark.parametrize("which", ["python", "native"])
def test_a_nack_of_the_hello_before_the_last_is_a_refused_hello_not_a_rejected_message(tmp_path: Path,
                                                                                      which: str) -> None:
    # Seen on a loaded machine (native): a nack of the hello before came after the next hello was sent, and was
    # counted and said as "uploader rejected a message of ours". Here every nack comes one hello late.
    peer, process, link, _ = _detector_beside(tmp_path, which, _LateRefusingUploader)
    try:
        assert wait_until(lambda: link().get("hello_refused", 0) >= 3, 20), link()
        final = link()
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
        peer.close()
    assert final.get("rejected") == 0, final
    assert "rejected a message of ours" not in output, output[-3000:]
    assert sum("refuses this detector's hello" in x for x in output.splitlines()) == 1, output[-3000:]


class _CountingUploader(UploaderPeer):
    """Grants credit, and keeps each hello's arrival time."""

    def __init__(self, endpoint: str) -> None:
        self.hellos: list[float] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "hello":
            self.hellos.append(time.monotonic())
        return super().answer(peer, message)


@pytest.mark.parametrize("which", ["python", "native"])
def test_a_connection_gets_one_hello(tmp_path: Path, which: str) -> None:
    # The Python detector sent a second hello 1 ms after the first credit: the handshake's "hello now" waited for
    # the link to count as connected, while the knock had sent the hello meanwhile (an outside receiver's finding).
    peer, process, link, _ = _detector_beside(tmp_path, which, _CountingUploader)
    try:
        assert wait_until(lambda: link().get("connected"), 30), link()
        connected = time.monotonic()
        assert not wait_until(lambda: len(peer.hellos) > 1, 2), peer.hellos  # no second hello on this connection
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        peer.close()
    assert len(peer.hellos) == 1 and peer.hellos[0] < connected, peer.hellos
