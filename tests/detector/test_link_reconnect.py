"""The detector's pause between tries to reach an absent uploader is at most ``link.reconnect_max_s``.

ZeroMQ retries a connection that failed after 0.1 s, doubling the pause up to this bound (5 s by
default): footage made while the uploader was away waits up to that long after it is back. The
scenario tests start their uploader late with the bound at 0.5 s (tests/pipeline.py), so that
they do not wait out a 5 s pause; the native detector reads the same key (tests/test_native_config.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from quickcam.common.config import LinkConfig
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from tests.conftest import end_context, private_endpoint


@pytest.mark.parametrize(("reconnect_max_s", "ms"), [(None, 5000), (0.5, 500)])
def test_the_detectors_reconnect_pause_is_capped_at_reconnect_max_s(tmp_path: Path, reconnect_max_s: float | None,
                                                                     ms: int) -> None:
    given = {} if reconnect_max_s is None else {"reconnect_max_s": reconnect_max_s}
    link = UploaderLink(LinkConfig(endpoint=private_endpoint(tmp_path), **given), Outbox(tmp_path / "outbox"),
                        ["cam0"], camera_status=dict)
    ctx = zmq.Context()
    sock = link._socket(ctx)
    try:
        pause_ms = sock.getsockopt(zmq.RECONNECT_IVL_MAX)
    finally:
        sock.close(linger=0)
        end_context(ctx)
    assert pause_ms == ms
