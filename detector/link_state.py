"""What the detector knows about its link to the uploader: what ``quickcam status`` shows of it.

Written by the link's thread (``link.py``, ``delivery.py``) and read by the
status file (``status_file.py``) and the clean stop; plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    auth_refused: bool = False
    handshake_failing: bool = False
    connection_dropped: bool = False  # ZeroMQ saw the connection close; no ack can come on it
    last_error: str = ""
    in_flight: dict[str, InFlight] = field(default_factory=dict)
