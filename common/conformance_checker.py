"""The stand-in uploader of ``quickcam protocol check``: it walks a detector through the phases.

Split out of the command because this is the whole of the test's logic, a state
machine fed messages and clock ticks (no process, no command line): the phases
are listed in ``conformance``'s docstring, the checks it gives verdicts to in
``conformance_checks``. It speaks only the wire, through ``quickcam.common.protocol``,
so it tests any detector, whatever its language.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import zmq

from quickcam.common import protocol as wire
from quickcam.common.conformance_checks import CHECKS, Check, canonical_problem

DEFAULT_HEARTBEAT_MS = 2000
DEFAULT_ACK_TIMEOUT_MS = 10_000
CLOCK_SLACK_MS = 24 * 3600 * 1000  # time_ms further than this from our clock is not Unix ms
RACE_GRACE_S = 0.5  # a message may cross our credit change on the wire
BIG_WINDOW = (16, 64 * 1024 * 1024)


@dataclass
class Sent:
    """What we know about one payload message id."""

    frames: list[bytes]
    first_at: float
    times: list[float] = field(default_factory=list)
    answered_at: float | None = None  # acked or nacked for good


class Checker:
    """The stand-in uploader; ``run()`` drives the phases, ``report()`` says how it went."""

    def __init__(self, sock: zmq.Socket, timeout_s: float, max_payload: int,
                 process: subprocess.Popen | None = None, say: Any = None) -> None:
        self.sock = sock
        self.timeout_s = timeout_s
        self.max_payload = max_payload
        self.process = process
        self.say = say or (lambda text: None)
        self.checks = {name: Check(name, what) for name, what in CHECKS}
        self.peer: bytes | None = None
        self.heartbeat_s = DEFAULT_HEARTBEAT_MS / 1000
        self.ack_timeout_s = DEFAULT_ACK_TIMEOUT_MS / 1000
        self.window: tuple[int, int] = (0, 0)
        self.window_changed_at = 0.0
        self.window_shrunk_at = 0.0
        self.first_credit_at: float | None = None
        self.phase = "wait-hello"
        self.phase_started = time.monotonic()
        self.hellos = 0
        self.sent: dict[str, Sent] = {}
        self.withheld: str | None = None
        self.nacked: tuple[str, float] | None = None
        self.status_times: list[float] = []
        self.events: dict[str, dict[int, tuple[str, bool]]] = defaultdict(dict)
        self.new_after_resume = 0
        self.ended_at = 0.0

    def c(self, name: str) -> Check:
        return self.checks[name]

    # -- driving -------------------------------------------------------------
    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.sock.poll(50):
                frames = self.sock.recv_multipart()
                self.on_message(frames[0], frames[1:], time.monotonic())
            self.on_tick(time.monotonic())
            if self.phase == "flow" and self.settled(time.monotonic()):
                self.say("every check has a verdict")
                self.set_phase("done", time.monotonic())
            if self.phase == "done":
                break
            if self.process is not None and self.process.poll() is not None:
                self._drain_socket()
                self.say(f"detector exited with status {self.process.returncode}")
                break
        else:
            self.say(f"stopping after --timeout {self.timeout_s:.0f} s")
        self.ended_at = time.monotonic()

    def _drain_socket(self) -> None:
        while self.sock.poll(100):
            frames = self.sock.recv_multipart()
            self.on_message(frames[0], frames[1:], time.monotonic())

    def set_phase(self, phase: str, now: float) -> None:
        self.say(f"phase: {phase}")
        self.phase, self.phase_started = phase, now

    def grant(self, messages: int, size: int, now: float, reason: str = "") -> None:
        if messages < self.window[0] or size < self.window[1]:
            self.window_shrunk_at = now  # messages sent before they saw this may still arrive
        self.window, self.window_changed_at = (messages, size), now
        self.send_credit()
        self.say(f"credit: {messages} message(s), {size} bytes{' (' + reason + ')' if reason else ''}")

    # -- replies ---------------------------------------------------------------
    def reply(self, header: dict[str, Any]) -> None:
        if self.peer is None:
            return
        try:
            self.sock.send_multipart([self.peer, *wire.encode(wire.Message(header))], flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self.say(f"could not reply: {exc}")

    def send_credit(self) -> None:
        messages, size = self.window
        fields: dict[str, Any] = {"messages": messages, "bytes": size, "max_payload": self.max_payload,
                                  "x_conformance": {"note": "unknown fields must be ignored", "n": [1, 2.5]}}
        if messages == 0:
            fields["reason"] = "conformance check: pause"
        self.reply(wire.make_header("credit", **fields))

    def ack(self, ref: str, now: float, duplicate: bool = False) -> None:
        self.reply(wire.make_header("ack", ref=ref, **({"duplicate": True} if duplicate else {})))
        self.sent[ref].answered_at = self.sent[ref].answered_at or now

    # -- the timeline ------------------------------------------------------------
    def on_tick(self, now: float) -> None:
        elapsed = now - self.phase_started
        if self.phase == "no-credit":
            if self.hellos >= 2 or elapsed > 3 * self.heartbeat_s + 1:
                if self.hellos >= 2:
                    self.c("hello-repeat").ok(f"{self.hellos} hellos")
                else:
                    self.c("hello-repeat").fail(f"one hello in {elapsed:.1f} s without credit")
                self.first_credit_at = now
                self.grant(1, BIG_WINDOW[1], now)
                self.set_phase("withhold", now)
        elif self.phase == "withhold" and self.withheld is not None:
            item = self.sent[self.withheld]
            if now - item.first_at > 2 * self.ack_timeout_s + 3:
                self.c("retransmit").fail(f"{self.withheld} not sent again within "
                                          f"{2 * self.ack_timeout_s + 3:.0f} s without an ack")
                self.ack(self.withheld, now)
                self.set_phase("nack-retry", now)
        elif self.phase == "nack-retry" and self.nacked is not None:
            ref, nacked_at = self.nacked
            if now - nacked_at > 2 * self.ack_timeout_s + 3:
                self.c("nack-retry").fail(f"{ref} not sent again within {2 * self.ack_timeout_s + 3:.0f} s "
                                          "of nack busy (retry true)")
                self.ack(ref, now)
                self.nacked = None
                self.start_pause(now)
        elif self.phase == "pause" and elapsed > max(3.0, 2 * self.heartbeat_s):
            beats = [t for t in self.status_times if t > self.phase_started]
            if beats:
                self.c("pause").ok(f"{len(beats)} status during {elapsed:.1f} s of pause")
            else:
                self.c("pause").fail(f"no status during {elapsed:.1f} s of pause")
            self.grant(*BIG_WINDOW, now)
            self.set_phase("flow", now)
        elif self.phase == "flow" and self.process is None and elapsed > 3 * self.heartbeat_s + 2:
            self.set_phase("done", now)

    def start_pause(self, now: float) -> None:
        self.grant(0, 0, now, "pause")
        self.set_phase("pause", now)

    # -- messages ------------------------------------------------------------------
    def on_message(self, peer: bytes, frames: list[bytes], now: float) -> None:
        if self.peer is None:
            self.peer = peer
        elif peer != self.peer:
            self.peer = peer  # a reconnect gets a new routing id on a ROUTER
        try:
            message = wire.decode(frames, self.max_payload, accept=wire.DETECTOR_TYPES)
        except wire.ProtocolError as exc:
            self.c("decode").fail(f"message {exc.ref or '(no readable id)'}: {exc.code}: {exc.text}")
            self.reply(wire.make_nack(exc.ref, exc.code, exc.text))
            if self.phase == "wait-hello":
                self.c("hello").fail(f"first message refused: {exc.code}")
                self.start_no_credit(now)
            return
        self.c("decode").ok()
        header = message.header
        if wire.encode_header(header) == bytes(frames[1]):
            self.c("canonical").ok()
        else:
            self.c("canonical").fail(f"{message.type} {message.id}: "
                                     + canonical_problem(bytes(frames[1]), wire.encode_header(header)))
        self.check_times(header)
        if message.type == "hello":
            self.on_hello(header, now)
        elif message.type == "status":
            self.status_times.append(now)
            if self.first_credit_at is not None:
                self.c("unknown-fields").ok()
                self.send_credit()
        else:
            self.on_payload(message, [bytes(f) for f in frames], now)

    def check_times(self, header: dict[str, Any]) -> None:
        wall = wire.now_ms()
        for name in ("time_ms", "start_ms", "end_ms"):
            if name in header and abs(header[name] - wall) > CLOCK_SLACK_MS:
                self.c("time").fail(f"{header['type']}.{name} = {header[name]} is not within a day of "
                                    f"this clock ({wall}); seconds or ns instead of ms?")
                return
        self.c("time").ok()

    def start_no_credit(self, now: float) -> None:
        self.set_phase("no-credit", now)

    def on_hello(self, header: dict[str, Any], now: float) -> None:
        self.hellos += 1
        if self.phase == "wait-hello":
            self.c("hello").ok(f"{header['detector']} {header['detector_version']}, protocol {header['v']}, "
                               f"cameras {', '.join(header['cameras'])}")
            self.heartbeat_s = header.get("heartbeat_ms", DEFAULT_HEARTBEAT_MS) / 1000
            self.ack_timeout_s = header.get("ack_timeout_ms", DEFAULT_ACK_TIMEOUT_MS) / 1000
            self.say(f"hello: heartbeat {self.heartbeat_s:.1f} s, ack timeout {self.ack_timeout_s:.1f} s")
            self.start_no_credit(now)
        elif self.phase != "no-credit":
            self.say("hello again (the detector thinks the link was down); answering with credit")
            self.send_credit()

    def on_payload(self, message: wire.Message, frames: list[bytes], now: float) -> None:
        ref = message.id
        if self.first_credit_at is None:
            self.c("no-send-before-credit").fail(f"{message.type} {ref} before any credit")
            self.reply(wire.make_nack(ref, "busy", "no credit granted yet"))
            return
        item = self.sent.get(ref)
        if item is None:
            self.on_new_payload(message, frames, now)
            return
        item.times.append(now)
        if frames == item.frames:
            self.c("retransmit-identical").ok()
        else:
            self.c("retransmit-identical").fail(f"{ref} came again with different bytes")
        if item.answered_at is not None:
            if now - item.answered_at > self.ack_timeout_s + 1 + RACE_GRACE_S:
                self.c("no-resend-after-ack").fail(f"{ref} sent again {now - item.answered_at:.1f} s after its ack")
            self.ack(ref, now, duplicate=True)
        elif ref == self.withheld and self.phase == "withhold":
            waited = now - item.first_at
            self.c("retransmit").ok(f"after {waited:.1f} s; ack timeout {self.ack_timeout_s:.1f} s")
            self.ack(ref, now)
            self.set_phase("nack-retry", now)
        elif self.nacked and ref == self.nacked[0]:
            waited = now - self.nacked[1]
            if waited < 0.5 * self.ack_timeout_s:
                self.c("nack-retry").fail(f"{ref} sent again {waited:.2f} s after the nack "
                                          f"(ack timeout {self.ack_timeout_s:.1f} s): a hot loop")
            else:
                self.c("nack-retry").ok(f"again after {waited:.1f} s")
            self.ack(ref, now)
            self.nacked = None
            self.start_pause(now)
        else:
            self.ack(ref, now)

    def on_new_payload(self, message: wire.Message, frames: list[bytes], now: float) -> None:
        header, ref = message.header, message.id
        self.sent[ref] = Sent(frames, now, [now])
        self.check_window(ref, now)
        self.check_content(message)
        if message.type == "segment":
            self.note_segment(header)
        if self.phase == "withhold" and self.withheld is None:
            self.withheld = ref
            self.say(f"withholding the ack for {message.type} {ref}")
        elif self.phase == "nack-retry" and self.nacked is None:
            self.nacked = (ref, now)
            self.reply(wire.make_nack(ref, "busy", "conformance check: please send again later"))
            self.say(f"nack busy (retry) for {message.type} {ref}")
        elif self.phase == "pause" and now - self.window_shrunk_at > RACE_GRACE_S:
            self.c("pause").fail(f"{message.type} {ref} started {now - self.window_changed_at:.1f} s "
                                 "into a pause (credit 0)")
            self.ack(ref, now)
        else:
            if self.phase == "flow":
                self.new_after_resume += 1
                self.c("resume").ok(f"{self.new_after_resume} new message(s) after the pause")
            self.ack(ref, now)

    def check_window(self, ref: str, now: float) -> None:
        in_flight = [r for r, item in self.sent.items() if item.answered_at is None and r != ref]
        messages, size = self.window
        if now - self.window_shrunk_at < RACE_GRACE_S:
            return  # may have crossed our smaller credit on the wire
        if len(in_flight) >= messages and not (messages == 0 and self.phase == "pause"):
            self.c("window").fail(f"{ref} sent with {len(in_flight)} unacked in flight; window {messages}")
            return
        used = sum(len(self.sent[r].frames[-1]) for r in in_flight)
        if in_flight and used + len(self.sent[ref].frames[-1]) > size:
            self.c("window").fail(f"{ref} sent with {used} payload bytes in flight; window {size} bytes")
            return
        if messages:
            self.c("window").ok()

    def check_content(self, message: wire.Message) -> None:
        payload, ctype = message.payload or b"", message.header["content_type"]
        if ctype == "image/jpeg":
            good = payload.startswith(b"\xff\xd8\xff")
        elif ctype == "video/mp4":
            good = payload[4:8] == b"ftyp"
        else:
            return
        if good:
            self.c("payload-content").ok()
        else:
            self.c("payload-content").fail(f"{message.id}: payload does not start like {ctype}")

    def note_segment(self, header: dict[str, Any]) -> None:
        seen = self.events[header["event"]]
        if header["seq"] in seen and seen[header["seq"]][0] != header["id"]:
            self.c("segments").fail(f"event {header['event']}: seq {header['seq']} sent under two ids")
        seen[header["seq"]] = (header["id"], header["final"])

    def complete_events(self) -> int:
        """Events whose segments 0..final have all arrived, with one final, the last."""
        complete = 0
        for seqs in self.events.values():
            finals = [seq for seq, (_, final) in seqs.items() if final]
            if len(finals) == 1 and sorted(seqs) == list(range(finals[0] + 1)):
                complete += 1
        return complete

    def settled(self, now: float) -> bool:
        """True once every check has its verdict (the end-of-run checks judged as finish() will)."""
        waiting = {c.name for c in self.checks.values() if not c.exercised}
        waiting.discard("no-send-before-credit")  # judged at the end: nothing arrived too early
        if len(self.status_times) >= 3:
            waiting.discard("heartbeat")
        if self.complete_events():
            waiting.discard("segments")
        if any(item.answered_at is not None and now - item.answered_at > self.ack_timeout_s + 1
               for item in self.sent.values()):
            waiting.discard("no-resend-after-ack")
        return not waiting

    # -- the report ------------------------------------------------------------------
    def finish(self) -> None:
        gaps = [b - a for a, b in zip(self.status_times, self.status_times[1:], strict=False)]
        limit = 1.5 * self.heartbeat_s + 0.5
        if len(self.status_times) >= 2:
            worst = max(gaps)
            if worst > limit:
                self.c("heartbeat").fail(f"{worst:.1f} s between two status (limit {limit:.1f} s)")
            else:
                self.c("heartbeat").ok(f"{len(self.status_times)} status, longest gap {worst:.1f} s")
        for event, seqs in self.events.items():
            finals = [seq for seq, (_, final) in seqs.items() if final]
            if len(finals) > 1:
                self.c("segments").fail(f"event {event}: {len(finals)} final segments")
            elif finals and (finals[0] != max(seqs) or sorted(seqs) != list(range(finals[0] + 1))):
                self.c("segments").fail(f"event {event}: seq {sorted(seqs)} with final {finals[0]}")
            elif finals:
                self.c("segments").ok(f"{len([e for e in self.events.values() if any(f for _, f in e.values())])} "
                                      "complete event(s)")
        watched = [r for r, item in self.sent.items() if item.answered_at is not None
                   and self.ended_at - item.answered_at > self.ack_timeout_s + 1]
        if watched and not self.c("no-resend-after-ack").failures:
            self.c("no-resend-after-ack").ok(f"{len(watched)} acked message(s) watched for "
                                             f"more than the ack timeout")
        if self.first_credit_at is not None and not self.c("no-send-before-credit").failures:
            self.c("no-send-before-credit").ok()
        why_not = {
            "hello": "no message arrived",
            "hello-repeat": "the detector stopped before a second hello",
            "unknown-fields": "no status arrived after the first credit",
            "window": "no snapshot or segment arrived",
            "retransmit": "no snapshot or segment arrived to withhold the ack of",
            "retransmit-identical": "no message was sent twice",
            "no-resend-after-ack": f"no acked message was watched for its ack timeout + 1 s "
                                   f"({self.ack_timeout_s + 1:.0f} s)",
            "nack-retry": "no second snapshot or segment arrived (it gets nack busy)",
            "pause": "the pause starts after the nacked message came again",
            "resume": "no new snapshot or segment after the pause",
            "heartbeat": "fewer than 2 status messages",
            "payload-content": "no image/jpeg or video/mp4 payload arrived",
            "segments": "no event completed (segments 0..final)",
            "decode": "no message arrived",
        }
        for name, why in why_not.items():
            if not self.c(name).exercised and not self.c(name).note:
                self.c(name).note = why

    def report(self) -> list[str]:
        return [check.line() for check in self.checks.values()]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks.values())

    def summary(self) -> tuple[str, int]:
        """The last line of the report and the exit status: 0 all passed, 1 a failure, 2 only not exercised."""
        checks = list(self.checks.values())
        passed = sum(c.passed for c in checks)
        failed = sum(bool(c.failures) for c in checks)
        unexercised = sum(not c.exercised for c in checks)
        line = f"{passed}/{len(checks)} checks passed"
        if failed or unexercised:
            line += f"; {failed} failed, {unexercised} not exercised"
        return line, (1 if failed else 2 if unexercised else 0)
