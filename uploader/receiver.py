"""The uploader's side of the wire: receive, check, hand over to be stored, then answer.

One thread owns the ROUTER socket. For each snapshot or segment it checks the
frames (``protocol.decode``) and the camera against the sender's CURVE key;
``storing.py`` de-duplicates it by origin (sender identity, camera, message id),
encrypts it into the spool and records it in the ledger, and only then is it
acked. Every hello and status is answered with credit, so detectors never have
more in flight than the spool can take, and so they hear from the uploader every
heartbeat. A broken message gets a nack, one log line and a counter; nothing a
detector sends can stop the loop. Which detectors are connected lives in
``detectors.py``, the status file in ``status_file.py``. The contract is docs/protocol.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from quickcam.common import endpoint as link_endpoint
from quickcam.common import protocol
from quickcam.common.config import Config, ConfigError
from quickcam.common.curve import server_keys
from quickcam.common.durable import move_aside
from quickcam.common.endpoint import is_loopback_endpoint
from quickcam.common.health import written_stamp
from quickcam.common.protocol_schema import NACK_CODES, error_text
from quickcam.common.said_every import SaidEvery
from quickcam.uploader.auth import ZAP_DOMAIN, AllowList, AllowListWatcher, ZapHandler, only_allowed_cameras
from quickcam.uploader.detectors import DetectorRecord, DetectorTable
from quickcam.uploader.ledger import LOCKED_SAY_AFTER_S, Ledger
from quickcam.uploader.ledger_locked import LedgerLocked
from quickcam.uploader.spool import Spool
from quickcam.uploader.status_file import STATUS_FILE_NAME, restore_detectors, write_status
from quickcam.uploader.storing import CANNOT_STORE, DUPLICATE, STORED, ItemStore, Outcome, remote_key

log = logging.getLogger(__name__)

__all__ = ["Receiver", "is_loopback_endpoint", "remote_key"]

HOUSEKEEPING_S = 1.0

# Told of every hello, status and durably stored item: (kind, header, payload).
# kind is "hello", "status" or "stored"; payload is the snapshot's bytes, else None.
# It must return at once (the alerts service only queues it), and may not raise.
Observer = Callable[[str, dict[str, Any], bytes | None], None]


class Receiver:
    """Owns the ROUTER socket: ``open()`` in the main thread (errors are one line), then ``serve()``."""

    def __init__(self, config: Config, key: object, spool: Spool, ledger_path: Path,
                 wake_shipper: threading.Event, observer: Observer | None = None) -> None:
        self.config = config
        self.observer = observer
        self.spool = spool
        self.ledger_path = ledger_path
        self.wake_shipper = wake_shipper
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()  # SIGHUP: read the CURVE allow-list again
        self.counters: Counter[str] = Counter()
        self._nacks_said: dict[str, SaidEvery] = {}  # per code to send again later: at most a line a minute
        self.detectors = DetectorTable()
        self.max_payload = int(config.uploader.max_payload_mb * (1 << 20))
        self.status_path = config.uploader.state_dir / STATUS_FILE_NAME
        self._status_failing = False  # the last write of status.json failed (said once a streak)
        restore_detectors(self.detectors, self.status_path)
        self.items = ItemStore(config.uploader, key, spool)
        self.bound = threading.Event()
        self.endpoint = config.link.endpoint
        self.curve = server_keys(config.link)
        link_endpoint.check_plain_tcp(config.link, curve=bool(self.curve))
        self.allow: AllowList | None = None
        self._allow_watch: AllowListWatcher | None = None
        if self.curve:
            assert config.link.curve_allow_dir is not None  # server_keys checked it
            self.allow = AllowList.load(config.link.curve_allow_dir)
            self._allow_watch = AllowListWatcher(config.link.curve_allow_dir, self.allow, self.counters)
        self._ctx: zmq.Context | None = None
        self._zap: ZapHandler | None = None
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._lock: link_endpoint.EndpointLock | None = None
        self.lock_note = f", state folder {config.uploader.state_dir.resolve()}"  # in the endpoint's lock file
        self._peer_fd: dict[bytes, int] = {}
        self.other_fault: Callable[[], str] = lambda: ""  # another thread's reason the uploader cannot work
        self.failing_destinations: Callable[[], list[dict[str, object]]] = list  # the shipper's (uploader/app.py)
        self.notes: Callable[[], list[str]] = list  # what a person should know, no fault (tokens.env changed)
        self.pause_reason = ""  # why credit is refused now (the spool full, its disk low): '' while accepting
        self.paused_since = 0.0  # monotonic, since when credit is refused for pause_reason; 0 while accepting
        # why the last item could not be written into the spool or the ledger (EACCES, EROFS, EIO): every item
        # is nacked busy and waits in the detectors, as in a pause, but credit is still granted; '' once one is
        self.store_problem = ""
        self.store_failing_since = 0.0  # monotonic, since the first of those failures in a row; 0 without one
        self.failed_for_good: list[dict[str, object]] = []  # the ledger's, as of the last status write
        self.ledger_problem = ""  # set once the ledger was deleted under us: no footage accepted until a restart
        self.ledger_locked = LedgerLocked(  # serve() gives it its say
            ledger_path, "receiver", "no footage is accepted and new footage waits in the detectors' outboxes",
            lambda: None, self.counters)
        self._socket_trouble = ""  # why the ipc socket's file, deleted under us, cannot be made again (said once)

    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 1000)  # acks get a second to leave at shutdown; a lost one costs a re-send
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a reply to a vanished peer raises, not vanishes
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_payload + (1 << 20))  # refuse monsters before buffering
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)  # ZMTP PING: notice a dead TCP peer
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        sock.setsockopt(zmq.IPV6, 1)  # tcp://[::1]:P, a v6 address, and * as dual stack (FINDINGS #49)
        if self.curve:
            sock.zap_domain = ZAP_DOMAIN.encode()
            sock.curve_server = True
            sock.curve_secretkey = self.curve.secret
            sock.curve_publickey = self.curve.public
        try:
            sock.bind(self.endpoint)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            raise link_endpoint.bind_error(self.endpoint, exc) from None
        return sock

    def open(self) -> None:
        """Bind the endpoint (after the ZAP handler); a ConfigError says why it cannot."""
        link_endpoint.private_folder(self.endpoint)
        self._lock = link_endpoint.lock_endpoint(self.endpoint, self.lock_note)
        self._ctx = zmq.Context()
        try:
            if self.allow is not None:
                # Before bind: a CURVE socket with no ZAP handler lets every client in.
                self._zap = ZapHandler(self._ctx, self.allow, self.counters)
                self._zap.start()
            self._sock = self._socket(self._ctx)
        except ConfigError:
            self._close()
            raise
        # Closed connections are logged: ZeroMQ drops a connection that sends a frame over
        # ZMQ_MAXMSGSIZE without telling the application anything else.
        self._monitor = self._sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        if self.allow is not None:
            names = ", ".join(sorted(self.allow.by_name)) or "none"
            log.info("receiver: listening on %s (CURVE; %d detector key(s) allowed: %s)",
                     self.endpoint, len(self.allow), names)
        elif link_endpoint.ipc_path(self.endpoint) is not None:
            log.info("receiver: listening on %s (a socket only this user can reach)", self.endpoint)
        else:
            log.warning("receiver: listening on %s", link_endpoint.plain_tcp_warning(self.config.link, False))
        self.bound.set()

    def serve(self) -> None:
        if self._sock is None:
            self.open()
        sock = self._sock
        assert sock is not None and self._monitor is not None
        ledger = Ledger(self.ledger_path)
        self.ledger_locked.say = lambda: self._write_status(ledger)
        ledger.on_locked = self.ledger_locked.waiting
        ledger.own_wait_s = LOCKED_SAY_AFTER_S  # the shipper's own write (a slow disk): waited for, not a lock
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        last_housekeeping = 0.0
        try:
            while not self.stop_event.is_set():
                ready = dict(poller.poll(200))
                if sock in ready:
                    for _ in range(100):  # a burst, then housekeeping
                        try:
                            frames = sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        self._receive(sock, ledger, frames)
                if self._monitor in ready:
                    self._on_socket_event(recv_monitor_message(self._monitor))
                if time.monotonic() - last_housekeeping > HOUSEKEEPING_S:
                    self._reload_allow_list_if_changed()
                    self._watch_detectors()
                    self._check_ledger(ledger)
                    self.ledger_locked.check(ledger)
                    self._check_socket_file(sock)
                    self._write_status(ledger)
                    last_housekeeping = time.monotonic()
        finally:
            self._write_status(ledger, running=False)
            ledger.close()
            self._close()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.disable_monitor()
        for sock in (self._monitor, self._sock):
            if sock is not None:
                sock.close()
        if self._zap is not None:
            self._zap.stop()
        if self._ctx is not None:
            self._ctx.term()
        if self._lock is not None:
            self._lock.release()
        self._sock = self._monitor = self._zap = self._ctx = self._lock = None

    # -- allow-list --------------------------------------------------------------
    def _reload_allow_list_if_changed(self) -> None:
        """On SIGHUP or a change in its folder: the new allow-list for new connections and every message.

        A SIGHUP is said whatever it reloads: without CURVE it reloaded nothing, without a word, so a config
        edited and followed by ``kill -HUP`` looked applied (bench/outside/FINDINGS.md #24).
        """
        asked = self.reload_requested.is_set()
        self.reload_requested.clear()
        if asked:
            log.warning("uploader: SIGHUP (a reload asked, or its terminal closed): %sthe config and tokens.env are "
                        "read at start only: restart the uploader to apply a change to them",
                        "the CURVE allow-list is read again; " if self._allow_watch is not None else "")
        if self._allow_watch is None:
            return
        fresh = self._allow_watch.reload_if_changed(asked)
        if fresh is not None:
            self.allow = fresh
            if self._zap is not None:
                self._zap.allow = fresh

    def _allowed(self, public_key: str) -> tuple[str, frozenset[str]]:
        """(name, cameras) of a CURVE key in the current allow-list; ('', empty) if it is not in it."""
        if self.allow is None:
            return "", frozenset()
        detector = self.allow.by_key.get(public_key.encode())
        return (detector.name, detector.cameras) if detector else ("", frozenset())

    # -- replies -------------------------------------------------------------
    def _reply(self, sock: zmq.Socket, peer: bytes, header: dict[str, Any], *, leaving: bool = False) -> None:
        """Send one answer; ``leaving``: the peer said it is stopping and closes at once (protocol section 9), so
        an answer that finds it gone is the stop it announced, not an answer lost (not counted, not warned)."""
        frames = protocol.encode(protocol.Message(header))
        try:
            sock.send_multipart([peer, *frames], flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            if leaving:
                log.debug("receiver: the answer to a stopping detector's last status found it gone (%s)", exc)
                return
            self.counters["reply_lost"] += 1
            lost = self.counters["reply_lost"]
            if lost % 100 == 1:  # the first, then one line a hundred: a flood of them is one line, not thousands
                log.warning("receiver: could not answer a detector (%s: it has gone, or reads no answers); "
                            "%d answer(s) not sent so far (quickcam status shows the count); a detector still there "
                            "sends the message again", exc, lost)

    def _check_socket_file(self, sock: zmq.Socket) -> None:
        """Listen again on an ipc:// socket whose file was deleted (a clean-up of /tmp or /run, ``rm -rf`` of it).

        The connections made before go on, but a detector that connects anew (restarted, or its connection
        dropped) finds no file: it stayed ``NOT CONNECTED`` with its footage piling up in its outbox until the
        uploader was restarted, and nothing was logged, nor red in the health check. Bound again, the folder
        made again if it went too (0700), with the endpoint's lock; whatever else stands at the name is moved
        aside, kept.
        """
        path = link_endpoint.ipc_path(self.endpoint)
        if path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                self._socket_trouble = ""
                return
        try:
            link_endpoint.private_folder(self.endpoint)
            if not (path.parent / link_endpoint.LOCK_NAME).exists():  # went with the folder: a second uploader
                if self._lock is not None:  # would take the endpoint from under this one
                    self._lock.release()
                self._lock = link_endpoint.lock_endpoint(self.endpoint, self.lock_note)
            moved = f"; moved what stood there to {move_aside(path).name}" if os.path.lexists(path) else ""
            sock.bind(self.endpoint)
        except (OSError, ConfigError, zmq.ZMQError) as exc:
            if not self._socket_trouble:
                log.error("receiver: the socket file %s is gone and cannot be made again (%s); detectors that "
                          "connect anew cannot reach the uploader: restart it", path, exc)
            self._socket_trouble = str(exc)
            return
        self._socket_trouble = ""
        log.error("receiver: the socket file %s was deleted while the uploader ran (a clean-up of its folder?); "
                  "listening on it again%s. Keep the socket out of folders that are cleaned up", path, moved)

    def _check_ledger(self, ledger: Ledger) -> None:
        """A ledger deleted (or replaced) under us is written back, and footage waits in the detectors until a restart
        (the other threads still write to the deleted copy, so what is acked now would be lost by one)."""
        if self.ledger_problem:
            return
        try:
            gone = ledger.rescue_if_gone()
        except (OSError, sqlite3.Error) as exc:  # it ended the receiver thread, and the uploader with it
            self.ledger_problem = (f"the ledger {self.ledger_path} was lost while the uploader ran and cannot be "
                                   f"written back ({exc}); check its folder {self.ledger_path.parent}, then restart "
                                   "the uploader (footage waits in the detectors' outboxes until then)")
            log.error("receiver: %s", self.ledger_problem)
            return
        if not gone:
            return
        self.ledger_problem = (f"the ledger {self.ledger_path} was {gone} while the uploader ran; it is restored, "
                               "restart the uploader (footage waits in the detectors' outboxes until then)")
        log.error("receiver: %s", self.ledger_problem)

    def _credit(self, sock: zmq.Socket, peer: bytes, *, leaving: bool = False) -> None:
        fault = self.ledger_problem or self.ledger_locked.problem  # the status file's fault, said already
        problem = fault or self.spool.room_problem()
        if problem:
            if not self.ledger_locked.problem and (self.counters["paused"] == 0 or self.counters["paused"] % 30 == 0):
                log.warning("receiver: not accepting footage: %s", problem)
            self.counters["paused"] += 1
            self.pause_reason = "" if fault else problem
            self.paused_since = (self.paused_since or time.monotonic()) if self.pause_reason else 0.0
            reason = error_text(problem, protocol.MAX_NACK_TEXT)  # a long folder's name broke the credit's limit
            self._reply(sock, peer, protocol.make_header(
                "credit", messages=0, bytes=0, reason=reason, max_payload=self.max_payload), leaving=leaving)
            return
        if self.counters["paused"]:
            log.info("receiver: accepting footage again")
            self.counters["paused"] = 0
            self.pause_reason = ""
            self.paused_since = 0.0
        self._reply(sock, peer, protocol.make_header(
            "credit", messages=min(self.config.uploader.credit_messages, protocol.MAX_CREDIT_MESSAGES),
            bytes=int(self.config.uploader.credit_mb * (1 << 20)), max_payload=self.max_payload), leaving=leaving)

    def _nack(self, sock: zmq.Socket, peer: bytes, ref: str, code: str, text: str) -> None:
        self.counters[f"nack_{code}"] += 1
        # A nack to send again later comes back every ack_timeout_s: said once a minute (FINDINGS.md #26)
        more = self._nacks_said.setdefault(code, SaidEvery()).said() if NACK_CODES.get(code) else ""
        if more is not None:
            log.warning("receiver: nack %s for %s from %s: %s%s", code, ref or "?", self._who(peer), text, more)
        self._reply(sock, peer, protocol.make_nack(ref, code, text))

    def _who(self, peer: bytes) -> str:
        record = self.detectors.record_of(peer)
        return record.name if record else f"peer {peer.hex()}"

    # -- messages ------------------------------------------------------------
    def _receive(self, sock: zmq.Socket, ledger: Ledger, frames: list[zmq.Frame]) -> None:
        """One message from the ROUTER; nothing in it may raise out of here."""
        peer = frames[0].bytes
        try:
            self._remember_connection(peer, frames[-1])
            public_key = self._user_id(frames[-1]) if self.allow is not None else ""
            self._handle(sock, ledger, peer, public_key, [f.bytes for f in frames[1:]])
        except Exception:  # a bug must cost one message, never the receiver
            self.counters["internal_errors"] += 1
            log.exception("receiver: internal error on a message from %s; sending nack internal",
                          self._who(peer))
            self._reply(sock, peer, protocol.make_nack("", "internal", "internal error; send again later"))

    def _remember_connection(self, peer: bytes, frame: zmq.Frame) -> None:
        """Which file descriptor a peer's messages come on, to name it when the connection closes."""
        with contextlib.suppress(zmq.ZMQError, AttributeError):  # no ZMQ_SRCFD: closes go unnamed
            self._peer_fd[peer] = frame.get(zmq.SRCFD)

    @staticmethod
    def _user_id(frame: zmq.Frame) -> str:
        try:
            return frame.get("User-Id") or ""
        except zmq.ZMQError:
            return ""

    def _handle(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, public_key: str,
                frames: list[bytes]) -> None:
        try:
            message = protocol.decode(frames, self.max_payload, accept=protocol.DETECTOR_TYPES)
        except protocol.ProtocolError as exc:
            self._nack(sock, peer, exc.ref, exc.code, exc.text)
            return
        header = message.header
        user, allowed = self._allowed(public_key)
        limit = allowed if self.allow is not None else None  # what alerts may hear of: the key's cameras
        if message.type == "hello":
            if self._hello(peer, header, public_key, user, allowed):
                self._observe("hello", only_allowed_cameras(header, limit))
            self._credit(sock, peer)
            return
        cameras = list(header["cameras"]) if message.type == "status" else [header["camera"]]
        record, was_silent = self.detectors.heard(peer, public_key, user, cameras)
        if was_silent:
            log.info("receiver: %s is back", record.name)
        if message.type == "status":
            record.status = header
            record.stopping = header.get("stopping") is True
            self._credit(sock, peer, leaving=record.stopping)
            self._observe("status", only_allowed_cameras(header, limit))
        else:
            self._store(sock, ledger, peer, public_key, user, allowed, message)

    def _hello(self, peer: bytes, header: dict[str, Any], public_key: str, user: str,
               allowed: frozenset[str]) -> bool:
        """Record a hello; False for the doctor's probe, which is never tracked."""
        record, event = self.detectors.hello(peer, header, public_key, user)
        if record is None:
            log.debug("receiver: %s %s checked the link", header["detector"], header["detector_version"])
            return False
        if event == "again":
            return True
        verb = {"new": "connected", "back": "is back", "changed": "reconnected"}[event]
        log.info("receiver: detector %s %s (%s) %s with cameras %s%s", header["detector"],
                 header["detector_version"], header["v"], verb, header["cameras"],
                 f" (key {user})" if user else "")
        denied = [cam for cam in header["cameras"] if cam not in allowed] if self.allow is not None else []
        if denied:
            self.counters["hello_cameras_not_allowed"] += 1
            log.warning("receiver: key %s may not send for camera(s) %s; their items will be "
                        "nacked not_allowed (see allow.toml)", user or public_key, ", ".join(denied))
        return True

    def _store(self, sock: zmq.Socket, ledger: Ledger, peer: bytes, public_key: str, user: str,
               allowed: frozenset[str], message: protocol.Message) -> None:
        header, payload = message.header, message.payload or b""
        item_id, camera = header["id"], header["camera"]
        if self.allow is not None and camera not in allowed:
            why = (f"key {user} may not send for camera {camera!r}" if user
                   else f"key {public_key} is no longer in the allow-list")
            self._nack(sock, peer, item_id, "not_allowed", why)
            return
        ledger.lock_wait_s = self._lock_wait_s()
        outcome = self.items.store(ledger, header, payload, public_key,
                                   self.ledger_problem or self.ledger_locked.problem)
        if outcome.code == DUPLICATE:
            self.counters["duplicates"] += 1
            self._reply(sock, peer, protocol.make_header("ack", ref=item_id, duplicate=True))
            return
        if outcome.code != STORED:
            self._store_failed(outcome)
            self._nack(sock, peer, item_id, outcome.code, outcome.text)
            return
        if self.store_problem:
            log.warning("receiver: footage is stored again (%s no longer)", self.store_problem)
            self.store_problem, self.store_failing_since = "", 0.0
        self.counters[header["type"]] += 1
        self._reply(sock, peer, protocol.make_header("ack", ref=item_id))
        self.wake_shipper.set()
        self._observe("stored", header, payload if header["type"] == "snapshot" else None)

    def _lock_wait_s(self) -> float:
        """How long an item's ledger write waits for another program's lock before it is nacked ``busy``.

        The receiver answers no one meanwhile: one 3 s slice made a detector with a heartbeat H under 1 s call it
        silent (after 3 H, docs/protocol.md section 9). So the wait is at most the shortest H it was told.
        """
        return min([LOCKED_SAY_AFTER_S, *(record.heartbeat_s for record in self.detectors.records.values())])

    def _observe(self, kind: str, header: dict[str, Any], payload: bytes | None = None) -> None:
        if self.observer is None:
            return
        try:
            self.observer(kind, header, payload)
        except Exception:  # alerts must never cost footage
            self.counters["observer_errors"] += 1
            log.exception("receiver: the alerts observer failed on a %s message", kind)

    # -- liveness ------------------------------------------------------------
    def _on_socket_event(self, event: dict[str, Any]) -> None:
        """A connection closed: say whose, and the one cause ZeroMQ keeps to itself."""
        fd = event["value"]
        peers = [peer for peer, peer_fd in self._peer_fd.items() if peer_fd == fd]
        for peer in peers:
            del self._peer_fd[peer]
        records = {r.key: r for r in (self.detectors.record_of(p) for p in peers) if r is not None}
        self.counters["connections_closed"] += 1
        for record in records.values():
            log.info("receiver: %s", record.closed_words(self.max_payload + (1 << 20)))

    def _watch_detectors(self) -> None:
        """Report detectors gone quiet (3 missed heartbeats on all their connections)."""
        for record, quiet in self.detectors.newly_silent():
            if record.stopping:
                self.counters["detectors_stopped"] += 1
                log.info("receiver: %s stopped cleanly (its last status said so)", record.name)
                continue
            self.counters["detectors_silent"] += 1
            log.warning("receiver: %s silent for %.0f s (heartbeat every %.1f s)",
                        record.name, quiet, record.heartbeat_s)

    def _store_failed(self, outcome: Outcome) -> None:
        """Note an item the spool or the ledger would not take (not the room check's pause, said already).

        Every item was nacked busy, one warning each, and waited in the detectors' outboxes while the uploader's
        status said nothing and the health check stayed green, for any length of time (bench/outside/FINDINGS.md,
        session 20: the spool chmod 0500 for 75 s). Now it is refusing as a full spool is, with the folders named.
        """
        if not outcome.text.startswith(CANNOT_STORE):
            return
        if not self.store_problem:
            self.store_failing_since = time.monotonic()
            log.error("receiver: %s into the spool %s or the ledger %s; footage waits in the detectors' outboxes "
                      "until it can be (check that this user may write both, and their disk)", outcome.text,
                      self.spool.root, self.ledger_path)
        self.store_problem = outcome.text

    def detector_records(self) -> list[DetectorRecord]:
        """Every detector heard from in the last hour (read-only view for status and alerts)."""
        return list(self.detectors.records.values())

    def _write_status(self, ledger: Ledger, running: bool = True) -> None:
        with contextlib.suppress(sqlite3.Error):  # a ledger gone or locked: _check_ledger and its lock say so
            self.failed_for_good = ledger.failed_for_good()
        refusing = (self.pause_reason or self.store_problem) and running  # a stopped one says it stopped
        if self.pause_reason:
            reason, since, fix = self.pause_reason, self.paused_since, "free space there"
        else:
            reason, since = f"{self.store_problem} into the spool {self.spool.root}", self.store_failing_since
            fix = f"check that the uploader may write {self.spool.root} and {self.ledger_path}, and their disk"
        status = {
            **written_stamp(),  # time, and the monotonic clock for ages (common/health.py)
            "running": running,  # false on the last write: a stopped uploader is not shown as up
            "pid": os.getpid(),
            "interval_s": HOUSEKEEPING_S,  # the health check calls this file stale after a few intervals
            "endpoint": self.endpoint,
            "curve": self.allow is not None,
            "counters": dict(self.counters),
            "spool_bytes": self.spool.used_bytes(),
            "detectors": self.detectors.as_status(),
            # The health check fails while there is one; other_fault: the shipper's (uploader/app.py).
            "fault": (self.ledger_problem or self.ledger_locked.problem or self.detectors.conflict
                      or self.other_fault()),
            # quickcam status: one line each; a pause (spool full, disk low) is said with its reason there
            "notes": self.notes() + ([f"not accepting footage: {reason}"] if refusing else []),
            "failing_destinations": self.failing_destinations(),  # past their bound, they fail the health check
            # The health check fails on both (common/health.py): footage held on the camera machine, or in the spool
            # until a person runs quickcam retry.
            "refusing": ({"reason": reason, "for_s": round(time.monotonic() - since, 1), "fix": fix,
                          "after_s": self.config.uploader.refusing_after_s} if refusing else None),
            "failed_for_good": self.failed_for_good,
        }
        self._status_failing = write_status(self.status_path, status, self.counters, self._status_failing)

