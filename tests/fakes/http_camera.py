"""An IP camera's HTTP stream on 127.0.0.1, for the detectors' stream tests.

Each GET is answered with what the test's ``answer(n)`` says for the n-th request (from 1):
the bytes, sent at once or chunk by chunk at the camera's own pace, and then either the end
of the response (the stream ends; the detector reopens it) or the connection held open and
silent until ``release`` (a camera that hangs, a path that drops packets without a reset).
Served by ``httpfake.LoopbackServer``: the port held until ``close``, and every connection,
a held one too, cut at ``close`` so that no test waits on a handler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.httpfake import LoopbackServer

HOLD_MAX_S = 30.0  # a held connection is let go after this, released or not


@dataclass(frozen=True)
class Answer:
    """What the camera sends for one request."""

    chunks: Sequence[bytes]
    content_type: str = "application/octet-stream"
    chunk_s: float = 0.0  # the pause after each chunk: the camera's own pace (0: all at once)
    hold: bool = False  # after the last chunk, keep the connection open and silent until ``release``
    pauses: tuple[tuple[int, float], ...] = ()  # (chunk number from 0, seconds): a longer pause after that chunk


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0: the body runs to the end of the connection, as a camera's stream does."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        camera: HttpCamera = self.server.fake  # type: ignore[attr-defined]
        answer = camera.take()
        self.send_response(200)
        self.send_header("Content-Type", answer.content_type)
        self.end_headers()
        try:
            for number, chunk in enumerate(answer.chunks):
                self.wfile.write(chunk)
                self.wfile.flush()
                if answer.chunk_s and camera.closing.wait(answer.chunk_s):
                    return
                pause_s = dict(answer.pauses).get(number, 0.0)
                if pause_s and camera.closing.wait(pause_s):
                    return
        except (BrokenPipeError, ConnectionResetError):  # the detector closed it (or was killed)
            return
        if answer.hold:
            camera.hanging.set()
            camera.release.wait(HOLD_MAX_S)  # silent, the connection held open

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


class HttpCamera:
    """Serves ``answer(n)`` to the n-th GET; ``requests`` counts them, ``hanging`` is set while one is held."""

    def __init__(self, answer: Callable[[int], Answer], path: str = "/cam") -> None:
        self.answer = answer
        self.requests = 0
        self.hanging, self.release, self.closing = threading.Event(), threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self.server = LoopbackServer(_Handler, self).start()
        self.url = f"{self.server.url}{path}"

    def take(self) -> Answer:
        with self._lock:
            self.requests += 1
            number = self.requests
        return self.answer(number)

    def close(self) -> None:
        """Let a held connection go, stop serving, cut every connection and free the port."""
        self.closing.set()
        self.release.set()
        self.server.stop()
