"""What every HTTP fake shares: a threaded loopback server and a fault plan.

``LoopbackServer`` serves a handler class on 127.0.0.1 (optionally over TLS),
tracks its open connections so ``refusing()`` can really refuse (listener and
kept-alive connections closed, then reopened on the same port), and never
blocks a test on a handler that is sleeping.

``FaultPlan`` is how a test says what goes wrong next: "the next 2 requests to
files/upload answer 503", "drop the connection half-way through the body",
"answer after 5 s". Handlers ask it with ``take(route)`` on every request.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One thing that goes wrong with one request.

    kind:
      "status"            answer ``status`` with ``body``/``headers`` instead of serving
      "delay"             wait ``seconds`` (the client times out), then drop the connection
      "drop_mid_body"     read half the request body, then drop the connection
      "drop_after_commit" serve the request fully, then drop it instead of answering
      other kinds         interpreted by the fake (e.g. "expire_token", "conflict")
    """

    kind: str
    status: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def status(code: int, body: Any = b"", **headers: str) -> Fault:
    """A fault answering ``code``; a dict/list body is sent as JSON."""
    hdrs = dict(headers)
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    hdrs = {k.replace("_", "-"): v for k, v in hdrs.items()}
    return Fault("status", status=code, body=body, headers=tuple(hdrs.items()))


def delay(seconds: float) -> Fault:
    return Fault("delay", seconds=seconds)


def drop_mid_body() -> Fault:
    return Fault("drop_mid_body")


def drop_after_commit() -> Fault:
    return Fault("drop_after_commit")


@dataclass
class _Planned:
    fault: Fault
    route: str | None
    remaining: int
    skip: int


@dataclass
class FaultPlan:
    """Faults queued by a test, each for the next ``times`` matching requests."""

    _planned: list[_Planned] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fired: list[tuple[str, str]] = field(default_factory=list)

    def inject(
        self, fault: Fault, route: str | None = None, times: int = 1, after: int = 0
    ) -> None:
        """Apply ``fault`` to ``times`` requests whose route contains ``route``,
        once ``after`` such requests have gone through untouched."""
        with self._lock:
            self._planned.append(_Planned(fault, route, times, after))

    def take(self, route: str) -> Fault | None:
        with self._lock:
            for planned in self._planned:
                if planned.route is None or planned.route in route:
                    if planned.skip > 0:
                        planned.skip -= 1
                        return None
                    planned.remaining -= 1
                    if planned.remaining <= 0:
                        self._planned.remove(planned)
                    self.fired.append((route, planned.fault.kind))
                    return planned.fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is routine here (faults do it on purpose); other errors are kept.

        No traceback is printed: formatting one in a server thread while the main
        thread parses code trips a CPython 3.11 bug ("AST constructor recursion
        depth mismatch"), so the error is stored for the test and named in one line.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        if exc is not None:
            self.owner.errors.append(exc)
            sys.stderr.write(f"fake server error: {type(exc).__name__}: {exc}\n")

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        # TLS handshake here, in the connection's own thread, not in the accept loop.
        context = self.owner.ssl_context
        try:
            if context is not None:
                request.settimeout(10)
                request = context.wrap_socket(request, server_side=True)
                request.settimeout(None)
        except (OSError, ssl.SSLError):
            self.shutdown_request(request)
            return
        self.owner._track(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._untrack(request)


class LoopbackServer:
    """A handler class served on 127.0.0.1 in a background thread.

    Its port is held from construction to ``stop`` by a socket that is bound but never listens:
    while the server is not started (or is ``refusing``) connections are refused as with nothing
    there, and no other program can take the port meanwhile (a port chosen, let go and bound again
    later is a race with every other test on the machine).
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        fake: Any,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.handler = handler
        self.fake = fake
        self.ssl_context = ssl_context
        self._hold: socket.socket | None = None
        self.port = self._reserve(port)
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []  # exceptions raised by handlers (fake bugs)
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _reserve(self, port: int) -> int:
        """Bind (without listening) the port the server will serve on; returns it."""
        hold = socket.socket()
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the server binds it too (it listens)
        try:
            hold.bind(("127.0.0.1", port))
        except OSError:
            hold.close()
            raise
        self._hold = hold
        return hold.getsockname()[1]

    def start(self) -> LoopbackServer:
        self.stopping.clear()
        if self._hold is None:  # started again after a stop
            self._reserve(self.port)
        self._server = _Server(("127.0.0.1", self.port), self.handler, self)
        self._server.fake = self.fake  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every open connection (clients see them drop), and let the port go."""
        self._stop_serving()
        if self._hold is not None:
            self._hold.close()
            self._hold = None

    def _stop_serving(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._conn_lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """Nothing listens on the port inside the block (still held): connections are refused."""
        self._stop_serving()
        try:
            yield
        finally:
            self.start()

    def _track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.discard(conn)


class FakeHandler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, quiet, with fault helpers."""

    protocol_version = "HTTP/1.1"
    server_version = "QuickcamFake/1.0"

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    @property
    def owner(self) -> LoopbackServer:
        return self.server.owner  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def drop(self) -> None:
        """Cut the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def apply_transport_fault(self, fault: Fault | None) -> bool:
        """Carry out the faults every fake handles alike; True if the request is done."""
        if fault is None:
            return False
        if fault.kind == "delay":
            self.owner.stopping.wait(fault.seconds)
            self.drop()
            return True
        if fault.kind == "drop_mid_body":
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(max(1, length // 2))
            self.drop()
            return True
        if fault.kind == "status":
            self.read_body()
            self.send_bytes(fault.status, fault.body, dict(fault.headers))
            return True
        return False

    def send_bytes(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        headers["Content-Type"] = "application/json"
        self.send_bytes(code, json.dumps(obj).encode(), headers)
