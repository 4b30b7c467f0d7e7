"""Both detectors' delivery window against an uploader stand-in: a late item in flight goes again behind a new
snapshot the window has no room for; an item over the uploader's size limit is held (counted, and said as held
now: `link.too_large_now`), then sent once it is raised.

Before, the first new item the window had no room for ended each pass over the outbox: with a lost ack and a
full window, a snapshot made afterwards (snapshots go first) kept the late segment from going again, and itself
from going, for as long as the link stood. An item over the announced limit was moved to ``outbox/refused/``
for good.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from quickcam.common import protocol
from quickcam.detector.outbox import Outbox
from quickcam.uploader.cli import detector_line
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector
from tests.waiting import wait_until


def _segment(box: Outbox, payload: bytes) -> str:
    header = protocol.make_header("segment", camera="cam0", event="e0", seq=0, final=True, start_ms=1, end_ms=2,
                                  frames=1, fps=15.0, width=4, height=4, container="mp4", codec="h264",
                                  content_type="video/mp4", **protocol.payload_fields(payload))
    box.commit_bytes(header, payload)
    return header["id"]


def _start(tmp_path: Path, which: str, endpoint: str, sections: str) -> subprocess.Popen[str]:
    (tmp_path / "quickcam.toml").write_text(f'{sections}[link]\nendpoint = "{endpoint}"\nack_timeout_s = 2\n'
                                            "heartbeat_s = 0.5\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    command = [str(native_detector())] if which == "native" else [QUICKCAM, "detector"]
    return subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "90"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _link(tmp_path: Path) -> dict[str, Any]:
    try:
        return json.loads((tmp_path / "outbox" / "detector-status.json").read_text()).get("link", {})
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


class _OneAtATime(UploaderPeer):
    """Credit for one item; the first copy of ``lost`` goes unanswered (its ack lost), everything else acked."""

    def __init__(self, endpoint: str, lost: str) -> None:
        self.lost, self.received, self.lock = lost, [], threading.Lock()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type not in ("snapshot", "segment"):
            return credit(messages=1)
        with self.lock:
            self.received.append((message.type, message.header["id"]))
            first = len(self.received) == 1
        return None if first and message.header["id"] == self.lost else protocol.make_header(
            "ack", ref=message.header["id"])

    def types(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.received]


@pytest.mark.parametrize("which", ["python", "native"])
def test_a_segment_whose_ack_was_lost_goes_again_behind_a_new_snapshot_and_the_snapshot_follows(
        tmp_path: Path, which: str) -> None:
    lost = _segment(Outbox(tmp_path / "outbox"), b"an earlier run's segment")  # sent first, its ack lost
    endpoint = private_endpoint(tmp_path)
    peer = _OneAtATime(endpoint, lost)
    detector = _start(tmp_path, which, endpoint, '[camera]\ndemo_start_s = 3\n')  # a walker 1 s in: a snapshot
    try:
        # the lost segment again (after the 2 s ack timeout, behind the walker's snapshot), then the snapshot
        assert wait_until(lambda: peer.types()[:3] == ["segment", "segment", "snapshot"], 40), peer.received
        assert {i for _, i in peer.received[:2]} == {lost}, peer.received
    finally:
        detector.send_signal(signal.SIGTERM)
        output = detector.communicate(timeout=60)[0]
        peer.close()
    assert f"no ack for {lost} after" in output, output[-3000:]


class _SmallLimit(UploaderPeer):
    """Announces a ``max_payload`` of ``limit`` bytes until ``raise_limit`` is set; acks every item."""

    def __init__(self, endpoint: str, limit: int) -> None:
        self.limit, self.raise_limit, self.received, self.lock = limit, threading.Event(), [], threading.Lock()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type in ("snapshot", "segment"):
            with self.lock:
                self.received.append(message.header["id"])
            return protocol.make_header("ack", ref=message.header["id"])
        limit = 1 << 26 if self.raise_limit.is_set() else self.limit
        return {**credit(), "max_payload": limit}

    def ids(self) -> list[str]:
        with self.lock:
            return list(self.received)


@pytest.mark.parametrize("which", ["python", "native"])
def test_an_item_over_the_uploaders_limit_is_held_counted_and_sent_once_the_limit_is_raised(
        tmp_path: Path, which: str) -> None:
    box = Outbox(tmp_path / "outbox")
    big = _segment(box, b"x" * 5000)
    small = _segment(box, b"y" * 100)
    del box  # the detector takes the outbox's lock
    endpoint = private_endpoint(tmp_path)
    peer = _SmallLimit(endpoint, 1000)
    detector = _start(tmp_path, which, endpoint, "[motion]\nmin_area_fraction = 0.95\n")  # no event of its own
    try:
        assert wait_until(lambda: small in peer.ids() and _link(tmp_path).get("too_large") == 1
                          and _link(tmp_path).get("too_large_now") == 1, 40), (peer.ids(), _link(tmp_path))
        assert big not in peer.ids() and not list((tmp_path / "outbox" / "refused").iterdir())
        assert "over the uploader's 1000-byte limit" in _link(tmp_path)["last_error"], _link(tmp_path)
        assert "1 HELD NOW" in detector_line({"link": _link(tmp_path)}, 0)  # as `quickcam status` says it
        peer.raise_limit.set()
        assert wait_until(lambda: big in peer.ids(), 20), peer.ids()
        assert wait_until(lambda: _link(tmp_path).get("error_cleared_at"), 20), _link(tmp_path)
        assert wait_until(lambda: _link(tmp_path).get("too_large_now") == 0, 20), _link(tmp_path)  # sent: not held
        assert _link(tmp_path)["too_large"] == 1 and "HELD" not in detector_line({"link": _link(tmp_path)}, 0)
    finally:
        detector.send_signal(signal.SIGTERM)
        output = detector.communicate(timeout=60)[0]
        peer.close()
    held = [line for line in output.splitlines() if "kept in the outbox and sent once the uploader takes it" in line]
    assert len(held) == 1 and f"{big} is 5000 bytes, over the uploader's 1000-byte limit" in held[0], output[-3000:]
    assert "Traceback" not in output and peer.ids().count(big) == 1, output[-3000:]
