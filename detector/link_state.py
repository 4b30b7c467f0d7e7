"""What the detector knows about its link to the uploader: what ``quickcam status`` shows of it.

Written by the link's thread (``link.py``, ``delivery.py``) and read by the
status file (``status_file.py``) and the clean stop; plain values only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from quickcam.common.protocol_schema import error_text


@dataclass
class InFlight:
    """An item sent and not acked yet: its size (for the byte credit) and when it left (monotonic)."""

    size: int
    sent_at: float


@dataclass
class LinkState:
    """What the status output shows about the link."""

    connected: bool = False
    credit_messages: int = 0
    credit_bytes: int = 0
    max_payload: int = 0
    last_heard: float = 0.0
    acked: int = 0
    refused: int = 0
    retransmits: int = 0
    unreadable: int = 0  # outbox items the disk refused to read (once a streak), skipped for now (delivery.py)
    unreadable_now: int = 0  # of them, those not read again yet: the last error stands while there are any
    too_large: int = 0  # outbox items held: over the uploader's announced size limit (once each; delivery.py)
    too_large_now: int = 0  # of them, those still held: the last error stands while there are any
    malformed: int = 0  # messages from the uploader that did not decode, ignored
    bad_status: int = 0  # status heartbeats sent with values fixed, or minimal (detector/status_header.py)
    hello_refused: int = 0  # hellos the uploader refused (or the protocol's own check would have): link.py
    hello_refusing: bool = False  # ... and no credit since: the last error stands
    rejected: int = 0  # nacks of messages not in the outbox (a status; one whose id the uploader could not read)
    auth_refused: bool = False
    handshake_failing: bool = False
    connection_dropped: bool = False  # ZeroMQ saw the connection close; no ack can come on it
    last_error: str = ""  # the newest thing that went wrong, set by ``fail``
    last_error_at: float = 0.0  # when (wall clock, epoch seconds)
    error_cleared_at: float = 0.0  # when the link was healthy again after it (0: it still stands)
    in_flight: dict[str, InFlight] = field(default_factory=dict)

    def fail(self, error: str) -> None:
        """Something went wrong now; it stands (``quickcam status``: last error) until the link is healthy.

        Kept on one line and bounded (``error_text``): the words may be the uploader's (a nack's text, a
        pause's reason), up to a kilobyte over several lines.
        """
        self.last_error, self.last_error_at, self.error_cleared_at = error_text(error), time.time(), 0.0

    def lost(self) -> None:
        """The connection is gone (silent uploader, new socket): no credit, nothing counted in flight.

        What was in flight stays in the outbox and is sent again once the uploader grants
        credit on the next connection, which begins with a ``hello`` as every connection does.
        """
        self.connected = False
        self.credit_messages = self.credit_bytes = 0
        self.in_flight.clear()

    def healthy(self) -> None:
        """The uploader grants credit again: the last error is past, shown with its time, no longer as current.

        Kept rather than cleared, so a person reading the status later still sees that
        the link was down and when; never left standing once the link works again.
        """
        hopeless = (self.auth_refused or self.handshake_failing or self.unreadable_now  # still true, whatever credit
                    or self.too_large_now or self.hello_refusing)
        if self.last_error and not self.error_cleared_at and not hopeless:
            self.error_cleared_at = time.time()
