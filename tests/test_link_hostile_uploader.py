"""Garbage after a good start, the other way round: an uploader that answers the hello, then sends junk.

The detector's link (a real ZeroMQ socket, the real outbox) talks to a socket of
the test's that plays the uploader: a valid credit, then random frames, half
messages (the protocol frame alone, a cut msgpack header), a flood of junk, a
frame over the link's size limit, before it acknowledges properly. The
link must survive all of it, log it in a bounded number of lines, count it where
``quickcam status`` shows it, and deliver everything once the answers are right.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import zmq

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector.link import MAX_REPLY_BYTES, UploaderLink
from quickcam.detector.outbox import Outbox
from tests.conftest import end_context, private_endpoint
from tests.own_logs import own_records
from tests.test_curve import snapshot
from tests.waiting import wait_until

ITEMS = 3
FLOOD = 300


def _credit() -> list[bytes]:
    return protocol.encode(protocol.Message(protocol.make_header("credit", messages=16, bytes=64 << 20)))


def test_an_uploader_sending_garbage_after_a_good_hello_costs_nothing_and_is_counted(tmp_path: Path, caplog) -> None:
    outbox = Outbox(tmp_path / "outbox")
    ids = []
    for _ in range(ITEMS):
        header, payload = snapshot()
        outbox.commit_bytes(header, payload)
        ids.append(header["id"])
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "link").mkdir(mode=0o700, exist_ok=True)  # the uploader makes its socket's folder
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)
    link = UploaderLink(LinkConfig(endpoint=endpoint, ack_timeout_s=1, heartbeat_s=0.5), outbox, ["cam0"],
                        camera_status=dict)
    received: list[tuple[bytes, protocol.Message]] = []
    done = threading.Event()
    caplog.set_level("INFO", logger="quickcam.detector.link")

    def serve(until: float, answer: bool) -> None:
        """Read what the link sends; answer each hello with credit and, if ``answer``, each item with an ack."""
        while time.monotonic() < until and not done.is_set():
            if not router.poll(50):
                continue
            peer, *frames = router.recv_multipart()
            message = protocol.decode(frames, accept=protocol.DETECTOR_TYPES)
            received.append((peer, message))
            if message.type == "hello":
                router.send_multipart([peer, *_credit()])
            elif answer and message.type in ("snapshot", "segment"):
                ack = protocol.make_header("ack", ref=message.header["id"])
                router.send_multipart([peer, *protocol.encode(protocol.Message(ack))])

    thread = None
    try:
        link.start()
        serve(time.monotonic() + 2.0, answer=False)  # hello, credit, the items go out unanswered
        peers = {peer for peer, message in received if message.type == "hello"}
        assert peers and {m.header["id"] for _, m in received if m.type == "snapshot"} == set(ids)
        peer = next(iter(peers))
        junk = [[os.urandom(40)], [protocol.PROTOCOL_FRAME], [protocol.PROTOCOL_FRAME, b"\x85\xa4type"],
                [protocol.PROTOCOL_FRAME, os.urandom(100), b"extra"]]
        for frames in junk * (FLOOD // len(junk)):
            router.send_multipart([peer, *frames])
        # ZeroMQ drops a connection that brings a frame over the link's limit, and did not reconnect by itself.
        router.send_multipart([peer, protocol.PROTOCOL_FRAME, b"\0" * (MAX_REPLY_BYTES + 1)])
        assert link.thread.is_alive()
        thread = threading.Thread(target=serve, args=(time.monotonic() + 25, True), daemon=True)
        thread.start()  # now answers properly: every item re-sent is acknowledged
        assert wait_until(lambda: not outbox.pending() and link.state.acked >= ITEMS, 20), link.state
        assert link.thread.is_alive()
        assert link.state.malformed >= FLOOD  # counted: the status file's link.malformed, quickcam status shows it
        assert any("new socket" in r.getMessage() for r in caplog.records)  # recovered from the dropped connection
    finally:
        link.stop()
        done.set()
        if thread is not None:
            thread.join(timeout=5)
        router.close()
        end_context(ctx)
    lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert 1 <= len(lines) <= 5, [r.getMessage() for r in lines]  # not one line per junk message
    assert not [r for r in own_records(caplog) if r.exc_info], "no traceback"
    resent = [r for r in caplog.records if "sent again" in r.getMessage()]
    assert len(resent) <= 2 * ITEMS, len(resent)  # before: a line every 50 ms while ZeroMQ had no peer
