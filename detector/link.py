"""The detector's side of the wire: send from the outbox, retransmit until acked.

One thread owns the DEALER socket (ZeroMQ sockets are not thread-safe). It
follows the protocol's delivery contract (docs/protocol.md):

- nothing is sent before the uploader grants credit, and never more messages
  or bytes in flight than the credit allows;
- an item leaves the outbox only when its ``ack`` arrives (the uploader acks
  after the data is durable);
- an item not acked within ``ack_timeout_s`` is sent again; duplicates are
  harmless because the uploader de-duplicates by message id;
- heartbeats (``status``) go out every ``heartbeat_s``; if the uploader says
  nothing for three of them the link is reported down and everything in flight
  is re-sent once it comes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector.outbox import Outbox

log = logging.getLogger(__name__)

DETECTOR_NAME = "quickcam-detector"


@dataclass
class InFlight:
    size: int
    sent_at: float


@dataclass
class LinkState:
    """What the status output shows about the link."""

    connected: bool = False
    credit_messages: int = 0
    credit_bytes: int = 0
    last_heard: float = 0.0
    acked: int = 0
    refused: int = 0
    retransmits: int = 0
    last_error: str = ""
    in_flight: dict[str, InFlight] = field(default_factory=dict)


class UploaderLink:
    """Delivers outbox items to the uploader, at least once, until acked."""

    def __init__(
        self,
        config: LinkConfig,
        outbox: Outbox,
        cameras: list[str],
        camera_status: Callable[[], dict[str, Any]],
        keep_copy_in: Path | None = None,
        curve: dict[str, bytes] | None = None,
        version: str = "0",
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.cameras = cameras
        self.camera_status = camera_status
        self.keep_copy_in = keep_copy_in
        self.curve = curve
        self.version = version
        self.state = LinkState()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="uploader-link", daemon=True)

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop, first waiting up to ``drain_s`` for the outbox to empty."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and self.outbox.depth()[0] and self.thread.is_alive():
            time.sleep(0.05)
        self.stop_event.set()
        self.thread.join(timeout=5)

    # -- socket ------------------------------------------------------------
    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)  # unacked data lives in the outbox, not in ZeroMQ
        sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue for a peer that is not connected
        sock.setsockopt(zmq.SNDHWM, 64)
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)  # capped exponential backoff
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)  # detect a dead TCP peer
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        if self.curve:
            sock.curve_secretkey = self.curve["secret"]
            sock.curve_publickey = self.curve["public"]
            sock.curve_serverkey = self.curve["server"]
        sock.connect(self.config.endpoint)
        return sock

    def _send(self, sock: zmq.Socket, header: dict[str, Any], payload: bytes | None = None) -> bool:
        try:
            sock.send_multipart(protocol.encode(protocol.Message(header, payload)), flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False

    # -- main loop -----------------------------------------------------------
    def _run(self) -> None:
        ctx = zmq.Context.instance()
        sock = self._socket(ctx)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        next_heartbeat = 0.0
        log.info("link: connecting to uploader at %s", self.config.endpoint)
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if now >= next_heartbeat:
                    self._heartbeat(sock, now)
                    # Knock often until the uploader answers, then settle to the heartbeat.
                    interval = self.config.heartbeat_s if self.state.connected else min(0.25, self.config.heartbeat_s)
                    next_heartbeat = now + interval
                if self.state.connected:
                    self._send_pending(sock, now)
                for _ in range(100):
                    if not dict(poller.poll(0 if _ else 50)):
                        break
                    self._handle(sock.recv_multipart())
        finally:
            sock.close(linger=0)

    def _heartbeat(self, sock: zmq.Socket, now: float) -> None:
        state = self.state
        silent_for = now - state.last_heard
        if state.connected and silent_for > 3 * self.config.heartbeat_s:
            log.warning("link: uploader silent for %.0f s; will re-send %d in-flight item(s)",
                        silent_for, len(state.in_flight))
            state.connected = False
            state.credit_messages = state.credit_bytes = 0
            state.in_flight.clear()
        if not state.connected:
            self._send(sock, protocol.make_header(
                "hello", detector=DETECTOR_NAME, detector_version=self.version,
                cameras=self.cameras, capabilities=["credit", "snapshot", "segment"]))
            return
        depth, size = self.outbox.depth()
        self._send(sock, protocol.make_header(
            "status", cameras=self.camera_status(), outbox_depth=depth, outbox_bytes=size))

    def _send_pending(self, sock: zmq.Socket, now: float) -> None:
        state = self.state
        for item in self.outbox.pending():
            flight = state.in_flight.get(item.id)
            if flight is not None:
                if now - flight.sent_at < self.config.ack_timeout_s:
                    continue
                state.retransmits += 1
                log.info("link: no ack for %s after %.0f s; sending again", item.id, now - flight.sent_at)
            else:
                used = sum(f.size for f in state.in_flight.values())
                if len(state.in_flight) >= state.credit_messages:
                    return
                if state.in_flight and used + item.size > state.credit_bytes:
                    return
            try:
                header, payload = self.outbox.load(item.id)
            except FileNotFoundError:
                continue  # acked meanwhile
            if not self._send(sock, header, payload):
                return  # ZeroMQ buffer full or peer gone: try again next round
            state.in_flight[item.id] = InFlight(item.size, now)

    def _handle(self, frames: list[bytes]) -> None:
        try:
            message = protocol.decode(frames)
        except protocol.ProtocolError as exc:
            log.warning("link: ignoring malformed message from uploader: %s", exc)
            return
        state = self.state
        state.last_heard = time.monotonic()
        header = message.header
        if message.type == "credit":
            if not state.connected:
                log.info("link: connected to uploader (credit %d messages, %d bytes)",
                         header["messages"], header["bytes"])
            elif header["messages"] == 0 and state.credit_messages:
                log.warning("link: uploader paused sending: %s", header.get("reason", "no reason given"))
            state.connected = True
            state.credit_messages, state.credit_bytes = header["messages"], header["bytes"]
        elif message.type == "ack":
            state.in_flight.pop(header["ref"], None)
            self.outbox.remove(header["ref"], self.keep_copy_in)
            state.acked += 1
        elif message.type == "nack":
            ref = header["ref"]
            state.last_error = f"{header['code']}: {header['text']}"
            if header["retry"]:
                log.warning("link: uploader could not take %s now (%s); will retry", ref, state.last_error)
                # Stays in flight, so it is re-sent after the ack timeout, not in a hot loop.
                if ref in state.in_flight:
                    state.in_flight[ref].sent_at = time.monotonic()
            else:
                state.in_flight.pop(ref, None)
                log.error("link: uploader refused %s for good (%s); kept in %s",
                          ref, state.last_error, self.outbox.refused)
                self.outbox.refuse(ref)
                state.refused += 1
