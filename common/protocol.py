"""The wire protocol between a detector and the uploader: the only place frames are built.

A message is a list of ZeroMQ frames::

    [b"QSC1", header, payload?]

``QSC1`` names the protocol and its major version; ``header`` is a msgpack map;
``payload`` (snapshots and segments only) is the raw file bytes. A ROUTER
socket adds the routing id in front on the uploader side. The normative spec,
with byte-exact test vectors, is ``docs/protocol.md``; a native detector
implements that document, not this module.

Receivers ignore unknown header fields (so minor versions can add them) and
reject an unknown major version with a ``nack``.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any

import msgpack

PROTOCOL_FRAME = b"QSC1"
PROTOCOL_VERSION = "1.0"
MAX_HEADER_BYTES = 64 * 1024
MAX_FRAMES = 3

# Message types and who sends them.
DETECTOR_TYPES = ("hello", "snapshot", "segment", "status")
UPLOADER_TYPES = ("ack", "nack", "credit")
PAYLOAD_TYPES = ("snapshot", "segment")

# nack reason codes: (code, retry?) -- "retry" tells the detector whether to
# keep the message and send it again later, or report it as refused.
NACK_CODES = {
    "bad_frames": False,
    "bad_version": False,
    "bad_header": False,
    "missing_field": False,
    "wrong_type": False,
    "too_large": False,
    "sha256_mismatch": True,  # corrupted in transit: resend
    "size_mismatch": True,
    "conflict": False,  # same id, different content
    "not_allowed": False,  # camera id not allowed for this detector's key
    "busy": True,  # uploader cannot store now (disk full, ...)
    "internal": True,
}

_STR, _INT, _NUM, _BOOL, _LIST, _MAP = str, int, (int, float), bool, list, dict

# field -> (expected python type(s), required)
_COMMON = {"type": (_STR, True), "id": (_STR, True), "v": (_STR, True), "time_ms": (_INT, True)}
SCHEMAS: dict[str, dict[str, tuple[Any, bool]]] = {
    "hello": {
        "detector": (_STR, True),
        "detector_version": (_STR, True),
        "cameras": (_LIST, True),
        "capabilities": (_LIST, False),
    },
    "snapshot": {
        "camera": (_STR, True),
        "event": (_STR, True),
        "seq": (_INT, False),
        "width": (_INT, True),
        "height": (_INT, True),
        "content_type": (_STR, True),
        "size": (_INT, True),
        "sha256": (_STR, True),
        "boxes": (_LIST, False),
        "faces": (_LIST, False),
        "motion_area": (_NUM, False),
    },
    "segment": {
        "camera": (_STR, True),
        "event": (_STR, True),
        "seq": (_INT, True),
        "final": (_BOOL, True),
        "start_ms": (_INT, True),
        "end_ms": (_INT, True),
        "frames": (_INT, True),
        "fps": (_NUM, True),
        "width": (_INT, True),
        "height": (_INT, True),
        "container": (_STR, True),
        "codec": (_STR, True),
        "content_type": (_STR, True),
        "size": (_INT, True),
        "sha256": (_STR, True),
        "faces": (_LIST, False),
    },
    "status": {
        "cameras": (_MAP, True),
        "outbox_depth": (_INT, True),
        "outbox_bytes": (_INT, False),
    },
    "ack": {"ref": (_STR, True), "location": (_STR, False)},
    "nack": {"ref": (_STR, True), "code": (_STR, True), "text": (_STR, True), "retry": (_BOOL, True)},
    "credit": {"messages": (_INT, True), "bytes": (_INT, True), "reason": (_STR, False)},
}


class ProtocolError(Exception):
    """A message broke the contract; ``code`` is the nack reason code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    @property
    def retry(self) -> bool:
        return NACK_CODES.get(self.code, False)


@dataclass(frozen=True)
class Message:
    """A decoded message: its header map and optional payload bytes."""

    header: dict[str, Any]
    payload: bytes | None = None

    @property
    def type(self) -> str:
        return self.header["type"]

    @property
    def id(self) -> str:
        return self.header["id"]


def new_message_id() -> str:
    """A time-ordered, unique, printable id: 13 hex ms + 13 hex random (26 chars).

    Sorting ids sorts messages by creation time, which the outbox and the
    ledger rely on for "older first".
    """
    return f"{time.time_ns() // 1_000_000:013x}{os.urandom(7).hex()[:13]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def make_header(msg_type: str, **fields: Any) -> dict[str, Any]:
    """A header with the common fields filled in; callers add the rest."""
    header = {"type": msg_type, "id": new_message_id(), "v": PROTOCOL_VERSION, "time_ms": now_ms()}
    header.update(fields)
    return header


def payload_fields(payload: bytes) -> dict[str, Any]:
    """The size and sha256 fields that must describe a payload."""
    return {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def encode(message: Message) -> list[bytes]:
    """Frames for ``message`` (validated first, so a bug never reaches the wire)."""
    validate_header(message.header)
    frames = [PROTOCOL_FRAME, msgpack.packb(message.header, use_bin_type=True)]
    if message.payload is not None:
        frames.append(bytes(message.payload))
    return frames


def decode(frames: list[bytes], max_payload: int = 64 * 1024 * 1024) -> Message:
    """Parse and check frames; raises ProtocolError with a nack code on any fault."""
    if not 2 <= len(frames) <= MAX_FRAMES:
        raise ProtocolError("bad_frames", f"expected 2 or 3 frames, got {len(frames)}")
    proto = bytes(frames[0])
    if proto != PROTOCOL_FRAME:
        if proto[:3] == b"QSC":
            raise ProtocolError("bad_version", f"unsupported protocol {proto!r}; this side speaks QSC1")
        raise ProtocolError("bad_frames", "first frame is not a quickcam protocol frame")
    raw = bytes(frames[1])
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError("too_large", f"header is {len(raw)} bytes; limit {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError("bad_header", f"header is not valid msgpack: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_header", "header is not a msgpack map")
    validate_header(header)
    payload = bytes(frames[2]) if len(frames) == 3 else None
    if header["type"] in PAYLOAD_TYPES:
        if payload is None:
            raise ProtocolError("bad_frames", f"{header['type']} needs a payload frame")
        if header["size"] > max_payload or len(payload) > max_payload:
            raise ProtocolError("too_large", f"payload over the {max_payload}-byte limit")
        if len(payload) != header["size"]:
            raise ProtocolError("size_mismatch", f"payload is {len(payload)} bytes, header says {header['size']}")
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ProtocolError("sha256_mismatch", "payload does not match its sha256")
    elif payload is not None:
        raise ProtocolError("bad_frames", f"{header['type']} takes no payload frame")
    return Message(header, payload)


def validate_header(header: dict[str, Any]) -> None:
    """Check required fields and types; unknown fields are allowed and ignored."""
    msg_type = header.get("type")
    if not isinstance(msg_type, str) or msg_type not in SCHEMAS:
        raise ProtocolError("bad_header", f"unknown message type {msg_type!r}")
    version = header.get("v")
    if not isinstance(version, str) or version.split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
        raise ProtocolError("bad_version", f"unsupported protocol version {version!r}; expected 1.x")
    for name, (kind, required) in {**_COMMON, **SCHEMAS[msg_type]}.items():
        if name not in header:
            if required:
                raise ProtocolError("missing_field", f"{msg_type} lacks required field {name!r}")
            continue
        value = header[name]
        if isinstance(value, bool) and kind is not bool:
            raise ProtocolError("wrong_type", f"{msg_type}.{name} must not be a boolean")
        if not isinstance(value, kind):
            raise ProtocolError("wrong_type", f"{msg_type}.{name} has the wrong type")
    if not 1 <= len(header["id"]) <= 64:
        raise ProtocolError("bad_header", "id must be 1 to 64 characters")
    if msg_type in PAYLOAD_TYPES and not _is_sha256_hex(header["sha256"]):
        raise ProtocolError("bad_header", "sha256 must be 64 lowercase hex characters")


def _is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
