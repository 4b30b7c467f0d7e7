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
nack code from every implementation.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

PROTOCOL_FRAME = b"QSC1"
PROTOCOL_MAJOR = 1
PROTOCOL_VERSION = "1.1"
MAX_HEADER_BYTES = 64 * 1024
MAX_DEPTH = 32  # arrays and maps nest at most this deep, the header map counting as 1
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
MAX_NACK_TEXT = 1024
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
TIME_MS_MAX = 253_402_300_800_000  # year 10000: Unix ms beyond this is not a time
MAX_CREDIT_MESSAGES = 1_000_000

# Message types and who sends them.
DETECTOR_TYPES = ("hello", "snapshot", "segment", "status")
UPLOADER_TYPES = ("ack", "nack", "credit")
PAYLOAD_TYPES = ("snapshot", "segment")

# nack reason codes -> retry. "retry" tells the detector whether to keep the
# message in its outbox and send it again later (True), or set it aside as
# refused, kept for a person (False). Detectors act on the nack's ``retry``
# field, not on this table, so minor versions can add codes.
NACK_CODES: dict[str, bool] = {
    "bad_frames": False,  # wrong number of frames, not a QSC frame, payload frame missing/extra
    "bad_version": False,  # QSCn with n != 1, or header v not "1.<minor>"
    "bad_header": False,  # header is not one msgpack map with text keys, or is over 64 KiB
    "bad_type": False,  # unknown message type, or one this side does not accept
    "missing_field": False,
    "wrong_type": False,
    "bad_value": False,  # right type, value outside its rule (pattern, range, ...)
    "too_large": False,  # payload over the uploader's limit
    "size_mismatch": False,  # payload length differs from "size"
    "sha256_mismatch": False,  # payload does not hash to "sha256"
    "conflict": False,  # same id stored before with a different sha256
    "not_allowed": False,  # camera id not allowed for this detector's CURVE key
    "busy": True,  # uploader cannot store now (spool full, disk error): send again later
    "internal": True,  # uploader bug: send again later
}


class ProtocolError(Exception):
    """A message broke the contract; ``code`` is the nack reason code.

    ``ref`` is the broken message's id when it could be read, else "".
    """

    def __init__(self, code: str, text: str, ref: str = "") -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.ref = ref

    @property
    def retry(self) -> bool:
        return NACK_CODES.get(self.code, False)


# -- field rules -----------------------------------------------------------------
# A rule returns "" when the value is fine, else what is wrong with it (bad_value).
Rule = Callable[[Any], str]

ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
CAMERA_RE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
MEDIA_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,62}/[a-z0-9][a-z0-9.+-]{0,62}$")
TOKEN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
VERSION_RE = re.compile(r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$")


def _matches(regex: re.Pattern[str], what: str) -> Rule:
    def rule(value: str) -> str:
        return "" if regex.fullmatch(value) else f"must be {what}"
    return rule


def camera_id_problem(value: str) -> str:
    """Empty for a valid camera id, else what is wrong with it."""
    if not isinstance(value, str) or not CAMERA_RE.fullmatch(value) or value in (".", ".."):
        return "must be 1-64 of A-Z a-z 0-9 _ . - (and not . or ..)"
    return ""


def _text(max_len: int, min_len: int = 0) -> Rule:
    def rule(value: str) -> str:
        n = len(value.encode("utf-8"))
        return "" if min_len <= n <= max_len else f"must be {min_len}-{max_len} bytes of UTF-8"
    return rule


def _between(lo: float, hi: float) -> Rule:
    def rule(value: float) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        return "" if lo <= value <= hi else f"must be in {lo}..{hi}"
    return rule


def _prefixed(prefix: str) -> Rule:
    base = _matches(MEDIA_TYPE_RE, "a lowercase media type such as image/jpeg")

    def rule(value: str) -> str:
        return base(value) or ("" if value.startswith(prefix) else f"must start with {prefix!r}")
    return rule


def _box(value: Any) -> str:
    if (not isinstance(value, (list, tuple)) or len(value) != 4
            or not all(_is_int(v) and 0 <= v <= 65535 for v in value)):
        return "each box must be [x, y, w, h]: 4 integers in 0..65535 (pixels)"
    return ""


def _boxes(value: list) -> str:
    if len(value) > 256:
        return "at most 256 boxes"
    return next((p for p in map(_box, value) if p), "")


@dataclass(frozen=True)
class Field:
    """One header field: its msgpack kind, whether it must be present, its value rule."""

    name: str
    kind: str  # str | int | float | bool | array | map
    required: bool = True
    rule: Rule | None = None


def _submap(fields: tuple[Field, ...], what: str) -> Rule:
    """A rule for a nested map checked field by field (unknown keys ignored)."""
    def rule(value: Any) -> str:
        if not isinstance(value, dict):
            return f"{what} must be a map"
        for f in fields:
            if f.name not in value:
                if f.required:
                    return f"{what} lacks {f.name!r}"
                continue
            problem = _kind_problem(value[f.name], f.kind) or (f.rule(value[f.name]) if f.rule else "")
            if problem:
                return f"{what}.{f.name} {problem}"
        return ""
    return rule


# A face seen during a segment: when and where (a snapshot's faces are plain boxes).
FACE_FIELDS = (
    Field("time_ms", "int", True, _between(0, TIME_MS_MAX)),
    Field("box", "array", True, _box),
    Field("score", "float", False, _between(0.0, 1.0)),
    Field("label", "str", False, _text(64)),
)
FAULT_MAX = 300  # characters of a camera's fault, e.g. 'DISK FULL, recording snapshots only, 3 write(s) failed'
CAMERA_STATUS_FIELDS = (
    Field("state", "str", True, _matches(TOKEN_RE, "a short lowercase word (ok, lost, ...)")),
    Field("fps", "float", True, _between(0.0, 1000.0)),
    Field("frames", "int", True, _between(0, INT64_MAX)),
    Field("dropped", "int", True, _between(0, INT64_MAX)),
    Field("dark", "bool", False),
    Field("dropped_recording", "int", False, _between(0, INT64_MAX)),
    Field("width", "int", False, _between(0, 65535)),
    Field("height", "int", False, _between(0, 65535)),
    Field("events", "int", False, _between(0, INT64_MAX)),
    Field("last_event_ms", "int", False, _between(0, TIME_MS_MAX)),
    Field("reopens", "int", False, _between(0, INT64_MAX)),
    Field("faces", "int", False, _between(0, INT64_MAX)),
    Field("fault", "str", False, _text(FAULT_MAX)),
    Field("recorder", "str", False, _matches(TOKEN_RE, "a short lowercase word (passthrough, reencode)")),
)
_face = _submap(FACE_FIELDS, "face")
_camera_status = _submap(CAMERA_STATUS_FIELDS, "camera status")


def _face_sightings(value: list) -> str:
    if len(value) > 1024:
        return "at most 1024 faces"
    return next((p for p in map(_face, value) if p), "")


def _camera_list(value: list) -> str:
    if not 1 <= len(value) <= 64:
        return "must list 1 to 64 camera ids"
    for cam in value:
        if camera_id_problem(cam):
            return f"holds {cam!r}, which is not a camera id"
    return ""


def _camera_map(value: dict) -> str:
    if len(value) > 64:
        return "at most 64 cameras"
    for cam, status in value.items():
        if camera_id_problem(cam):
            return f"key {cam!r} is not a camera id"
        problem = _camera_status(status)
        if problem:
            return f"[{cam!r}]: {problem}"
    return ""


def _capabilities(value: list) -> str:
    if len(value) > 64 or not all(isinstance(c, str) and TOKEN_RE.fullmatch(c) for c in value):
        return "must be at most 64 short lowercase words"
    return ""


def _credit_reason(value: str) -> str:
    return _text(MAX_NACK_TEXT)(value)


_ID = _matches(ID_RE, "1-64 of A-Z a-z 0-9 _ -")
_TIME = _between(0, TIME_MS_MAX)
_COUNT = _between(0, INT64_MAX)
_PIXELS = _between(1, 65535)
_SHA256 = _matches(SHA256_RE, "64 lowercase hex digits")

# Field order is the order of the spec's tables and the order of the checks;
# the wire order of keys is sorted (see encode_header).
COMMON_FIELDS = (
    Field("v", "str"),
    Field("type", "str"),
    Field("id", "str", True, _ID),
    Field("time_ms", "int", True, _TIME),
)
SCHEMAS: dict[str, tuple[Field, ...]] = {
    "hello": (
        Field("detector", "str", True, _text(64, 1)),
        Field("detector_version", "str", True, _text(64, 1)),
        Field("cameras", "array", True, _camera_list),
        Field("capabilities", "array", False, _capabilities),
        Field("heartbeat_ms", "int", False, _between(100, 60_000)),
        Field("ack_timeout_ms", "int", False, _between(100, 3_600_000)),
    ),
    "snapshot": (
        Field("camera", "str", True, camera_id_problem),
        Field("event", "str", True, _ID),
        Field("seq", "int", False, _between(0, 0xFFFF_FFFF)),
        Field("width", "int", True, _PIXELS),
        Field("height", "int", True, _PIXELS),
        Field("content_type", "str", True, _prefixed("image/")),
        Field("size", "int", True, _COUNT),
        Field("sha256", "str", True, _SHA256),
        Field("boxes", "array", False, _boxes),
        Field("faces", "array", False, _boxes),
        Field("motion_area", "float", False, _between(0.0, 1.0)),
    ),
    "segment": (
        Field("camera", "str", True, camera_id_problem),
        Field("event", "str", True, _ID),
        Field("seq", "int", True, _between(0, 0xFFFF_FFFF)),
        Field("final", "bool"),
        Field("start_ms", "int", True, _TIME),
        Field("end_ms", "int", True, _TIME),
        Field("frames", "int", True, _between(1, INT64_MAX)),
        Field("fps", "float", True, _between(0.001, 1000.0)),
        Field("width", "int", True, _PIXELS),
        Field("height", "int", True, _PIXELS),
        Field("container", "str", True, _matches(TOKEN_RE, "a short lowercase word such as mp4")),
        Field("codec", "str", True, _matches(TOKEN_RE, "a short lowercase word such as h264")),
        Field("content_type", "str", True, _prefixed("video/")),
        Field("size", "int", True, _COUNT),
        Field("sha256", "str", True, _SHA256),
        Field("faces", "array", False, _face_sightings),
    ),
    "status": (
        Field("cameras", "map", True, _camera_map),
        Field("outbox_depth", "int", True, _COUNT),
        Field("outbox_bytes", "int", False, _COUNT),
        Field("refused", "int", False, _COUNT),
        Field("stopping", "bool", False),  # 1.1: the last status before a clean stop (section 9)
    ),
    "ack": (
        Field("ref", "str", True, _ID),
        Field("duplicate", "bool", False),
    ),
    "nack": (
        Field("ref", "str", True, _text(64)),  # "" when the broken message had no readable id
        Field("code", "str", True, _matches(TOKEN_RE, "a short lowercase word")),
        Field("text", "str", True, _text(MAX_NACK_TEXT)),
        Field("retry", "bool"),
    ),
    "credit": (
        Field("messages", "int", True, _between(0, MAX_CREDIT_MESSAGES)),
        Field("bytes", "int", True, _between(0, INT64_MAX)),
        Field("reason", "str", False, _credit_reason),
        Field("max_payload", "int", False, _between(1, INT64_MAX)),
    ),
}


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
    raw = bytes(frames[1])
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError("bad_header", f"header is {len(raw)} bytes; the limit is {MAX_HEADER_BYTES}")
    try:
        header = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError("bad_header", f"header is not one msgpack value "
                                          f"({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_header", "header is not a msgpack map")
    problem = _shape_problem(header, 1)
    if problem:
        raise ProtocolError("bad_header", problem)
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


def validate_header(header: dict[str, Any], accept: Sequence[str] | None = None) -> None:
    """Check the fields in the spec's order; unknown fields are allowed and ignored."""
    _check_field(header, "header", Field("v", "str"))
    version = VERSION_RE.fullmatch(header["v"])
    if not version or int(version.group(1)) != PROTOCOL_MAJOR:
        raise ProtocolError("bad_version",
                            f"header v is {header['v']!r}; this side speaks {PROTOCOL_MAJOR}.x")
    _check_field(header, "header", Field("type", "str"))
    msg_type = header["type"]
    if msg_type not in SCHEMAS or (accept is not None and msg_type not in accept):
        raise ProtocolError("bad_type", f"message type {msg_type[:64]!r} is not accepted here")
    for f in (*COMMON_FIELDS[2:], *SCHEMAS[msg_type]):
        _check_field(header, msg_type, f)
    if msg_type == "segment" and header["end_ms"] < header["start_ms"]:
        raise ProtocolError("bad_value", "segment.end_ms is before start_ms")
    if msg_type == "credit" and header["messages"] == 0 and "reason" not in header:
        raise ProtocolError("missing_field", "credit with messages 0 (paused) needs a reason")


def _check_field(header: dict[str, Any], where: str, f: Field) -> None:
    if f.name not in header:
        if f.required:
            raise ProtocolError("missing_field", f"{where} lacks required field {f.name!r}")
        return
    value = header[f.name]
    problem = _kind_problem(value, f.kind)
    if problem:
        raise ProtocolError("wrong_type", f"{where}.{f.name} {problem}")
    if f.rule:
        problem = f.rule(value)
        if problem:
            raise ProtocolError("bad_value", f"{where}.{f.name} {problem}")


_KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: _is_int(v),
    "float": lambda v: _is_int(v) or isinstance(v, float),
    "bool": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, (list, tuple)),
    "map": lambda v: isinstance(v, dict),
}
_KIND_NAMES = {"str": "text", "int": "an integer", "float": "a number", "bool": "true or false",
               "array": "an array", "map": "a map"}


def _kind_problem(value: Any, kind: str) -> str:
    if not _KINDS[kind](value):
        return f"must be {_KIND_NAMES[kind]}, not {_describe(value)}"
    if kind == "int" and not INT64_MIN <= value <= INT64_MAX:
        return "must fit in a signed 64-bit integer"
    return ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "text", bytes: "binary",
             list: "an array", dict: "a map", type(None): "nil"}
    return names.get(type(value), type(value).__name__)
