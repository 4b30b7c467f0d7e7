"""The link over IPv6: an uploader at `tcp://[::1]:P` (or any IPv6 address) and a detector pointed at it.

Neither side set ZeroMQ's IPV6 option, so the uploader refused the endpoint (`cannot listen on
tcp://[::1]:P: No such device`) and a detector pointed at an IPv6 address, the uploader listening on
`tcp://*:P`, never connected: `NOT CONNECTED`, `no connection opens (is it running …?)`, blaming an
uploader that ran (bench/outside/FINDINGS.md #49, ipv6_link.py). Plain TCP stands in for CURVE.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.pipeline import QUICK_DEMO, Pipeline


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
@pytest.mark.parametrize("bind", ["[::1]", "*"])
def test_footage_crosses_a_link_on_the_ipv6_loopback(
        tmp_path: Path, detector_command: list[str] | None, bind: str) -> None:
    if bind == "*" and detector_command is None:
        pytest.skip("the bind is the uploader's: tried once, with the native detector (the quicker to start)")
    port = free_port()
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_LINK__ALLOW_PLAIN_TCP="true", **QUICK_DEMO)
    try:
        pipe.env["QUICKCAM_LINK__ENDPOINT"] = f"tcp://{bind}:{port}"  # each process reads it at its start
        pipe.start_uploader_listening()
        pipe.env["QUICKCAM_LINK__ENDPOINT"] = f"tcp://[::1]:{port}"
        pipe.start("detector")
        assert pipe.wait_for("uploader", "uploaded snapshot", 40), (pipe.output("uploader")[-2000:],
                                                                    pipe.output("detector")[-2000:])
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(30)
    finally:
        pipe.close()
