"""The uploader's log line when a detector disconnects: normal words for the normal case.

The hint about frames over the size limit (ZeroMQ drops those by closing the
connection, silently) stays only where it is plausible: items were waiting.
"""

from __future__ import annotations

import os
from pathlib import Path

from quickcam.common import protocol
from tests.test_curve import Client, running_uploader

CAMERA = {"state": "ok", "fps": 15.0, "frames": 9, "dropped": 0}


def _session(endpoint: str, camera: str, **status: object) -> None:
    client = Client(endpoint)
    try:
        assert client.hello([camera]).type == "credit"
        header = protocol.make_header("status", cameras={camera: CAMERA}, **status)
        assert client.request(protocol.encode(protocol.Message(header))).type == "credit"
    finally:
        client.close()


def test_an_idle_or_stopping_detector_disconnecting_reads_as_normal_and_only_a_busy_one_gets_the_size_hint(
        workdir: Path) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    with running_uploader(workdir) as up:
        _session(endpoint, "idle", outbox_depth=0)
        up.wait_for("test disconnected (a restart, a stop or a network change; nothing was waiting to be sent)")
        _session(endpoint, "leaving", outbox_depth=0, stopping=True)
        up.wait_for("test disconnected: it stopped cleanly")
        _session(endpoint, "busy", outbox_depth=3)
        log = up.wait_for("with 3 item(s) waiting in its outbox; if this repeats, it sent a frame over")
    lines = [line for line in log.splitlines() if "disconnected" in line or "closed" in line]
    assert len(lines) == 3, lines
    assert "byte limit" not in lines[0] + lines[1] and "byte limit" in lines[2]
