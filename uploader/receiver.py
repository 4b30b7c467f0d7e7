"""The uploader's side of the wire: receive, check, store durably, then ack.

One thread owns the ROUTER socket. For each snapshot or segment it checks the
frames (``protocol.decode``), checks the camera against the sender's CURVE
key, de-duplicates by message id against the ledger, encrypts into the spool,
records it in the ledger, and only then acks. Every hello and status is
answered with credit, so detectors never have more in flight than the spool
can take, and so they hear from the uploader every heartbeat. A broken message
gets a nack, one log line and a counter; nothing a detector sends can stop the
loop. The contract is docs/protocol.md.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from quickcam.common import protocol
from quickcam.common.config import Config, ConfigError
from quickcam.common.cryptofile import Context
from quickcam.common.curve import server_keys
from quickcam.uploader.auth import ZAP_DOMAIN, AllowList, ZapHandler
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.spool import Spool

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_MS = 2000
SILENT_AFTER_HEARTBEATS = 3
FORGET_PEER_S = 3600.0

# Told of every hello, status and durably stored item: (kind, header, payload).
# kind is "hello", "status" or "stored"; payload is the snapshot's bytes, else None.
# It must return at once (the alerts service only queues it), and may not raise.
Observer = Callable[[str, dict[str, Any], bytes | None], None]


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
                 wake_shipper: threading.Event, observer: Observer | None = None) -> None:
        self.config = config
        self.observer = observer
        self.key = key
        self.spool = spool
        self.ledger_path = ledger_path
        self.wake_shipper = wake_shipper
        self.stop_event = threading.Event()
        self.counters: Counter[str] = Counter()
        self.peers: dict[bytes, dict[str, Any]] = {}
        self.max_payload = int(config.uploader.max_payload_mb * (1 << 20))
        self.status_path = config.uploader.state_dir / "status.json"
        self.bound = threading.Event()
        self.endpoint = config.link.endpoint
        self.curve = server_keys(config.link)
        self.allow: AllowList | None = None
        if self.curve:
            assert config.link.curve_allow_dir is not None  # server_keys checked it
            self.allow = AllowList.load(config.link.curve_allow_dir)
        elif not is_loopback_endpoint(self.endpoint) and not config.link.allow_plain_tcp:
            raise ConfigError(
                f"link.endpoint: {self.endpoint} is reachable from other machines without CURVE "
                "encryption; bind to 127.0.0.1, enable CURVE (link.curve_secret_key_file), "
                "or set link.allow_plain_tcp = true"
            )

    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)  # acks get a second to leave at shutdown; a lost one costs a re-send
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a reply to a vanished peer raises, not vanishes
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_payload + (1 << 20))  # refuse monsters before buffering
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)  # ZMTP PING: notice a dead TCP peer
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        if self.curve:
            sock.zap_domain = ZAP_DOMAIN.encode()
            sock.curve_server = True
            sock.curve_secretkey = self.curve.secret
            sock.curve_publickey = self.curve.public
        sock.bind(self.endpoint)
        return sock

    def serve(self) -> None:
        ctx = zmq.Context()
        zap = None
        if self.allow is not None:
            # Before bind: a CURVE socket with no ZAP handler lets every client in.
            zap = ZapHandler(ctx, self.allow, self.counters)
            zap.start()
        sock = self._socket(ctx)
        ledger = Ledger(self.ledger_path)
        if self.allow is not None:
            names = ", ".join(sorted(self.allow.by_name)) or "none"
            log.info("receiver: listening on %s (CURVE; %d detector key(s) allowed: %s)",
                     self.endpoint, len(self.allow), names)
        elif is_loopback_endpoint(self.endpoint):
            log.info("receiver: listening on %s (no CURVE: this machine only)", self.endpoint)
        else:
            log.warning("receiver: listening on %s WITHOUT CURVE: footage crosses the network "
                        "unencrypted and any host can send (link.allow_plain_tcp = true)", self.endpoint)
        self.bound.set()
        last_status = 0.0
        try:
            while not self.stop_event.is_set():
                if sock.poll(200):
                    for _ in range(100):  # a burst, then housekeeping
                        try:
                            frames = sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._receive(sock, ledger, frames)
                if time.monotonic() - last_status > 1.0:
                    self._watch_peers()
                    self._write_status(ledger)
                    last_status = time.monotonic()
        finally:
            self._write_status(ledger, running=False)
            sock.close()
            ledger.close()
            if zap is not None:
                zap.stop()
            ctx.term()

    # -- replies -------------------------------------------------------------
    def _reply(self, sock: zmq.Socket, peer: bytes, header: dict[str, Any]) -> None:
        frames = protocol.encode(protocol.Message(header))
        try:
            sock.send_multipart([peer, *frames], flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self.counters["reply_lost"] += 1
            log.debug("receiver: could not reply to a peer (%s); it will retransmit", exc)

    def _credit(self, sock: zmq.Socket, peer: bytes) -> None:
        problem = self.spool.room_problem()
        if problem:
            if self.counters["paused"] == 0 or self.counters["paused"] % 30 == 0:
                log.warning("receiver: not accepting footage: %s", problem)
            self.counters["paused"] += 1
            self._reply(sock, peer, protocol.make_header(
                "credit", messages=0, bytes=0, reason=problem, max_payload=self.max_payload))
            return
        if self.counters["paused"]:
            log.info("receiver: accepting footage again")
            self.counters["paused"] = 0
        self._reply(sock, peer, protocol.make_header(
            "credit", messages=min(self.config.uploader.credit_messages, protocol.MAX_CREDIT_MESSAGES),
            bytes=int(self.config.uploader.credit_mb * (1 << 20)), max_payload=self.max_payload))

    def _nack(self, sock: zmq.Socket, peer: bytes, ref: str, code: str, text: str) -> None:
        self.counters[f"nack_{code}"] += 1
        log.warning("receiver: nack %s for %s from %s: %s", code, ref or "?", self._who(peer), text)
        self._reply(sock, peer, protocol.make_nack(ref, code, text))

    def _who(self, peer: bytes) -> str:
        info = self.peers.get(peer, {})
        return info.get("user") or info.get("detector") or f"peer {peer.hex()}"

    # -- messages ------------------------------------------------------------
    def _receive(self, sock: zmq.Socket, ledger: Ledger, frames: list[zmq.Frame]) -> None:
        """One message from the ROUTER; nothing in it may raise out of here."""
        peer = frames[0].bytes
        try:
            user = self._user_id(frames[-1]) if self.allow is not None else ""
            self._handle(sock, ledger, peer, user, [f.bytes for f in frames[1:]])
        except Exception:  # a bug must cost one message, never the receiver
            self.counters["internal_errors"] += 1
            log.exception("receiver: internal error on a message from %s; sending nack internal",
                          self._who(peer))
            self._reply(sock, peer, protocol.make_nack("", "internal", "internal error; send again later"))

    @staticmethod
    def _user_id(frame: zmq.Frame) -> str:
        try:
            return frame.get("User-Id") or ""
        except zmq.ZMQError:
            return ""

    def _handle(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, user: str, frames: list[bytes]) -> None:
        try:
            message = protocol.decode(frames, self.max_payload, accept=protocol.DETECTOR_TYPES)
        except protocol.ProtocolError as exc:
            self._nack(sock, peer, exc.ref, exc.code, exc.text)
            return
        header = message.header
        info = self.peers.setdefault(peer, {})
        if info.get("silent"):
            log.info("receiver: %s is back after %.0f s of silence", self._who(peer), time.time() - info["seen"])
        info.update(seen=time.time(), silent=False, user=user)
        kind = message.type
        if kind == "hello":
            info.update(hello=header, detector=header["detector"])
            denied = self._denied_cameras(user, header["cameras"])
            log.info("receiver: detector %s %s (%s) connected with cameras %s%s",
                     header["detector"], header["detector_version"], header["v"], header["cameras"],
                     f" (key {user})" if user else "")
            if denied:
                self.counters["hello_cameras_not_allowed"] += 1
                log.warning("receiver: key %s may not send for camera(s) %s; their items will be "
                            "nacked not_allowed (see allow.toml)", user, ", ".join(denied))
            self._credit(sock, peer)
            self._observe("hello", header)
        elif kind == "status":
            info["status"] = header
            self._credit(sock, peer)
            self._observe("status", header)
        else:
            self._store(sock, ledger, peer, user, message)

    def _denied_cameras(self, user: str, cameras: list[str]) -> list[str]:
        if self.allow is None:
            return []
        allowed = self.allow.cameras_for(user)
        return [cam for cam in cameras if cam not in allowed]

    def _store(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, user: str,
               message: protocol.Message) -> None:
        header, payload = message.header, message.payload or b""
        item_id = header["id"]
        if self._denied_cameras(user, [header["camera"]]):
            self._nack(sock, peer, item_id, "not_allowed",
                       f"key {user} may not send for camera {header['camera']!r}")
            return
        known = ledger.sha256_of(item_id)
        if known is not None:
            if known == header["sha256"]:
                self.counters["duplicates"] += 1
                self._reply(sock, peer, protocol.make_header("ack", ref=item_id, duplicate=True))
            else:
                self._nack(sock, peer, item_id, "conflict",
                           f"id {item_id} was stored before with a different sha256")
            return
        problem = self.spool.room_problem(len(payload))
        if problem:
            self._nack(sock, peer, item_id, "busy", problem)
            return
        try:
            context = Context(
                camera_id=header["camera"], message_id=item_id, sequence=header.get("seq", 0),
                start_ms=header.get("start_ms", header["time_ms"]), content_type=header["content_type"],
                plaintext_length=len(payload),
            )
        except ValueError as exc:
            self._nack(sock, peer, item_id, "bad_value", str(exc))
            return
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
        self._reply(sock, peer, protocol.make_header("ack", ref=item_id))
        self.wake_shipper.set()
        self._observe("stored", header, payload if header["type"] == "snapshot" else None)

    def _observe(self, kind: str, header: dict[str, Any], payload: bytes | None = None) -> None:
        if self.observer is None:
            return
        try:
            self.observer(kind, header, payload)
        except Exception:  # alerts must never cost footage
            self.counters["observer_errors"] += 1
            log.exception("receiver: the alerts observer failed on a %s message", kind)

    # -- liveness ------------------------------------------------------------
    def _watch_peers(self) -> None:
        """Report detectors gone quiet (3 missed heartbeats); forget long-gone ones."""
        now = time.time()
        for peer, info in list(self.peers.items()):
            if "seen" not in info:
                continue
            quiet = now - info["seen"]
            heartbeat_s = info.get("hello", {}).get("heartbeat_ms", DEFAULT_HEARTBEAT_MS) / 1000
            if quiet > FORGET_PEER_S:
                del self.peers[peer]
            elif quiet > SILENT_AFTER_HEARTBEATS * heartbeat_s and not info.get("silent"):
                info["silent"] = True
                self.counters["detectors_silent"] += 1
                log.warning("receiver: %s silent for %.0f s (heartbeat every %.1f s)",
                            self._who(peer), quiet, heartbeat_s)

    def _write_status(self, ledger: Ledger, running: bool = True) -> None:
        status = {
            "time": time.time(),
            "running": running,  # false on the last write: a stopped uploader is not shown as up
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "curve": self.allow is not None,
            "counters": dict(self.counters),
            "spool_bytes": self.spool.used_bytes(),
            "detectors": [
                {"detector": p.get("detector", ""), "key": p.get("user", ""),
                 "cameras": p.get("hello", {}).get("cameras", []),
                 "seen_s_ago": round(time.time() - p["seen"], 1), "silent": p.get("silent", False),
                 "status": {k: v for k, v in p.get("status", {}).items()
                            if k in ("cameras", "outbox_depth", "outbox_bytes", "refused")}}
                for p in self.peers.values() if "seen" in p
            ],
        }
        tmp = self.status_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(status))
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.debug("receiver: cannot write status file: %s", exc)
