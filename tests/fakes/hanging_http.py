"""An HTTP server that takes each request whole and then never finishes its answer (a hung destination).

Shared by ``tests/test_hung_destination.py`` and ``bench/outside/hung_destination.py`` (FINDINGS #31): a
provider's server that read the upload and then trickled its answer a byte at a time (no read timeout ever
fires) or went silent held up every other destination's copies.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class HangingHttpServer:
    """Reads each request's head and body, then trickles a 200's body (``mode="trickle"``, a byte every
    ``trickle_every_s``, never whole) or stays silent (``mode="silent"``) until closed."""

    def __init__(self, mode: str = "trickle", trickle_every_s: float = 1.0) -> None:
        self.mode, self.trickle_every_s = mode, trickle_every_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.open:
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests += 1
            if self.mode == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
            while self.open:
                time.sleep(self.trickle_every_s if self.mode == "trickle" else 1)
                if self.mode == "trickle":
                    conn.sendall(b" ")

    def close(self) -> None:
        self.open = False
        self.sock.close()
