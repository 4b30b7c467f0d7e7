"""A camera stream that turns into garbage mid-event: what came before is kept, the camera says so, and comes back.

An HTTP camera (MPEG-TS over HTTP, served here on 127.0.0.1) sends good H.264
with a walker, then, mid-walk, switches to another codec and keeps sending it:
packets that keep coming but never decode. Before, the capture loop waited for a
picture for as long as they flowed: the camera was only ``stalled``, the event
stayed open, nothing reconnected and the packets piled up in memory. Now it is
lost after ``NO_PICTURE_S`` with a fault saying why, the event is closed at the
last good frame and delivered, the stream is reopened with back-off (the server
refuses once), and detection resumes on the good stream (docs/reliability.md
scenario 20).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from quickcam.common.config import LinkConfig
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import Walk
from quickcam.uploader.cli import relayed_lines
from tests.detector.fakes import camera_config, journal
from tests.fakes.h264 import probe, write_h264
from tests.own_logs import own_records
from tests.test_curve import running_uploader, stored_ids
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # a stream paced on the wall clock, a real uploader

FPS, GOOD_S, GARBAGE_AT_S = 10.0, 12.0, 3.0  # the walk runs from 1.0 to 3.5 s: garbage comes in the middle of it
CHUNKS_PER_S = 20


class _Camera(BaseHTTPRequestHandler):
    """Connection 1: good, cut mid-packet by another codec sent for as long as the client reads; 2: refused; then good.

    (188 bytes: an MPEG-TS packet.)
    """

    good = other = b""
    connections: list[float] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        number = len(self.connections)
        self.connections.append(time.monotonic())
        if number == 1:
            self.send_error(503, "camera restarting")
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        rate = len(self.good) / GOOD_S  # bytes per second of the good stream
        second = 188 * int(rate / 188)
        try:
            self.wfile.write(self.good[:second])  # a camera's first second at once, as its buffer sends it
            if number == 0:
                self._pace(self.good[second:188 * int(rate * GARBAGE_AT_S / 188) + 100], rate)
                while True:  # endless: only the client going away ends it
                    self._pace(self.other, rate)
            self._pace(self.good[second:], rate)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _pace(self, data: bytes, rate: float) -> None:
        step = max(1, int(rate / CHUNKS_PER_S))
        for start in range(0, len(data), step):
            self.wfile.write(data[start:start + step])
            time.sleep(1 / CHUNKS_PER_S)


class _Outbox(Outbox):
    """The outbox, keeping each committed header: an acknowledged item's header is deleted, the test reads it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.headers: dict[str, dict[str, Any]] = {}

    def _commit_header(self, header: dict[str, Any]) -> None:
        self.headers[header["id"]] = dict(header)
        super()._commit_header(header)


@pytest.fixture
def camera_url(tmp_path: Path) -> Iterator[str]:
    videos = tmp_path / "videos"
    videos.mkdir()
    _Camera.good = write_h264(videos / "good.ts", GOOD_S, FPS, 1.0, 320, 240, walks=(Walk(1.0, 3.5),),
                              container="mpegts").read_bytes()
    _Camera.other = write_h264(videos / "other.ts", 4.0, FPS, 1.0, 320, 240, walks=(Walk(1.0, 3.5),),
                               container="mpegts", codec="mpeg4").read_bytes()
    _Camera.connections = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Camera)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cam.ts"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stream_turning_to_garbage_mid_event_keeps_the_footage_says_so_and_comes_back(
    workdir: Path, camera_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="quickcam")
    outbox_dir = workdir / "outbox"
    camera = camera_config(outbox_dir, pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0)
    camera = camera.model_copy(update={"source": "stream", "path": camera_url, "fps": FPS, "width": 320,
                                       "height": 240, "reopen_max_s": 1.0, "max_gop_s": 2.0})
    outbox, stop, acked = _Outbox(outbox_dir), threading.Event(), workdir / "acked"
    pipeline = CameraPipeline(camera, outbox, stop)
    config = LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3, heartbeat_s=0.2)
    link = UploaderLink(config, outbox, ["cam0"], camera_status=lambda: {"cam0": pipeline.status()}, keep_copy_in=acked)
    seen: list[tuple[str, str]] = []  # (what the detector says, what `quickcam status` shows from the uploader)

    def events() -> list[str]:
        return list(dict.fromkeys(h["event"] for h in list(outbox.headers.values())))

    with running_uploader(workdir) as uploader:
        pipeline.start()
        link.start()
        try:
            def watch() -> bool:
                status = pipeline.status()
                try:
                    relayed = relayed_lines(uploader.status(), set(), time.time())
                except (OSError, ValueError):  # not written yet, or being replaced
                    relayed = []
                seen.append((f"{status['state']}: {status['fault']}", " ".join(relayed)))
                return len(events()) >= 2
            assert wait_until(watch, 40), (seen[-3:], caplog.text[-3000:])
            stop.set()  # the second event is closed as at any stop: its last segment is committed now
            pipeline.join(10)
            recorded = {e["id"] for e in journal(outbox_dir)}
            assert wait_until(lambda: not outbox.pending() and recorded <= stored_ids(workdir), 20)  # all delivered
        finally:
            stop.set()
            pipeline.join(10)
            link.stop()

    first, second = events()[:2]
    entries = [(e, outbox.headers[e["id"]]) for e in journal(outbox_dir)]
    segments = [(h, acked / f"{e['id']}.bin") for e, h in entries if e["type"] == "segment"]
    kept = [(h, path) for h, path in segments if h["event"] == first]
    assert kept[-1][0]["final"] and sum(h["frames"] for h, _ in kept) >= FPS  # the walk up to the garbage
    for head, path in kept[:-1]:
        assert probe(path) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
    # The last one ends with the packet the garbage cut (kept as it came, as any damaged packet is): at most it
    # does not decode; the other codec's packets never reached a segment.
    last = probe(kept[-1][1])
    assert last["codec"] == "h264" and last["keyframe_first"] and last["errors"] <= 1, last
    assert last["frames"] + last["errors"] == kept[-1][0]["frames"], (last, kept[-1][0])
    lost = [detector for detector, _ in seen if detector.startswith("lost")]
    assert lost and all(f.startswith("lost: lost: no picture decoded for ") and "while packets kept coming: the "
                        "stream sends what the h264 decoder cannot read" in f for f in lost), sorted(set(lost))
    assert any("camera cam0: LOST (lost: no picture decoded" in shown for _, shown in seen), seen  # via the uploader
    assert any(m.startswith("camera cam0: cannot open stream") or "attempt 1 failed" in m
               for m in caplog.messages)  # the refused reconnect, retried after a back-off
    assert len(_Camera.connections) >= 3 and _Camera.connections[2] - _Camera.connections[1] >= 0.4
    assert [h for _, h in entries if h["event"] == second][0]["time_ms"] > kept[-1][0]["end_ms"]
    assert not [r for r in own_records(caplog) if r.exc_info], "no traceback"
    assert all(loop["errors"] == 0 for loop in pipeline.status()["loops"].values())
