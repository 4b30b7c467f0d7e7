"""The counts of the status file that ``quickcam status`` shows, written as the Python detector writes them.

``link.malformed`` (junk from the uploader, ignored: counted, the link's last error, a log line
per hundred) and ``outbox.deleted`` (items whose files someone deleted with the outbox folder
under the running detector), as ``detector/status_file.py`` writes them. The native detector
logged the junk without counting it and forgot the deleted items without counting them.
The Python detector's junk is tested in-process (tests/test_link_hostile_uploader.py, with
the reply over the link's size limit that the native test sends too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.detector.link import MAX_REPLY_BYTES
from quickcam.detector.outbox import Outbox
from quickcam.uploader.cli import detector_line
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer
from tests.native_build import native_detector
from tests.test_curve import snapshot
from tests.waiting import rm_rf_while_written, wait_until

FLOOD = 120  # junk messages; a log line per hundred: 2 lines
ITEMS = 3
QUIET = "[motion]\nmin_area_fraction = 0.95\n"  # the demo's walker starts no event: the outbox holds only ours


def _command(detector: str) -> list[str]:
    return [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or the folder just deleted
        return {}


class _JunkUploader(UploaderPeer):
    """Answers hello and status with credit; sends ``FLOOD`` junk messages once ``flood`` is set, and a
    message over the link's size limit (ZeroMQ drops such a connection) once ``oversize`` is set."""

    def __init__(self, endpoint: str) -> None:
        self.flood, self.flooded = threading.Event(), threading.Event()
        self.oversize, self.oversized = threading.Event(), threading.Event()
        super().__init__(endpoint)

    def between(self) -> None:
        junk = [[os.urandom(40)], [protocol.PROTOCOL_FRAME], [protocol.PROTOCOL_FRAME, b"\x85\xa4type"],
                [protocol.PROTOCOL_FRAME, os.urandom(100), b"extra"]]
        if self.flood.is_set() and self.peer and not self.flooded.is_set():
            for frames in (junk * FLOOD)[:FLOOD]:
                self.sock.send_multipart([self.peer, *frames])
            self.flooded.set()
        if self.oversize.is_set() and self.peer and not self.oversized.is_set():
            self.sock.send_multipart([self.peer, protocol.PROTOCOL_FRAME, b"\0" * (MAX_REPLY_BYTES + 1)])
            self.oversized.set()


def test_native_junk_from_the_uploader_is_counted_and_a_connection_dropped_for_an_oversized_reply_reopened(
        tmp_path: Path) -> None:
    endpoint = private_endpoint(tmp_path)
    Path(endpoint.removeprefix("ipc://")).parent.mkdir(mode=0o700, exist_ok=True)  # the peer binds first
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 0.5\n{QUIET}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    peer = _JunkUploader(endpoint)
    process = subprocess.Popen([*_command("native"), "--config", "quickcam.toml", "--seconds", "60"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = tmp_path / "outbox" / "detector-status.json"

    def link() -> dict:
        return _status(status).get("link", {})

    try:
        assert wait_until(lambda: link().get("connected"), 30)
        peer.flood.set()
        assert wait_until(lambda: link().get("malformed", 0) >= FLOOD, 20), link()
        counted = _status(status)
        # as quickcam status says it now: the file's age is taken from the monotonic clock, whatever time is given
        counted_line = detector_line(counted, time.time())
        # the next credit (a heartbeat's answer) clears the error: shown as past, still counted
        assert wait_until(lambda: link().get("error_cleared_at"), 20), link()
        # ZeroMQ drops a connection that brings a frame over the link's limit, and does not reconnect by itself:
        # the uploader goes silent, and a new socket after 5 s gets its credit again (it never did before)
        dropped_at = time.time()
        peer.oversize.set()
        assert wait_until(lambda: link().get("last_error", "").startswith("uploader silent"), 20), link()
        assert wait_until(lambda: link().get("connected") and link().get("error_cleared_at", 0) > dropped_at, 30)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
        peer.close()
    assert counted["link"]["malformed"] == FLOOD, counted["link"]
    assert f"{FLOOD} malformed message(s) from the uploader ignored (" in counted["link"]["last_error"], counted
    assert "malformed message(s) from the uploader ignored" in counted_line, counted_line
    lines = [line for line in output.splitlines() if "ignoring a malformed message from the uploader" in line]
    assert len(lines) == 2 and "(1 so far; is the endpoint a quickcam uploader?)" in lines[0], lines
    assert "(101 so far;" in lines[1], lines
    reopened = [line for line in output.splitlines() if "ZeroMQ did not reconnect; trying with a new socket" in line]
    assert len(reopened) == 1, output[-3000:]


@pytest.mark.parametrize("detector", ["python", "native"])
def test_items_deleted_with_the_outbox_folder_are_counted_in_outbox_deleted(tmp_path: Path, detector: str) -> None:
    outbox_dir = tmp_path / "outbox"
    outbox = Outbox(outbox_dir)  # items from an earlier run, waiting for an uploader that is not there
    for _ in range(ITEMS):
        outbox.commit_bytes(*snapshot())
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\n{QUIET}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    process = subprocess.Popen([*_command(detector), "--config", "quickcam.toml", "--seconds", "60"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status = outbox_dir / "detector-status.json"
    try:
        assert wait_until(lambda: _status(status).get("outbox", {}).get("items") == ITEMS, 30), _status(status)
        assert _status(status)["outbox"]["deleted"] == 0
        rm_rf_while_written(outbox_dir / ".staging")  # only it: said so, not "the folder outbox was deleted"
        assert wait_until(lambda: (outbox_dir / ".staging").is_dir(), 20)
        rm_rf_while_written(outbox_dir)
        assert wait_until(lambda: "deleted" in _status(status).get("outbox", {}), 20)  # made again, written
        after = _status(status)
        after_line = detector_line(after, time.time())  # now: the file's age is on the monotonic clock
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert after["outbox"]["deleted"] == ITEMS and after["outbox"]["items"] == 0, after["outbox"]
    assert f"{ITEMS} deleted from the outbox before they were sent" in after_line, after_line
    assert "was deleted while the detector ran; made it again" in output, output[-2000:]
    staging = [line for line in output.splitlines() if ".staging was deleted" in line]
    assert len(staging) == 1, output[-3000:]
    assert f"outbox: the {ITEMS} item(s) waiting in it are safe); made it again (any open segment went with it)" \
        in staging[0], staging
