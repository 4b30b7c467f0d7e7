"""The protocol's message schema: every type, every field, its rule, and the checks in the spec's order.

Split out of ``protocol`` (the codec) because the schema is what a reader of
``docs/protocol.md`` checks line by line against the spec's tables: field order
here is the order of those tables and of the checks, so every implementation
refuses a broken message with the same nack code. The codec frames and
(de)serialises; this module says what a valid header is. Every public name
stays importable from ``quickcam.common.protocol``, the one name callers use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PROTOCOL_MAJOR = 1
PROTOCOL_VERSION = "1.1"
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


def cut_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character (a split one is invalid text)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


ERROR_TEXT_MAX = 240  # bytes (UTF-8) of an error kept for status: a loop's last_error, the link's, an upload's
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")
ELLIPSIS = "\u2026"


def _bytes_of(text: str) -> bytes:
    """``text``'s bytes; a path's bytes that are not UTF-8 (kept by Python as lone surrogates) as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte (from JSON's "\ud800")
        return text.encode("utf-8", "replace")


def valid_utf8(text: str) -> str:
    """``text`` with each run of bytes that is not UTF-8 as U+FFFD, so it can be encoded for a status or a log.

    A path is bytes, and one from the environment may hold some that are not UTF-8 (a folder named on
    an old Latin-1 system): quoted in a camera's fault, its text could not be encoded, every status
    failed to build, and the camera showed "starting" for ever instead of FAILING. The native
    detector's ``valid_utf8`` (error_text.cpp) replaces the same bytes (each maximal ill-formed part).
    """
    return _bytes_of(text).decode("utf-8", "replace")


def error_text(text: str, max_bytes: int = ERROR_TEXT_MAX) -> str:
    """``text`` (an exception's words, a peer's reason) fit for a status: one line, at most ``max_bytes``.

    Every run of line breaks, tabs and other control characters becomes one space (a status line stays one
    line), and a longer text is cut at a character boundary and ends with an ellipsis (so a reader knows).
    An exception's text has no limit of its own: a 100 kB one kept as it was pushed the detector's status
    past the protocol's header limit, and every heartbeat after it was the minimal fallback status.
    The native detector's ``error_text`` (detector/native/src/error_text.cpp) gives the same bytes.
    """
    line = _CONTROL_RUN.sub(" ", valid_utf8(text)).strip(" ")
    if len(line.encode("utf-8")) <= max_bytes:
        return line
    return cut_utf8(line, max_bytes - len(ELLIPSIS.encode("utf-8"))) + ELLIPSIS


def middle_cut(text: str, max_bytes: int) -> str:
    """``text`` (a path, a URL) in at most ``max_bytes`` of UTF-8, a longer one cut in its middle with "…".

    Its start (the folder) and its end (the file's name) still tell which it is. Put whole into a
    camera's fault, a long path pushed the words after it, the fix, past the fault's limit, where
    ``error_text`` cut them off. The native detector's ``middle_cut`` (detector/native/src/error_text.cpp)
    gives the same bytes.
    """
    raw = _bytes_of(text)  # a path from the environment may hold bytes that are not UTF-8: cut as bytes, as native
    if len(raw) <= max_bytes:
        return text
    room = max_bytes - len(ELLIPSIS.encode("utf-8"))
    end, start = room // 2, len(raw) - (room - room // 2)
    while end > 0 and raw[end] & 0xC0 == 0x80:  # not inside a character: the head ends before it
        end -= 1
    while start < len(raw) and raw[start] & 0xC0 == 0x80:  # the tail starts after it
        start += 1
    return (raw[:end].decode("utf-8", "surrogateescape") + ELLIPSIS
            + raw[start:].decode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class _text:  # noqa: N801 -- a rule, named like the other rules; a class so a sender can read its limit
    """Text of ``min_len``..``max_len`` bytes of UTF-8 (a sender cuts a fault to it with ``cut_utf8``)."""

    max_len: int
    min_len: int = 0

    def __call__(self, value: str) -> str:
        n = len(value.encode("utf-8"))
        return "" if self.min_len <= n <= self.max_len else f"must be {self.min_len}-{self.max_len} bytes of UTF-8"


@dataclass(frozen=True)
class _between:  # noqa: N801 -- see _text
    """A finite number in ``lo``..``hi`` (``detector/status_header.py`` clamps a camera's figures to it)."""

    lo: float
    hi: float

    def __call__(self, value: float) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        return "" if self.lo <= value <= self.hi else f"must be in {self.lo}..{self.hi}"


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
FAULT_MAX = 300  # bytes (UTF-8) of a camera's fault, e.g. 'DISK FULL, recording snapshots only, 3 write(s) failed'
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
    Field("view", "str", False, _matches(TOKEN_RE, "a short lowercase word (ok, blocked, moved, frozen)")),
    Field("view_faults", "int", False, _between(0, INT64_MAX)),
    Field("recording", "bool", False),
    Field("write_failures", "int", False, _between(0, INT64_MAX)),
    Field("not_recorded", "int", False, _between(0, INT64_MAX)),
    Field("snapshots_replaced", "int", False, _between(0, INT64_MAX)),
    Field("damaged_packets", "int", False, _between(0, INT64_MAX)),
    Field("snapshots_failed", "int", False, _between(0, INT64_MAX)),
    Field("slow_opens", "int", False, _between(0, INT64_MAX)),
    Field("loops", "map", False),  # loop name -> loop status; for a person: its content is not checked
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
