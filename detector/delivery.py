"""The delivery window: which outbox items are on their way to the uploader, and what an answer does.

The link (``link.py``) owns the socket, the hello, the credit and the heartbeats;
this module owns what the credit lets through (docs/protocol.md):

- an item is sent only while the credit has room for it (messages and bytes);
- it stays in flight until its ``ack`` (the uploader has it durably), and only
  then leaves the outbox;
- without an ack within ``ack_timeout_s`` it is sent again, byte for byte
  (the uploader de-duplicates by message id);
- a permanent ``nack``, or an item that could never be sent (over the
  uploader's size limit, a header that breaks the protocol), moves it to
  ``refused/``: kept for a person, never deleted, and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector.link_state import InFlight, LinkState
from quickcam.detector.outbox import Outbox

log = logging.getLogger("quickcam.detector.link")  # the link's lines, under the link's name

# Puts one message on the wire without blocking; False if ZeroMQ would not take it now.
Send = Callable[[dict[str, Any], bytes | None], bool]


class Delivery:
    """Sends outbox items within the credit, re-sends them until acked, refuses what can never go."""

    def __init__(self, config: LinkConfig, outbox: Outbox, state: LinkState, keep_copy_in: Path | None) -> None:
        self.config = config
        self.outbox = outbox
        self.state = state  # in_flight, credit and the counters live there, for the status
        self.keep_copy_in = keep_copy_in

    def resend_due(self) -> float | None:
        """When the oldest item in flight is due to be sent again (monotonic), None if nothing is in flight."""
        in_flight = self.state.in_flight
        if not in_flight:
            return None
        return min(f.sent_at for f in in_flight.values()) + self.config.ack_timeout_s

    def send_pending(self, send: Send, now: float) -> bool:
        """Send what credit allows; False if ZeroMQ would not take a message (tried again shortly)."""
        state = self.state
        for item in self.outbox.pending():
            flight = state.in_flight.get(item.id)
            if flight is not None:
                if now - flight.sent_at < self.config.ack_timeout_s:
                    continue
            else:
                if state.max_payload and item.size > state.max_payload:
                    self.refuse_locally(item.id, f"{item.size} bytes is over the uploader's "
                                                 f"{state.max_payload}-byte limit")
                    continue
                used = sum(f.size for f in state.in_flight.values())
                if len(state.in_flight) >= state.credit_messages:
                    return True
                if state.in_flight and used + item.size > state.credit_bytes:
                    return True
            try:
                header, payload = self.outbox.load(item.id)
            except (FileNotFoundError, NotADirectoryError):
                continue  # acked meanwhile, or the outbox replaced by a file (the recorder moves it aside)
            try:
                sent = send(header, payload)
            except protocol.ProtocolError as exc:  # written by an older or broken version
                self.refuse_locally(item.id, f"its header breaks the protocol: {exc}")
                continue
            if not sent:
                return False  # ZeroMQ buffer full or peer gone: try again shortly
            if flight is not None:  # said once it is sent, not at each 50 ms try while ZeroMQ has no peer
                state.retransmits += 1
                log.info("link: no ack for %s after %.0f s; sent again", item.id, now - flight.sent_at)
            state.in_flight[item.id] = InFlight(item.size, now)
        return True

    def refuse_locally(self, item_id: str, why: str) -> None:
        log.error("link: not sending %s: %s; kept in %s", item_id, why, self.outbox.refused)
        self.outbox.refuse(item_id)
        self.state.refused += 1

    def on_ack(self, header: dict[str, Any]) -> None:
        state = self.state
        ref = header["ref"]
        if state.in_flight.pop(ref, None) is None and not self._in_outbox(ref):
            log.debug("link: ack for %s, which is not waiting (acked before)", ref)
            return
        self.outbox.remove(ref, self.keep_copy_in)
        state.acked += 1

    def on_nack(self, header: dict[str, Any]) -> None:
        state = self.state
        ref = header["ref"]
        error = f"{header['code']}: {header['text']}"
        if not self._in_outbox(ref):
            state.fail(error)
            log.error("link: uploader rejected a message of ours (%s)", error)
            return
        state.fail(f"{ref}: {error}")
        if header["retry"]:
            log.warning("link: uploader could not take %s now (%s); will send it again in %.0f s",
                        ref, error, self.config.ack_timeout_s)
            # Stays in flight, so it is re-sent after the ack timeout, not in a hot loop.
            state.in_flight[ref] = InFlight(state.in_flight[ref].size if ref in state.in_flight else 0,
                                            time.monotonic())
        else:
            state.in_flight.pop(ref, None)
            log.error("link: uploader refused %s for good (%s); kept in %s",
                      ref, error, self.outbox.refused)
            self.outbox.refuse(ref)
            state.refused += 1

    def _in_outbox(self, ref: str) -> bool:
        return any(item.id == ref for item in self.outbox.pending())
