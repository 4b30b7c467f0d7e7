"""The wire protocol between a detector and the uploader: the only place frames are built.

A message is a list of ZeroMQ frames::

    [b"QSC1", header, payload?]

``QSC1`` names the protocol and its major version; ``header`` is a msgpack map
written canonically (keys sorted, shortest forms, floats as float 64);
``payload`` (snapshots and segments only) is the raw file bytes. A ROUTER
socket adds the routing id in front on the uploader side. The normative spec
is ``docs/protocol.md`` with byte-exact vectors in ``tests/vectors/protocol/``;
a native detector implements that document, not this module.

Receivers ignore unknown header fields (so minor versions can add them) and
reject an unknown major version with a ``nack`` whose code is ``bad_version``.
Checks run in the order the spec gives, so every broken message gets the same
nack code from every implementation. The schema those checks follow (types,
fields, rules, nack codes) is ``protocol_schema``; this module frames, encodes
and decodes, and every public name of both is importable from here.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

# Some names are not used here but re-exported (hence the noqa): the schema's names that detectors,
# the uploader, tests and vectors read through this module (protocol.SCHEMAS, protocol.FAULT_MAX, ...).
from quickcam.common.protocol_schema import (  # noqa: F401
    CAMERA_RE,
    CAMERA_STATUS_FIELDS,
    COMMON_FIELDS,
    DETECTOR_TYPES,
    ERROR_TEXT_MAX,
    FACE_FIELDS,
    FAULT_MAX,
    ID_RE,
    INT64_MAX,
    INT64_MIN,
    MAX_CREDIT_MESSAGES,
    MAX_NACK_TEXT,
    MEDIA_TYPE_RE,
    NACK_CODES,
    PAYLOAD_TYPES,
    PROTOCOL_MAJOR,
    PROTOCOL_VERSION,
    SCHEMAS,
    SHA256_RE,
    TIME_MS_MAX,
    TOKEN_RE,
    UPLOADER_TYPES,
    VERSION_RE,
    Field,
    ProtocolError,
    Rule,
    _is_int,
    camera_id_problem,
    error_text,
    validate_header,
)

PROTOCOL_FRAME = b"QSC1"
MAX_HEADER_BYTES = 64 * 1024
MAX_DEPTH = 32  # arrays and maps nest at most this deep, the header map counting as 1
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024


# -- messages -------------------------------------------------------------------


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


def make_nack(ref: str, code: str, text: str) -> dict[str, Any]:
    """A nack header for ``ref``; ``retry`` comes from the code, ``text`` is cut to its limit."""
    text = text.encode("utf-8")[:MAX_NACK_TEXT].decode("utf-8", "ignore")
    ref = ref if ID_RE.fullmatch(ref) else ""
    return make_header("nack", ref=ref, code=code, text=text, retry=NACK_CODES.get(code, False))


def payload_fields(payload: bytes) -> dict[str, Any]:
    """The size and sha256 fields that must describe a payload."""
    return {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


# -- encoding -------------------------------------------------------------------


def encode_header(header: dict[str, Any]) -> bytes:
    """The canonical msgpack bytes of ``header`` (validated first).

    Canonical: every map's keys in ascending order of their UTF-8 bytes;
    integers, strings, arrays and maps in their shortest msgpack form; floats
    as float 64, also when a float field holds a whole number. The same header
    always gives the same bytes, which is what makes the test vectors exact.
    """
    validate_header(header)
    return msgpack.packb(_canonical_header(header), use_bin_type=True)


def encode(message: Message) -> list[bytes]:
    """Frames for ``message`` (validated first, so a bug never reaches the wire)."""
    frames = [PROTOCOL_FRAME, encode_header(message.header)]
    if message.payload is not None:
        frames.append(bytes(message.payload))
    return frames


def _canonical_header(header: dict[str, Any]) -> dict[str, Any]:
    out = _canonical_fields(header, (*COMMON_FIELDS, *SCHEMAS[header["type"]]))
    if header["type"] == "segment" and "faces" in out:
        out["faces"] = [_canonical_fields(face, FACE_FIELDS) for face in out["faces"]]
    if header["type"] == "status":
        out["cameras"] = {cam: _canonical_fields(status, CAMERA_STATUS_FIELDS)
                          for cam, status in out["cameras"].items()}
    return out


def _canonical_fields(value: dict[str, Any], fields: Sequence[Field]) -> dict[str, Any]:
    """Keys sorted; a float field holding a whole number written as a float."""
    floats = {f.name for f in fields if f.kind == "float"}
    return {key: float(value[key]) if key in floats and _is_int(value[key]) else _canonical(value[key])
            for key in sorted(value, key=_key_bytes)}


def _canonical(value: Any) -> Any:
    """``value`` with its maps' keys in canonical order; nil and binary refused, inside unknown fields too.

    Nil is never sent (docs/protocol.md section 3) and no field is binary: the native encoder refuses both
    wherever they are (wire.cpp's ``pack``), and so must this one, or an outbox header one detector sends the
    other sets aside. A receiver still ignores them inside an unknown field.
    """
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        raise ProtocolError("wrong_type", f"cannot encode a {'nil' if value is None else 'binary'}")
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items(), key=lambda kv: _key_bytes(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _key_bytes(key: Any) -> bytes:
    if not isinstance(key, str):
        raise ProtocolError("bad_header", f"map key {key!r} is not text")
    return key.encode("utf-8")


# -- decoding -------------------------------------------------------------------


def decode(frames: Sequence[bytes], max_payload: int = DEFAULT_MAX_PAYLOAD,
           accept: Sequence[str] | None = None) -> Message:
    """Parse and check frames in the spec's order; raises ProtocolError with a nack code.

    ``accept`` limits the message types this side takes (the uploader passes
    DETECTOR_TYPES, a detector UPLOADER_TYPES); others get ``bad_type``. The
    error's ``ref`` is the message id if one can be read (see readable_ref).
    """
    try:
        return _decode(frames, max_payload, accept)
    except ProtocolError as exc:
        exc.ref = readable_ref(frames)
        raise


def readable_ref(frames: Sequence[bytes]) -> str:
    """A broken message's id for the nack's ``ref``, or "".

    The id is readable when frame 2 exists, is at most MAX_HEADER_BYTES, is one
    msgpack map, and its ``id`` is a valid id -- whichever check failed.
    """
    if len(frames) < 2 or len(frames[1]) > MAX_HEADER_BYTES:
        return ""
    try:
        header = msgpack.unpackb(bytes(frames[1]), raw=False, strict_map_key=False)
    except Exception:  # not msgpack: nothing to read
        return ""
    ref = header.get("id") if isinstance(header, dict) else None
    return ref if isinstance(ref, str) and ID_RE.fullmatch(ref) else ""


def unpack_header(raw: bytes) -> dict[str, Any]:
    """A header's bytes as a map, or ProtocolError (``bad_header``): not msgpack, not a map, too big or deep.

    Also for a header read back from the outbox, which a person or a script may have edited: any
    damage is a ProtocolError there too, so the item is set aside rather than failing the link.
    """
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError("bad_header", f"header is {len(raw)} bytes; the limit is {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # FormatError has no text
        raise ProtocolError("bad_header", f"header is not one msgpack value ({why})") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_header", "header is not a msgpack map")
    problem = _shape_problem(header, 1)
    if problem:
        raise ProtocolError("bad_header", problem)
    return header


def _decode(frames: Sequence[bytes], max_payload: int, accept: Sequence[str] | None) -> Message:
    if not frames:
        raise ProtocolError("bad_frames", "no frames")
    proto = bytes(frames[0])
    if proto != PROTOCOL_FRAME:
        if len(proto) == 4 and proto[:3] == b"QSC" and proto[3:].isdigit():
            raise ProtocolError("bad_version", f"protocol {proto.decode()} is not supported; "
                                               f"this side speaks {PROTOCOL_FRAME.decode()}")
        raise ProtocolError("bad_frames", "first frame is not QSC1")
    if not 2 <= len(frames) <= 3:
        raise ProtocolError("bad_frames", f"expected 2 or 3 frames, got {len(frames)}")
    header = unpack_header(bytes(frames[1]))
    validate_header(header, accept)
    payload = bytes(frames[2]) if len(frames) == 3 else None
    if header["type"] in PAYLOAD_TYPES:
        if payload is None:
            raise ProtocolError("bad_frames", f"{header['type']} needs a payload frame")
        if header["size"] > max_payload or len(payload) > max_payload:
            raise ProtocolError("too_large", f"payload over the {max_payload}-byte limit")
        if len(payload) != header["size"]:
            raise ProtocolError("size_mismatch",
                                f"payload is {len(payload)} bytes, header says {header['size']}")
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ProtocolError("sha256_mismatch", "payload does not hash to its sha256")
    elif payload is not None:
        raise ProtocolError("bad_frames", f"{header['type']} takes no payload frame")
    return Message(header, payload)


def _shape_problem(value: Any, depth: int) -> str:
    """Check 3 beyond the top level: every map key is text, nothing nests deeper than MAX_DEPTH."""
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            return f"header nests arrays and maps deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
            return "header has a map key that is not text" if depth == 1 else "a nested map has a key that is not text"
        children = value.values() if isinstance(value, dict) else value
        return next((p for p in (_shape_problem(v, depth + 1) for v in children) if p), "")
    return ""
