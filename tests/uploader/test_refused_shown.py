"""Messages the uploader refused for good are shown by ``quickcam status``, by nack code.

The receiver counted every nack (``counters.nack_<code>`` in ``state/status.json``) but
``quickcam status`` showed none of them: a detector written from docs/protocol.md that got its
footage refused (a wrong sha256, a broken header) left a status that looked clean. ``busy`` is
a pause the detector waits out (retry true), not a refusal, and stays off the line.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from quickcam.common import protocol
from tests.conftest import QUICKCAM
from tests.test_curve import Client, running_uploader, snapshot
from tests.waiting import wait_until


def test_refused_messages_are_counted_by_code_in_quickcam_status(workdir: Path) -> None:
    with running_uploader(workdir) as up:
        client = Client(os.environ["QUICKCAM_LINK__ENDPOINT"])
        try:
            assert client.hello(["cam0"]).type == "credit"
            header, payload = snapshot()
            header["sha256"] = "0" * 64
            answer = client.request(protocol.encode(protocol.Message(header, payload)))
            assert answer.header["code"] == "sha256_mismatch"
            assert client.request([b"QSC1", b"\xc1"]).header["code"] == "bad_header"
        finally:
            client.close()
        counters = lambda: up.status().get("counters", {})  # noqa: E731
        assert wait_until(lambda: counters().get("nack_bad_header") == 1, 30), up.output()
        shown = subprocess.run([QUICKCAM, "status"], capture_output=True, text=True, timeout=30)
    assert ("uploader: 2 message(s) from detectors refused for good since start (bad_header 1, sha256_mismatch 1; "
            "each logged with its reason)") in shown.stdout.splitlines(), shown.stdout + shown.stderr
