"""The delivery window: which outbox items are on their way to the uploader, and what an answer does.

The link (``link.py``) owns the socket, the hello, the credit and the heartbeats;
this module owns what the credit lets through (docs/protocol.md):

- an item is sent only while the credit has room for it (messages and bytes);
- it stays in flight until its ``ack`` (the uploader has it durably), and only
  then leaves the outbox;
- without an ack within ``ack_timeout_s`` it is sent again, byte for byte
  (the uploader de-duplicates by message id);
- a permanent ``nack``, or an item that could never be sent (a header that
  breaks the protocol), moves it to ``refused/``: kept for a person, never
  deleted, and counted;
- an item over the size limit the uploader announces (``max_payload``) is
  held in the outbox, said once and counted, while the items behind it go
  on; it is sent once a credit announces a limit it fits in (the uploader's
  ``max_payload_mb`` raised): set aside, it stayed off the machine for good;
- an item whose file the disk will not read (EIO, EACCES: a bad sector) is
  that item's trouble, not the link's: it stays in the outbox (the disk may
  come back), is logged once a streak, counted (``unreadable``) and tried again
  after 1 s doubling to 60 s, while the items behind it go on being sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.common.said_every import SaidEvery
from quickcam.detector.link_state import InFlight, LinkState
from quickcam.detector.outbox import Outbox

log = logging.getLogger("quickcam.detector.link")  # the link's lines, under the link's name

# Puts one message on the wire without blocking; False if ZeroMQ would not take it now.
Send = Callable[[dict[str, Any], bytes | None], bool]

UNREADABLE_RETRY_FIRST_S, UNREADABLE_RETRY_MAX_S = 1.0, 60.0  # an item the disk will not read: tried again


@dataclass
class Unreadable:
    """An item whose last read failed: when to try it again (monotonic), the pause after that, the failures."""

    retry_at: float
    backoff_s: float
    failures: int = 1


class Delivery:
    """Sends outbox items within the credit, re-sends them until acked, refuses what can never go."""

    def __init__(self, config: LinkConfig, outbox: Outbox, state: LinkState, keep_copy_in: Path | None) -> None:
        self.config = config
        self.outbox = outbox
        self.state = state  # in_flight, credit and the counters live there, for the status
        self.keep_copy_in = keep_copy_in
        self.unreadable: dict[str, Unreadable] = {}  # items skipped for now: the disk refused to read them
        self.too_large: set[str] = set()  # items held: over the uploader's announced size limit
        self.deferred_said = SaidEvery()  # nacks to send again later: at most a line a minute, counted between

    def resend_due(self) -> float | None:
        """When an item in flight, or one the disk would not read, is due to be sent again (monotonic), or None."""
        in_flight = self.state.in_flight
        due = [f.sent_at + self.config.ack_timeout_s for f in in_flight.values()]
        due += [u.retry_at for u in self.unreadable.values()]  # an unreadable item's next try wakes the loop
        return min(due) if due else None

    def send_pending(self, send: Send, now: float) -> bool:
        """Send what credit allows; False if ZeroMQ would not take a message (tried again shortly).

        Items in flight whose ack is late are sent again whatever the window (also while paused, and behind a
        new item the window has no room for: docs/protocol.md section 8); new items go in the outbox's order
        while the window has room.
        """
        state = self.state
        items = self.outbox.pending()
        if self.unreadable or self.too_large:  # moved away by hand, or acked: no longer waited for
            present = {item.id for item in items}
            for gone in [i for i in self.unreadable if i not in present]:
                del self.unreadable[gone]
            state.unreadable_now = len(self.unreadable)
            self.too_large &= present
            state.too_large_now = len(self.too_large)
        window_full = False
        for item in items:
            skipped = self.unreadable.get(item.id)
            if skipped is not None and now < skipped.retry_at:
                continue  # the disk refused it lately: the items behind it go first
            flight = state.in_flight.get(item.id)
            if flight is not None:
                if now - flight.sent_at < self.config.ack_timeout_s:
                    continue
            else:
                if window_full or self._held_too_large(item.id, item.size):
                    continue
                used = sum(f.size for f in state.in_flight.values())
                if len(state.in_flight) >= state.credit_messages or (
                        state.in_flight and used + item.size > state.credit_bytes):
                    window_full = True  # no new item goes before this one; late ones in flight still go again
                    continue
            try:
                header, payload = self.outbox.load(item.id)
            except (FileNotFoundError, NotADirectoryError):
                # acked meanwhile, or the outbox replaced by a file (the recorder moves it aside); else a file of
                # it deleted by hand: said, counted, set aside (``Outbox.forget_missing``)
                if self.outbox.forget_missing(item.id):
                    state.in_flight.pop(item.id, None)
                continue
            except protocol.ProtocolError as exc:  # its stored header edited or spoiled (Outbox.load)
                self.refuse_locally(item.id, f"its header breaks the protocol: {exc}")
                continue
            except OSError as exc:  # EIO, EACCES: this item's, not the link's; never deleted or moved
                self._unreadable(item.id, exc, now)
                continue
            if skipped is not None:
                self._reads_again(item.id, skipped)
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

    def _held_too_large(self, item_id: str, size: int) -> bool:
        """True while ``item_id`` is over the uploader's announced limit: held in the outbox, said once, counted.

        The uploader would refuse it for good (``too_large``); held, it goes once the uploader's limit is raised
        and a credit says so, where set aside it stayed off the machine unless a person moved it back.
        """
        state = self.state
        limit = state.max_payload
        if not limit or size <= limit:
            if item_id in self.too_large:
                self.too_large.discard(item_id)
                state.too_large_now = len(self.too_large)
                log.info("link: sending %s (%d bytes) now that the uploader takes up to %d", item_id, size, limit)
                if not self.too_large and state.credit_messages:
                    state.healthy()  # its error is past (a pause's stands)
            return False
        if item_id not in self.too_large:
            self.too_large.add(item_id)
            state.too_large += 1
            state.too_large_now = len(self.too_large)
            error = (f"{item_id} is {size} bytes, over the uploader's {limit}-byte limit; raise "
                     "uploader.max_payload_mb (or shorten recording.segment_s)")
            state.fail(error)
            log.error("link: %s; kept in the outbox and sent once the uploader takes it; the items behind it go on",
                      error)
        return True

    def _unreadable(self, item_id: str, exc: OSError, now: float) -> None:
        """The disk would not read this item: skip it for now, say so once a streak, try it again later."""
        skipped = self.unreadable.get(item_id)
        if skipped is not None:
            skipped.failures += 1
            skipped.backoff_s = min(skipped.backoff_s * 2, UNREADABLE_RETRY_MAX_S)
            skipped.retry_at = now + skipped.backoff_s
            return
        self.unreadable[item_id] = Unreadable(now + UNREADABLE_RETRY_FIRST_S, UNREADABLE_RETRY_FIRST_S)
        self.state.unreadable += 1
        self.state.unreadable_now = len(self.unreadable)
        path = exc.filename or self.outbox.root / item_id
        error = (f"cannot read {path}: {exc.strerror or exc} (errno {exc.errno}); "
                 "the disk refuses to read it; check the disk")
        self.state.fail(error)
        log.error("link: %s; %s skipped for now and kept in the outbox (tried again in %.0f s, then up to "
                  "every %.0f s); the items behind it go on", error, item_id, UNREADABLE_RETRY_FIRST_S,
                  UNREADABLE_RETRY_MAX_S)

    def _reads_again(self, item_id: str, skipped: Unreadable) -> None:
        del self.unreadable[item_id]
        self.state.unreadable_now = len(self.unreadable)
        log.info("link: %s reads again after %d failed read(s); sending it", item_id, skipped.failures)
        if not self.unreadable:
            self.state.healthy()  # the link works (this item is going out): its read error is past

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
        state.acked += 1  # first: the stop's drain reads it once the outbox is empty (link.py)
        self.outbox.remove(ref, self.keep_copy_in)

    def on_nack(self, header: dict[str, Any]) -> None:
        state = self.state
        ref = header["ref"]
        error = f"{header['code']}: {header['text']}"
        if not self._in_outbox(ref):  # a status, or a message whose id the uploader could not read (ref "")
            state.rejected += 1
            state.fail(error)
            if state.rejected % 100 == 1:  # the first, then one line a hundred (a hello nacked at every heartbeat)
                log.error("link: uploader rejected a message of ours (%s); %d so far (quickcam status counts them)",
                          error, state.rejected)
            return
        state.fail(f"{ref}: {error}")
        if header["retry"]:
            if (more := self.deferred_said.said()) is not None:  # every ack_timeout_s while it lasts (#26)
                log.warning("link: uploader could not take %s now (%s); will send it again in %.0f s%s",
                            ref, error, self.config.ack_timeout_s, more)
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
