"""A stand-in for the uploader on the detector's link: a ZeroMQ ROUTER answering in its own thread.

Tests of a detector's link (Python or native) need a peer whose answers they choose: credit
withheld, acks late, junk sent. The socket, the thread and a teardown that never stalls the
suite are the same for all of them; a test says only what differs (``answer``, ``between``).
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import zmq

from quickcam.common import protocol
from tests.conftest import end_context, private_endpoint


def credit(messages: int = 16, size: int = 1 << 26) -> dict[str, Any]:
    """A credit header: the uploader takes ``messages`` items and ``size`` bytes now."""
    return protocol.make_header("credit", messages=messages, bytes=size)


class UploaderPeer:
    """Grants credit to every hello and status and ignores the rest, unless a subclass says otherwise.

    A subclass sets its own attributes *before* calling ``super().__init__``: the serving thread
    starts there and may call ``answer`` at once.
    """

    def __init__(self, endpoint: str) -> None:
        if endpoint.startswith("ipc://"):  # the peer binds before the detector makes the socket's folder
            Path(endpoint.removeprefix("ipc://")).parent.mkdir(mode=0o700, exist_ok=True)
        self.endpoint = endpoint
        self.peer = b""  # the newest detector heard from
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        """The header sent back for ``message`` (None: nothing)."""
        return credit() if message.type in ("hello", "status") else None

    def between(self) -> None:
        """Called about every 20 ms, whether a message came or not (timed acks, junk)."""

    def send(self, peer: bytes, header: dict[str, Any]) -> None:
        self.sock.send_multipart([peer, *protocol.encode(protocol.Message(header))])

    def _serve(self) -> None:
        while not self.stop.is_set():
            self.between()
            if not self.sock.poll(20):
                continue
            self.peer, *frames = self.sock.recv_multipart()
            header = self.answer(self.peer, protocol.decode(frames))
            if header is not None:
                self.send(self.peer, header)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close(linger=0)
        end_context(self.ctx)


class AckingPeer(UploaderPeer):
    """Credit for hello and status, an ack for every snapshot and segment; keeps what the tests read.

    ``cameras``: camera ``cam0`` of every status, in order; ``segments``: every segment's header.
    Read them under ``lock``: the serving thread appends.
    """

    def __init__(self, endpoint: str) -> None:
        self.cameras: list[dict[str, Any]] = []
        self.segments: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        with self.lock:
            if message.type == "status" and "cam0" in message.header.get("cameras", {}):
                self.cameras.append(message.header["cameras"]["cam0"])
            elif message.type == "segment":
                self.segments.append(message.header)
        if message.type in ("snapshot", "segment"):
            return protocol.make_header("ack", ref=message.header["id"])
        return credit()


def detector_on_file(folder: Path, command: list[str], clip: str, sections: str = "",
                     env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A detector (``command``) on the file ``clip`` in ``folder``, read as fast as it decodes, beside an
    uploader that acks everything; the run once it ended (``--seconds 30``: a test's clip ends well before).

    ``sections``: more of the config (``[motion]`` and its keys); ``env``: the whole environment
    (default: this one without ``QUICKCAM_*``, so the config file alone decides).
    """
    endpoint = private_endpoint(folder)
    (folder / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{clip}"\nrealtime = false\n{sections}[link]\nendpoint = "{endpoint}"\n')
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = AckingPeer(endpoint)
    try:
        return subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=90)
    finally:
        uploader.close()
