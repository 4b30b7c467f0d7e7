"""Where Apprise notifications land in tests: a webhook (json://) and an ntfy-compatible endpoint.

One HTTP server records every request with its arrival time. It answers the
two shapes Apprise sends: ``json://host:port/path`` posts a JSON document
(title, message, type, attachments as base64), and ``ntfy://host:port/topic``
posts JSON ``{"topic", "title", "message"}`` to ``/`` -- or, with an
attachment, the file bytes to ``/<topic>`` with title/message/filename in the
query string, as ntfy.sh's own server takes them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.httpfake import FakeHandler, LoopbackServer


@dataclass
class Notification:
    time: float
    kind: str  # "json" or "ntfy"
    title: str
    message: str
    notify_type: str = ""
    attachments: dict[str, bytes] = field(default_factory=dict)  # name -> bytes
    raw: dict[str, Any] = field(default_factory=dict)


class _Handler(FakeHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.read_body()
        url = urlsplit(self.path)
        fake: NotifyServer = self.fake
        if url.path.startswith("/ntfy"):  # an attachment: file bytes in the body, the rest in the query
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            fake.record(Notification(time.time(), "ntfy", query.get("title", ""), query.get("message", ""),
                                     attachments={query.get("filename", "file"): body}, raw=query))
            self.send_json(200, {"id": "x", "event": "message"})
            return
        doc = json.loads(body or b"{}")
        if url.path == "/" and "topic" in doc:
            fake.record(Notification(time.time(), "ntfy", doc.get("title", ""), doc.get("message", ""), raw=doc))
            self.send_json(200, {"id": "x", "event": "message"})
            return
        attachments = {a.get("filename", "file"): base64.b64decode(a.get("base64", ""))
                       for a in doc.get("attachments", [])}
        fake.record(Notification(time.time(), "json", doc.get("title", ""), doc.get("message", ""),
                                 doc.get("type", ""), attachments, doc))
        self.send_json(200, {"ok": True})


class NotifyServer:
    def __init__(self, port: int = 0) -> None:
        self.server = LoopbackServer(_Handler, self, port=port)
        self.received: list[Notification] = []
        self.changed = threading.Condition()

    def start(self) -> NotifyServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def port(self) -> int:
        return self.server.port

    def json_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def ntfy_url(self, topic: str = "doorbell") -> str:
        # ntfy's private mode reads the first path element as the topic; the fake serves it under /ntfy...
        return f"ntfy://127.0.0.1:{self.port}/ntfy{topic}"

    def record(self, note: Notification) -> None:
        with self.changed:
            self.received.append(note)
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> Notification:
        """The first notification matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for note in self.received:
                    if predicate(note):
                        return note
                left = deadline - time.monotonic()
                if left <= 0:
                    titles = [n.title for n in self.received]
                    raise AssertionError(f"no matching notification within {timeout} s; got {titles}")
                self.changed.wait(left)
