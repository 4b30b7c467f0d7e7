"""Proxies that sit between a client and a real server on 127.0.0.1 and break things.

``HttpFaultProxy`` forwards HTTP requests unchanged to a real server (moto's
S3 in the tests) and, when the test's ``FaultPlan`` says so, answers with an
error status instead, stalls, or drops the connection part-way through the
request body or after the upstream stored it.

``TcpFaultProxy`` forwards raw TCP (an SSH connection to sshd) and can stall
new connections ("blackhole": accepted, never answered) or cut a connection
after a number of bytes from the client (a disconnect mid-upload).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from xml.sax.saxutils import escape

from tests.fakes.httpfake import FakeHandler, Fault, FaultPlan, LoopbackServer, status

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def s3_error(code: int, s3_code: str, message: str) -> Fault:
    """An S3-style XML error answer."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(s3_code)}</Code><Message>{escape(message)}</Message>"
        "<RequestId>FAKE</RequestId></Error>"
    )
    return status(code, body, Content_Type="application/xml")


class HttpFaultProxy:
    """Forwards to ``upstream`` (host, port); ``faults`` decides what goes wrong."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults = FaultPlan()
        self.forwarded = 0
        self.server = LoopbackServer(_ProxyHandler, self)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> HttpFaultProxy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


class _ProxyHandler(FakeHandler):
    def _forward(self) -> None:
        proxy: HttpFaultProxy = self.fake
        fault = proxy.faults.take(f"{self.command} {self.path}")
        if self.apply_transport_fault(fault):
            return
        body = self._read_request_body()
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            proxy.forwarded += 1
            if fault is not None and fault.kind == "drop_after_commit":
                self.drop()
                return
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            length = response.getheader("Content-Length")
            if self.command == "HEAD":
                self.send_header("Content-Length", length or "0")
                self.end_headers()
            else:
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
        finally:
            upstream.close()

    def _read_request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.read_body()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward


class TcpFaultProxy:
    """A TCP relay to 127.0.0.1:``upstream_port`` with two ways to fail."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.blackhole = False
        self.cut_after_bytes: int | None = None
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            if self.blackhole:
                continue  # accepted and never answered: the client's timeout fires
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._keep(server)
            budget = [self.cut_after_bytes]
            threading.Thread(
                target=self._pump, args=(client, server, budget), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: list[int | None] | None) -> None:
        with contextlib.suppress(OSError):  # either side hanging up ends the relay
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if budget is not None and budget[0] is not None:
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        self.cuts += 1
                        break
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _keep(self, sock: socket.socket) -> None:
        # Without TCP_NODELAY every small SSH packet waits for a delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.add(sock)

    def sever(self) -> None:
        """Cut every open connection; the proxy keeps listening for new ones."""
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
