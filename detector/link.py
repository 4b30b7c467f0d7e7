"""The detector's side of the wire: the connection to the uploader, its credit and heartbeats.

One thread owns the DEALER socket (ZeroMQ sockets are not thread-safe). It
follows the protocol's delivery contract (docs/protocol.md):

- nothing but ``hello`` is sent before the uploader grants credit; what the
  credit lets through, and what an ``ack`` or ``nack`` does to an item, is the
  delivery window's (``delivery.py``): sent within the credit, kept until acked,
  sent again byte for byte after ``ack_timeout_s``, refused items kept;
- heartbeats (``status``) go out every ``heartbeat_s`` and each is answered
  with credit; if the uploader says nothing for three of them the link is
  reported down and everything in flight is re-sent once it comes back;
  while down, ``hello`` is repeated with capped exponential backoff;
- a CURVE handshake the uploader refuses is logged as such (a socket monitor
  sees it); the footage stays in the outbox. A handshake that times out (the
  uploader frozen or overloaded) is reported as what it is: no answer for N s;
- every new connection starts with a ``hello`` again, so the uploader knows
  whose connection it is (one detector, however often it reconnects);
- the link only starts on an endpoint that authenticates the uploader
  (``common/endpoint.py``): the private ipc:// socket, or CURVE over TCP.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from quickcam.common import endpoint as link_endpoint
from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.common.curve import CurveKeys, client_keys
from quickcam.detector.delivery import Delivery
from quickcam.detector.link_state import LinkState
from quickcam.detector.outbox import Outbox
from quickcam.detector.status_header import StatusHeaders
from quickcam.detector.wakeup import WakePipe

log = logging.getLogger(__name__)

DETECTOR_NAME = "quickcam-detector"
CAPABILITIES = ["credit", "snapshot", "segment"]
DISCONNECTED_DRAIN_S = 5.0  # at stop, while not connected: ZeroMQ's longest reconnect interval
HELLO_IDS_KEPT = 8  # a nack of any of the last 8 hellos is a refused hello (link.hpp kHelloIdsKept)
HELLO_FIRST_S = 0.25  # first re-knock while the uploader has not answered; doubles up to heartbeat_s
SILENT_AFTER_HEARTBEATS = 3
PAUSED_AFTER_S = 2.0  # a loop turn this late (and three heartbeats) means this process did not run
STOPPING_LINGER_MS = 1000  # the last status (stopping) gets this long to leave at a clean stop
AUTH_RETRY_FIRST_S, AUTH_RETRY_MAX_S = 5.0, 300.0  # after a refused key: new socket, backing off
HANDSHAKE_TIMED_OUT_AFTER_S = 5.0  # a handshake failing later than this timed out ([link] handshake_timeout_s)
IDLE_MAX_MS = 1000  # the loop looks at the clock at least this often
BLOCKED_RETRY_MS = 50  # ZeroMQ would not take a message: tried again this soon
MAX_REPLY_BYTES = 1 << 20  # uploader messages are headers only (< 64 KiB); refuse monsters

_MONITOR_EVENTS = (zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED
                   | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


class UploaderLink:
    """Delivers outbox items to the uploader, at least once, until acked."""

    def __init__(
        self,
        config: LinkConfig,
        outbox: Outbox,
        cameras: list[str],
        camera_status: Callable[[], dict[str, Any]],
        keep_copy_in: Path | None = None,
        curve: CurveKeys | None = None,
        version: str = "0",
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.cameras = cameras
        self.camera_status = camera_status
        self.curve = curve if curve is not None else client_keys(config)  # ConfigError at start-up
        link_endpoint.check_plain_tcp(config, curve=bool(self.curve))
        link_endpoint.private_folder(config.endpoint)  # the detector may start first: it makes the folder
        self.version = version
        self.state = LinkState()
        self.delivery = Delivery(config, outbox, self.state, keep_copy_in)
        self.status_headers = StatusHeaders(cameras, camera_status, self.state)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="uploader-link", daemon=True)
        self._hello_every = HELLO_FIRST_S
        self._reopen_at = 0.0
        self._reopened = False  # a new socket was opened after a dropped connection (said once per outage)
        self._refused_backoff = AUTH_RETRY_FIRST_S
        self._hello_now = False  # a new connection: introduce ourselves on it
        self._handshakes = 0  # handshakes done on this socket (ZeroMQ reconnects it by itself)
        # The last hellos' ids: a nack of one is a refused hello, not an item's. Not only the last: a nack of the
        # hello before can come after the next one was sent (hellos are sent again while refused).
        self._hello_ids: deque[str] = deque(maxlen=HELLO_IDS_KEPT)
        self._connected_at = time.monotonic()  # when ZeroMQ last opened a connection
        self._connection_open = False  # ZeroMQ has a connection open (it may not have shaken hands on it yet)
        self._quiet_since = time.monotonic()  # the link's start: no answer since then, before the first one
        self._unanswered = False  # "no answer ... no connection opens" said for this outage
        self._wakeup = WakePipe.closed()  # the loop sleeps in its poll until this, a message or a due time

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._wakeup = WakePipe()  # closed when the loop ends
        self._quiet_since = time.monotonic()
        self.thread.start()

    def stop(self, drain_s: float = 0.0, join_s: float = 5.0) -> None:
        """Stop, first waiting up to ``drain_s`` for the outbox to empty, then up to ``join_s`` for the thread.

        While the uploader answers: up to ``drain_s``. While not connected: up to 5 s
        (``DISCONNECTED_DRAIN_S``), as a detector that ends right after it started (a short file
        analysed) has not finished its first handshake yet, and ZeroMQ may be one reconnect interval
        away from an uploader that has just come back; not at all when the handshake is known to
        fail. Bounded, so a stop never hangs; what is left is sent on next start (the native
        detector does the same, link.cpp).
        """
        started = time.monotonic()
        deadline = started + drain_s
        depth, acked_before = self.outbox.depth()[0], self.state.acked
        if drain_s and depth and self.thread.is_alive():
            log.info("link: waiting up to %.0f s for the uploader to acknowledge %d item(s)", drain_s, depth)
            while time.monotonic() < deadline and self.outbox.depth()[0] and self.thread.is_alive():
                state = self.state
                hopeless = state.auth_refused or state.handshake_failing  # keys that do not match: no ack comes
                if ((not state.connected or state.connection_dropped)
                        and (hopeless or time.monotonic() - started >= DISCONNECTED_DRAIN_S)):
                    break
                time.sleep(0.05)
            left, acked = self.outbox.depth()[0], self.state.acked - acked_before  # (items committed meanwhile too)
            log.info("link: after %.1f s, %d of %d item(s) acknowledged%s", time.monotonic() - started,
                     acked, acked + left, "" if not left else
                     ("; the rest is sent on next start"
                      if self.state.connected and not self.state.connection_dropped
                      else "; the uploader is not connected, the rest is sent on next start"))
        self.stop_event.set()
        self._wakeup.wake()
        self.thread.join(timeout=join_s)

    # -- socket ------------------------------------------------------------
    def _socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)  # unacked data lives in the outbox, not in ZeroMQ
        sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue for a peer that is not connected
        sock.setsockopt(zmq.SNDHWM, 64)  # credit is the real limit; this is the backstop
        sock.setsockopt(zmq.RCVHWM, 1000)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, round(self.config.reconnect_max_s * 1000))  # capped exponential backoff
        sock.setsockopt(zmq.HEARTBEAT_IVL, 2000)  # ZMTP PING: notice a dead TCP peer
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 6000)
        sock.setsockopt(zmq.HANDSHAKE_IVL, round(self.config.handshake_timeout_s * 1000))
        sock.setsockopt(zmq.IPV6, 1)  # an uploader at an IPv6 address: without it never reached (FINDINGS #49)
        if self.curve:
            sock.curve_secretkey = self.curve.secret
            sock.curve_publickey = self.curve.public
            sock.curve_serverkey = self.curve.server
        return sock

    def _send(self, sock: zmq.Socket, header: dict[str, Any], payload: bytes | None = None) -> bool:
        try:
            sock.send_multipart(protocol.encode(protocol.Message(header, payload)), flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False

    # -- main loop -----------------------------------------------------------
    def _run(self) -> None:
        """The link thread: ``_serve`` until stopped, started again after an unexpected error.

        The link is the only way footage leaves the detector: if this thread ended, the
        detector would record into its outbox for ever while nothing reaches the uploader
        (an acknowledged item the disk would not let it delete once did that). Each failure
        is logged (with its traceback the first time in a row), shown as the link's last
        error, and followed by a pause (0.2 s doubling to 5 s) and a new socket.
        """
        failures = 0
        ctx = zmq.Context()  # the link's own: destroyed when the thread ends, its last status sent first
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                try:
                    self._serve(ctx)
                    return
                except Exception as exc:
                    failures = 1 if time.monotonic() - started > 60 else failures + 1
                    self.state.fail(f"link failing ({type(exc).__name__}: {exc})")
                    if failures == 1:
                        log.exception("link: %s; starting it again, footage stays in the outbox",
                                      self.state.last_error)
                    elif failures % 50 == 0:
                        log.error("link: %s; %d failures in a row", self.state.last_error, failures)
                    self.stop_event.wait(min(5.0, 0.1 * 2 ** min(failures, 6)))
        finally:
            # The thread's, not a connection's. Closed after the first error, its number went to
            # the next socket's own eventfd: the loop then polled and drained ZeroMQ's internal
            # signal, and the link heard nothing more (a CI hang, test_link_restart).
            self._wakeup.close()
            # Waits for the last status (``stopping``) to leave, up to its linger (STOPPING_LINGER_MS):
            # the process ends without the interpreter's teardown (common/stop_signals.exit_now), and
            # ZeroMQ's I/O thread would otherwise be cut off with the message still in its queue.
            ctx.destroy()

    def _serve(self, ctx: zmq.Context) -> None:
        """One connection's loop: a new socket, introduced by ``hello`` before anything else is sent."""
        self.state.lost()  # after a restart: the last socket's credit and in-flight items died with it
        self._hello_every = HELLO_FIRST_S
        sock, monitor = self._open(ctx)
        wakeup = self._wakeup  # a new outbox item or stop() wakes the loop; otherwise it sleeps
        self.outbox.on_new_item(wakeup.wake)
        poller = self._poller(sock, monitor, wakeup.fd)
        next_heartbeat = 0.0
        warning = link_endpoint.plain_tcp_warning(self.config, bool(self.curve))
        if warning:
            log.warning("link: connecting to uploader at %s", warning)
        else:
            log.info("link: connecting to uploader at %s%s", self.config.endpoint,
                     " with CURVE" if self.curve else " (a socket only this user can reach)")
        linger_ms = 0
        last_turn = time.monotonic()
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                self._notice_pause(now - last_turn)
                last_turn = now
                if self._reopen_at and now >= self._reopen_at:
                    # libzmq gives up on a peer that refused our key, and did not reconnect after it
                    # dropped a connection over a reply past MAXMSGSIZE: knock again with a new socket.
                    if self.state.auth_refused:
                        log.info("link: trying the uploader again after it refused this detector's key")
                    elif not self._reopened and self.state.handshake_failing:  # ZeroMQ may be reconnecting: no drop
                        log.info("link: the handshake with the uploader still fails; trying with a new socket too "
                                 "(again, backing off up to %.0f s, until a handshake succeeds)", AUTH_RETRY_MAX_S)
                    elif not self._reopened:
                        log.warning("link: the connection to the uploader dropped and ZeroMQ did not reconnect; "
                                    "trying with a new socket (again, backing off up to %.0f s, until it answers)",
                                    AUTH_RETRY_MAX_S)
                    self._reopened = not self.state.auth_refused
                    self._close(sock, monitor)
                    sock, monitor = self._open(ctx)
                    poller = self._poller(sock, monitor, wakeup.fd)
                    self._reopen_at = 0.0
                if self._hello_now:  # a connection made again (an uploader restarted, say): hello on it at once
                    self._send_hello(sock)
                    next_heartbeat = now + self._next_interval()  # it is this turn's knock too
                if now >= next_heartbeat:
                    self._heartbeat(sock, now)
                    next_heartbeat = now + self._next_interval()
                blocked = self.state.connected and not self.delivery.send_pending(partial(self._send, sock), now)
                timeout = BLOCKED_RETRY_MS if blocked else self._idle_ms(now, next_heartbeat)
                for _ in range(100):
                    ready = dict(poller.poll(0 if _ else timeout))
                    if not ready:
                        break
                    if wakeup.fd in ready:
                        wakeup.drain()
                    if monitor in ready:
                        self._on_socket_event(recv_monitor_message(monitor))
                    if sock in ready:
                        self._handle(sock.recv_multipart())
            linger_ms = self._say_stopping(sock)
        finally:
            self._close(sock, monitor, linger_ms)

    @staticmethod
    def _poller(sock: zmq.Socket, monitor: zmq.Socket, wake: int) -> zmq.Poller:
        poller = zmq.Poller()
        for item in (sock, monitor, wake):
            poller.register(item, zmq.POLLIN)
        return poller

    def _idle_ms(self, now: float, next_heartbeat: float) -> int:
        """How long the loop may sleep: until the next heartbeat, re-knock or retransmission is due.

        New items and the uploader's messages wake it earlier; nothing else
        has to be done in between (an idle camera costs no wake-ups here).
        """
        due = [next_heartbeat]
        if self._reopen_at:
            due.append(self._reopen_at)
        resend = self.delivery.resend_due()
        if self.state.connected and resend is not None:
            due.append(resend)
        return max(0, min(IDLE_MAX_MS, math.ceil((min(due) - now) * 1000)))

    def _open(self, ctx: zmq.Context) -> tuple[zmq.Socket, zmq.Socket]:
        sock = self._socket(ctx)
        # The monitor before the connection: a refusal on a fast local link can come within
        # milliseconds, and libzmq never retries a refused key, so a missed event left the link
        # waiting for ever, unaware (and never knocking again once the key was allowed).
        monitor = sock.get_monitor_socket(_MONITOR_EVENTS)
        self._handshakes = 0  # this socket's: the first is introduced by the knocks' hellos
        self._connection_open = False
        sock.connect(self.config.endpoint)
        return sock, monitor

    @staticmethod
    def _close(sock: zmq.Socket, monitor: zmq.Socket, linger_ms: int = 0) -> None:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=linger_ms)

    def _say_stopping(self, sock: zmq.Socket) -> int:
        """A clean stop: the last status says ``stopping`` (docs/protocol.md section 9); the linger it needs.

        Without it the uploader could not tell this stop from a detector that
        died, and would raise the alarm for a camera switched off on purpose.
        """
        if not self.state.connected or not self._send(sock, self._status_header(stopping=True)):
            return 0
        log.info("link: told the uploader this detector is stopping")
        return STOPPING_LINGER_MS

    def _next_interval(self) -> float:
        if self.state.connected:
            return self.config.heartbeat_s
        # Knock often until the uploader answers, backing off up to the heartbeat.
        interval = self._hello_every
        self._hello_every = min(self._hello_every * 2, self.config.heartbeat_s)
        return min(interval, self.config.heartbeat_s)

    def _on_socket_event(self, event: dict[str, Any]) -> None:
        kind, value = event["event"], event["value"]
        state = self.state
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self._reopen_at = time.monotonic() + self._refused_backoff
            self._refused_backoff = min(self._refused_backoff * 2, AUTH_RETRY_MAX_S)
            if not state.auth_refused:
                state.auth_refused = True
                depth, size = self.outbox.depth()
                state.fail(f"uploader refused this detector's CURVE key (ZAP status {value})")
                log.error("link: the uploader at %s refused this detector's CURVE key (ZAP status %s): "
                          "add its public key to the uploader's allow-list; %d item(s), %d bytes stay "
                          "in the outbox until then", self.config.endpoint, value, depth, size)
        elif kind in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
            # ZeroMQ retries every RECONNECT_IVL: say it once per outage, not ten times a second.
            if not state.handshake_failing:
                state.fail(self._handshake_failure(kind, time.monotonic() - self._connected_at))
                depth, _ = self.outbox.depth()
                log.error("link: %s; retrying, %d item(s) stay in the outbox", state.last_error, depth)
            state.handshake_failing = True
        elif kind == zmq.EVENT_CONNECTED:
            self._connected_at = time.monotonic()
            self._connection_open = True
        elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            # A connection ZeroMQ made again by itself (an uploader restarted, say) gets a hello at once. Not the
            # socket's first: the knocks' hellos introduce it, and the event may be read after one of them went
            # (libzmq takes a message on a fresh ipc connection before its monitor tells): two hellos, 1 ms apart.
            self._handshakes += 1
            self._hello_now = self._hello_now or self._handshakes > 1
            state.connection_dropped = False
            self._reopened = False
            if not state.auth_refused:
                self._reopen_at = 0.0  # ZeroMQ reconnected by itself: no new socket needed
            self._refused_backoff = AUTH_RETRY_FIRST_S
            if state.handshake_failing:
                log.info("link: handshake with the uploader succeeds again")
            state.handshake_failing = False
            if state.auth_refused:
                log.info("link: the uploader accepts this detector's key now")
            state.auth_refused = False
        elif kind == zmq.EVENT_DISCONNECTED:
            state.connection_dropped, self._connection_open = True, False
            if state.connected:
                log.info("link: connection to the uploader dropped; ZeroMQ reconnects")

    def _handshake_failure(self, kind: int, after_s: float) -> str:
        """Name only what is known. A refused or garbled handshake fails at once (with CURVE, most
        likely a key mismatch); one that fails only after seconds timed out: the uploader accepted
        the connection but never answered (stopped, frozen or overloaded), whatever the keys."""
        if after_s >= HANDSHAKE_TIMED_OUT_AFTER_S:
            heard = self.state.last_heard
            silence = f" for {time.monotonic() - heard:.0f} s" if heard else f" for {after_s:.0f} s"
            return (f"no answer from the uploader at {self.config.endpoint}{silence}: the connection opens "
                    "but the uploader does not respond (stopped, frozen or overloaded)")
        if self.curve:
            return ("the CURVE handshake with the uploader failed (is link.curve_server_public_key_file "
                    "the uploader's key? does the uploader use CURVE too?)")
        return "the handshake with the uploader failed (does the uploader use CURVE? this detector does not)"

    def _send_hello(self, sock: zmq.Socket) -> None:
        header = protocol.make_header(
            "hello", detector=DETECTOR_NAME, detector_version=self.version,
            cameras=self.cameras, capabilities=CAPABILITIES,
            heartbeat_ms=_clamp(self.config.heartbeat_s * 1000, 100, 60_000),
            ack_timeout_ms=_clamp(self.config.ack_timeout_s * 1000, 100, 3_600_000))
        self._hello_ids.append(header["id"])
        try:
            if self._send(sock, header):
                self._hello_now = False  # on the connection whose handshake was last seen: it is introduced
        except protocol.ProtocolError as exc:  # our own check, the uploader's: it would refuse it the same
            self._hello_refused(str(exc))

    def _hello_refused(self, reason: str) -> None:
        """A hello the uploader refuses (or would: the protocol's own check): one line a streak naming the fix.

        It was a traceback and a restart of the link, again at every heartbeat; the footage stays in
        the outbox, and the link keeps knocking, so a fixed uploader is heard from without a restart.
        """
        state = self.state
        state.hello_refused += 1
        if state.hello_refusing:
            return
        state.hello_refusing = True
        state.fail(f"the uploader refuses this detector's hello ({reason})")
        log.error("link: %s; %s; %d item(s) stay in the outbox until then", state.last_error,
                  _hello_fix(reason), self.outbox.depth()[0])

    def _notice_pause(self, gap_s: float) -> None:
        """A loop turn far later than its longest sleep: this process was stopped (SIGSTOP) or not run.

        The loop looks at the clock at least every heartbeat, so the silence measured after such a
        gap is this detector's own, not the uploader's: said as such (the uploader's side saw this
        detector silent), and the link starts again with a hello, as after a silence, since the
        uploader may have dropped the connection meanwhile.
        """
        if gap_s <= max(PAUSED_AFTER_S, SILENT_AFTER_HEARTBEATS * self.config.heartbeat_s):
            return
        state = self.state
        log.warning("link: this detector was paused for %.0f s (stopped, or not given the CPU); "
                    "reconnecting, %d in-flight item(s) to re-send", gap_s, len(state.in_flight))
        state.fail(f"this detector was paused for {gap_s:.0f} s")
        state.lost()
        self._hello_every = HELLO_FIRST_S

    def _heartbeat(self, sock: zmq.Socket, now: float) -> None:
        state = self.state
        silent_for = now - state.last_heard
        if state.connected and silent_for > SILENT_AFTER_HEARTBEATS * self.config.heartbeat_s:
            log.warning("link: uploader silent for %.0f s; will re-send %d in-flight item(s)",
                        silent_for, len(state.in_flight))
            state.fail(f"uploader silent for {silent_for:.0f} s")
            state.lost()
            self._hello_every = HELLO_FIRST_S
        if not state.connected:
            self._notice_no_answer(now)
            if state.connection_dropped and not state.auth_refused and not self._reopen_at:
                self._reopen_at = now + self._refused_backoff  # a new socket, unless ZeroMQ reconnects first
                self._refused_backoff = min(self._refused_backoff * 2, AUTH_RETRY_MAX_S)
            self._send_hello(sock)
            return
        self._send(sock, self._status_header())

    def _notice_no_answer(self, now: float) -> None:
        """No connection opens (nothing listening on the endpoint, a firewall that drops it): said once an outage.

        Such a link makes no handshake, so nothing else named it: ``quickcam status`` showed it
        NOT CONNECTED with no reason while footage waited in the outbox. Said after as long as a
        handshake takes to time out (``handshake_timeout_s``), so an uploader restarting is not called absent.
        """
        state = self.state
        quiet_s = now - max(state.last_heard, self._quiet_since)
        if (self._unanswered or self._connection_open or quiet_s < self.config.handshake_timeout_s
                or state.auth_refused or state.handshake_failing):
            return
        self._unanswered = True
        state.fail(f"no answer from the uploader at {self.config.endpoint} for {quiet_s:.0f} s: no connection "
                   "opens (is it running, and listening on this endpoint?)")
        log.warning("link: %s; %d item(s) stay in the outbox", state.last_error, self.outbox.depth()[0])

    def _status_header(self, stopping: bool = False) -> dict[str, Any]:
        """Always one the protocol accepts: a bad camera figure must not stop footage (status_header.py)."""
        return self.status_headers.build(self.outbox.depth(), stopping, self.outbox.set_aside)

    def _handle(self, frames: list[bytes]) -> None:
        try:
            message = protocol.decode(frames, accept=protocol.UPLOADER_TYPES)
        except protocol.ProtocolError as exc:
            self.state.malformed += 1  # counted (status file: link.malformed), logged once per 100
            self.state.fail(f"{self.state.malformed} malformed message(s) from the uploader ignored ({exc})")
            if self.state.malformed % 100 == 1:
                log.warning("link: ignoring a malformed message from the uploader (%d so far; is the endpoint "
                            "a quickcam uploader?): %s", self.state.malformed, exc)
            return
        state = self.state
        state.last_heard = time.monotonic()
        header = message.header
        if message.type == "credit":
            if not state.connected:
                log.info("link: connected to uploader (credit %d messages, %d bytes)",
                         header["messages"], header["bytes"])
                self._hello_every = HELLO_FIRST_S
                # A knock's hello got this credit: it introduced us on this connection. Left set, the handshake's
                # "hello now" sent a second hello right after it (an outside receiver saw two, 1 ms apart).
                self._hello_now = False
            if header["messages"] == 0 and (state.credit_messages or not state.connected):
                state.fail(f"uploader paused sending: {header['reason']}")
                log.warning("link: uploader paused sending: %s", header["reason"])  # whole (status: bounded)
            elif header["messages"] and state.connected and not state.credit_messages:
                log.info("link: uploader accepts footage again")
            if state.hello_refusing:
                log.info("link: the uploader takes this detector's hello now")
            state.connected, state.hello_refusing, self._unanswered = True, False, False
            state.credit_messages, state.credit_bytes = header["messages"], header["bytes"]
            state.max_payload = header.get("max_payload", 0)
            if state.credit_messages:
                state.healthy()  # the uploader takes footage again: an error before this is past
        elif message.type == "ack":
            self.delivery.on_ack(header)
        elif message.type == "nack":
            ref = header["ref"]
            if ref and ref in self._hello_ids:  # an empty ref names no message: it is counted as rejected
                self._hello_refused(f"{header['code']}: {header['text']}")
            else:
                self.delivery.on_nack(header)


def _hello_fix(reason: str) -> str:
    """What to do about a refused hello: its cameras are this detector's config; anything else, versions."""
    if "hello.cameras" in reason:
        return ("fix the camera ids in this detector's config (1 to 64 cameras, each id 1-64 of A-Z a-z 0-9 _ . - "
                "and not . or ..) and restart it")
    return "is the uploader a quickcam of this detector's version? upgrade the older of the two"


def _clamp(value: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(value)))
