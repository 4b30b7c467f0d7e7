"""The uploader's side of the wire: receive, check, store durably, then ack.

One thread owns the ROUTER socket. For each snapshot or segment it checks the
frames (``protocol.decode``), de-duplicates by message id against the ledger,
encrypts into the spool, records it in the ledger, and only then acks. It
grants credit so detectors never have more in flight than the spool can take.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from quickcam.common import protocol
from quickcam.common.config import Config, ConfigError
from quickcam.common.cryptofile import Context
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.spool import Spool

log = logging.getLogger(__name__)


def is_loopback_endpoint(endpoint: str) -> bool:
    if not endpoint.startswith("tcp://"):
        return True  # ipc:// and inproc:// never leave the machine
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*" or an interface name: reachable from outside


def remote_key(folder: str, header: dict[str, Any]) -> str:
    """Where an item lands in storage: folder/camera/date/event/kind-seq-id.qsc."""
    day = datetime.fromtimestamp(header["time_ms"] / 1000, UTC).strftime("%Y-%m-%d")
    seq = header.get("seq", 0)
    return f"{folder}/{header['camera']}/{day}/{header['event']}/{header['type']}-{seq:04d}-{header['id']}.qsc"


class Receiver:
    """Owns the ROUTER socket; run ``serve()`` in its own thread."""

    def __init__(self, config: Config, key: object, spool: Spool, ledger_path: Path,
                 wake_shipper: threading.Event, curve: dict[str, bytes] | None = None) -> None:
        self.config = config
        self.key = key
        self.spool = spool
        self.ledger_path = ledger_path
        self.wake_shipper = wake_shipper
        self.curve = curve
        self.stop_event = threading.Event()
        self.counters: Counter[str] = Counter()
        self.peers: dict[bytes, dict[str, Any]] = {}
        self.max_payload = int(config.uploader.max_payload_mb * (1 << 20))
        self.status_path = config.uploader.state_dir / "status.json"
        self.bound = threading.Event()
        self.endpoint = config.link.endpoint
        if not curve and not is_loopback_endpoint(self.endpoint) and not config.link.allow_plain_tcp:
            raise ConfigError(
                f"link.endpoint: {self.endpoint} is reachable from other machines without CURVE "
                "encryption; bind to 127.0.0.1, enable CURVE, or set link.allow_plain_tcp = true"
            )

    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a reply to a vanished peer raises, not vanishes
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_payload + (1 << 20))  # refuse monsters before buffering
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        if self.curve:
            sock.curve_server = True
            sock.curve_secretkey = self.curve["secret"]
            sock.curve_publickey = self.curve["public"]
        sock.bind(self.endpoint)
        return sock

    def serve(self) -> None:
        ctx = zmq.Context.instance()
        sock = self._socket(ctx)
        ledger = Ledger(self.ledger_path)
        plain = "" if self.curve else " (no CURVE: loopback only)" if is_loopback_endpoint(self.endpoint) else " (PLAIN TCP, NOT ENCRYPTED)"
        log.info("receiver: listening on %s%s", self.endpoint, plain)
        self.bound.set()
        last_status = 0.0
        try:
            while not self.stop_event.is_set():
                if sock.poll(200):
                    frames = sock.recv_multipart(copy=True)
                    self._handle(sock, ledger, frames[0], frames[1:])
                if time.monotonic() - last_status > 1.0:
                    self._write_status(ledger)
                    last_status = time.monotonic()
        finally:
            self._write_status(ledger)
            sock.close()
            ledger.close()

    # -- replies -------------------------------------------------------------
    def _reply(self, sock: zmq.Socket, peer: bytes, msg_type: str, **fields: Any) -> None:
        frames = protocol.encode(protocol.Message(protocol.make_header(msg_type, **fields)))
        try:
            sock.send_multipart([peer, *frames], flags=zmq.NOBLOCK)
        except (zmq.Again, zmq.error.ZMQError) as exc:
            log.debug("receiver: could not reply to a peer (%s); it will retransmit", exc)

    def _credit(self, sock: zmq.Socket, peer: bytes) -> None:
        problem = self.spool.room_problem()
        if problem:
            if self.counters["paused"] == 0 or self.counters["paused"] % 30 == 0:
                log.warning("receiver: not accepting footage: %s", problem)
            self.counters["paused"] += 1
            self._reply(sock, peer, "credit", messages=0, bytes=0, reason=problem)
            return
        if self.counters["paused"]:
            log.info("receiver: accepting footage again")
            self.counters["paused"] = 0
        self._reply(sock, peer, "credit", messages=self.config.uploader.credit_messages,
                    bytes=int(self.config.uploader.credit_mb * (1 << 20)))

    def _nack(self, sock: zmq.Socket, peer: bytes, ref: str, code: str, text: str) -> None:
        self.counters[f"nack_{code}"] += 1
        log.warning("receiver: nack %s for %s: %s", code, ref or "?", text)
        self._reply(sock, peer, "nack", ref=ref, code=code, text=text, retry=protocol.NACK_CODES.get(code, False))

    # -- messages ------------------------------------------------------------
    def _handle(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, frames: list[bytes]) -> None:
        try:
            message = protocol.decode(frames, self.max_payload)
        except protocol.ProtocolError as exc:
            self._nack(sock, peer, _guess_id(frames), exc.code, exc.text)
            return
        header = message.header
        kind = message.type
        if kind == "hello":
            log.info("receiver: detector %s %s connected with cameras %s",
                     header["detector"], header["detector_version"], header["cameras"])
            self.peers[peer] = {"hello": header, "seen": time.time()}
            self._credit(sock, peer)
        elif kind == "status":
            self.peers.setdefault(peer, {})
            self.peers[peer].update(status=header, seen=time.time())
            self._credit(sock, peer)
        elif kind in protocol.PAYLOAD_TYPES:
            self._store(sock, ledger, peer, message)
        else:
            self._nack(sock, peer, header["id"], "bad_header", f"a detector may not send {kind!r}")

    def _store(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, message: protocol.Message) -> None:
        header, payload = message.header, message.payload or b""
        item_id = header["id"]
        known = ledger.sha256_of(item_id)
        if known is not None:
            if known == header["sha256"]:
                self.counters["duplicates"] += 1
                self._reply(sock, peer, "ack", ref=item_id)
            else:
                self._nack(sock, peer, item_id, "conflict", "this id was stored before with different content")
            return
        problem = self.spool.room_problem(len(payload))
        if problem:
            self._nack(sock, peer, item_id, "busy", problem)
            return
        context = Context(
            camera_id=header["camera"], message_id=item_id, sequence=header.get("seq", 0),
            start_ms=header.get("start_ms", header["time_ms"]), content_type=header["content_type"],
            plaintext_length=len(payload),
        )
        try:
            path = self.spool.store(item_id, payload, self.key, context)
            ledger.add(Item(item_id, header["sha256"], header["type"], header["camera"], header["event"],
                            header.get("seq", 0), len(payload), str(path),
                            remote_key(self.config.uploader.remote_folder, header), time.time()),
                       self.config.uploader.destinations)
        except (OSError, sqlite3.Error) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._nack(sock, peer, item_id, "busy", f"cannot store: {reason}")
            return
        self.counters[header["type"]] += 1
        self._reply(sock, peer, "ack", ref=item_id)
        self.wake_shipper.set()

    def _write_status(self, ledger: Ledger) -> None:
        status = {
            "time": time.time(),
            "endpoint": self.endpoint,
            "counters": dict(self.counters),
            "spool_bytes": self.spool.used_bytes(),
            "detectors": [
                {"cameras": p.get("hello", {}).get("cameras", []), "seen_s_ago": round(time.time() - p["seen"], 1),
                 "status": {k: v for k, v in p.get("status", {}).items() if k in ("cameras", "outbox_depth", "outbox_bytes")}}
                for p in self.peers.values() if "seen" in p
            ],
        }
        tmp = self.status_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(status))
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.debug("receiver: cannot write status file: %s", exc)


def _guess_id(frames: list[bytes]) -> str:
    """The message id of a broken message, if it can be read, for the nack's ref."""
    try:
        import msgpack

        header = msgpack.unpackb(bytes(frames[1]), raw=False)
        ref = header.get("id", "") if isinstance(header, dict) else ""
        return ref if isinstance(ref, str) and len(ref) <= 64 else ""
    except Exception:
        return ""
