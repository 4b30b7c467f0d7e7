"""The detector's ``status`` heartbeat, built so that it always encodes: one bad figure never stops the link.

The link thread encodes every header it sends, and the codec refuses a header
the protocol would refuse (``common/protocol_schema.py``). A camera's status is
made of figures measured elsewhere (a frame rate from a clock that stepped, a
NaN, a fault text past its limit): one such value used to make every heartbeat
raise, the link thread restarted on each one (a new socket, a pause of up to
5 s), footage that was fine went out only in the gaps and the uploader never saw
the status (docs/reliability.md scenario 19). So:

- each camera's status is fitted to the schema's field rules first: numbers
  clamped to their range (NaN and values of the wrong type dropped, or zero
  where the field is required), text cut to its byte limit, extra fields that
  are not plain data dropped; what was fixed is named in that camera's
  ``fault``, so the uploader and ``quickcam status`` see it;
- a header that still fails (a status that raised, a camera id the protocol
  refuses) is replaced by a minimal valid one: every camera with its state and
  a fault naming the problem;
- either case is counted (``LinkState.bad_status``, the status file's
  ``link.bad_status``) and logged once per camera and field, not every heartbeat.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import msgpack

from quickcam.common import protocol
from quickcam.common.protocol_schema import (
    CAMERA_STATUS_FIELDS,
    FAULT_MAX,
    TOKEN_RE,
    Field,
    _between,
    _kind_problem,
    _text,
    cut_utf8,
)
from quickcam.detector.link_state import LinkState

log = logging.getLogger(__name__)

UNKNOWN_STATE = "unknown"  # docs/protocol.md: receivers show a state they do not know as it is
_REQUIRED_DEFAULTS: dict[str, Any] = {"state": UNKNOWN_STATE, "fps": 0.0, "frames": 0, "dropped": 0}
_FIELDS = {f.name: f for f in CAMERA_STATUS_FIELDS}
NOTE_MAX = 160  # bytes of a camera's fault that name the values fixed; the camera's own fault keeps the rest
_PLAIN_DEPTH = 8  # an extra field nests at most this deep (the header's limit is 32)


def fit_camera_status(status: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``status`` with every value the protocol refuses fixed, and what was fixed ("fps nan, sent as 0.0")."""
    fitted: dict[str, Any] = {}
    fixed: list[str] = []
    for key, value in status.items():
        if not isinstance(key, str):
            fixed.append(f"field {key!r} dropped (not a text key)")
            continue
        field = _FIELDS.get(key)
        if field is None:  # not in the schema: receivers ignore it, but it must still encode
            if _plain(value, 1):
                fitted[key] = value
            else:
                fixed.append(f"{key} dropped (not plain data)")
            continue
        if not _problem(field, value) and (field.kind != "map" or _plain(value, 1)):  # loops: plain data too
            fitted[key] = value
            continue
        new = _fit(field, value)
        if new is None and field.required:
            new = _REQUIRED_DEFAULTS[key]
        if new is not None:
            fitted[key] = new
        if key != "fault":  # a fault cut to its limit is not news
            fixed.append(f"{key} {_show(value)} " + (f"sent as {new!r}" if new is not None else "dropped"))
    for key, default in _REQUIRED_DEFAULTS.items():
        if key not in fitted:
            fitted[key] = default
            fixed.append(f"{key} missing, sent as {default!r}")
    if fixed:
        note = cut_utf8("status value(s) the protocol refuses: " + "; ".join(fixed), NOTE_MAX)
        own = cut_utf8(fitted.get("fault", ""), FAULT_MAX - len(note.encode("utf-8")) - 2)  # the camera's own first
        fitted["fault"] = f"{own}; {note}" if own else note
    return fitted, fixed


def minimal_status(cameras: list[str], states: dict[str, Any], problem: str) -> dict[str, dict[str, Any]]:
    """Each camera with its state (when it is a valid word) and ``problem`` as its fault: always valid."""
    out = {}
    for camera in cameras:
        state = (states.get(camera) or {}).get("state") if isinstance(states.get(camera), dict) else None
        state = state if isinstance(state, str) and TOKEN_RE.fullmatch(state) else UNKNOWN_STATE
        out[camera] = {**_REQUIRED_DEFAULTS, "state": state,
                       "fault": cut_utf8(f"status not sent whole: {problem}", FAULT_MAX)}
    return out


class StatusHeaders:
    """Builds the link's ``status`` headers: fitted, checked by encoding, minimal if they still fail."""

    def __init__(self, cameras: list[str], camera_status: Callable[[], dict[str, Any]], state: LinkState) -> None:
        self.cameras = cameras
        self.camera_status = camera_status
        self.state = state
        self._said: set[str] = set()  # what was logged already: once per camera and field

    def build(self, outbox_depth: tuple[int, int], stopping: bool = False, set_aside: int = 0) -> dict[str, Any]:
        """The status header; ``set_aside``: outbox items refused at start (their header unreadable), which its
        ``refused`` counts beside the link's, as the status file's ``outbox.refused`` does."""
        depth, size = outbox_depth
        extra = {"stopping": True} if stopping else {}
        refused = self.state.refused + set_aside
        try:
            statuses = self.camera_status()
        except Exception as exc:  # a bug in a camera's status must not stop the link
            return self._minimal({}, f"the camera status failed ({type(exc).__name__}: {exc})", "camera_status",
                                 depth, size, refused, extra)
        cameras, fixed = {}, []
        items = statuses.items() if isinstance(statuses, dict) else ()
        for camera, status in items:
            cameras[camera], problems = fit_camera_status(status if isinstance(status, dict) else {})
            fixed += [(camera, p) for p in problems]
        header = protocol.make_header("status", cameras=cameras, outbox_depth=depth, outbox_bytes=size,
                                      refused=refused, **extra)
        problem = _encoding_problem(header)
        if problem:
            return self._minimal(statuses if isinstance(statuses, dict) else {}, problem, problem.split(":")[0],
                                 depth, size, refused, extra)
        if fixed:
            self.state.bad_status += 1
            new = [f"camera {camera}: {p}" for camera, p in fixed if f"{camera}:{p.split()[0]}" not in self._said]
            self._said.update(f"{camera}:{p.split()[0]}" for camera, p in fixed)
            if new:
                log.warning("link: status values the protocol refuses, fixed before sending (footage is not held "
                            "up; logged once per field, counted as link.bad_status): %s", "; ".join(new))
        return header

    def _minimal(self, statuses: dict[str, Any], problem: str, key: str, depth: int, size: int, refused: int,
                 extra: dict[str, Any]) -> dict[str, Any]:
        self.state.bad_status += 1
        if key not in self._said:
            self._said.add(key)
            log.error("link: cannot send this detector's status as it is (%s); sending each camera's state "
                      "alone (logged once, counted as link.bad_status); footage is not held up", problem)
        return protocol.make_header("status", cameras=minimal_status(self.cameras, statuses, problem),
                                    outbox_depth=depth, outbox_bytes=size, refused=refused, **extra)


def _problem(field: Field, value: Any) -> str:
    return _kind_problem(value, field.kind) or (field.rule(value) if field.rule else "")


def _fit(field: Field, value: Any) -> Any:
    """The nearest value ``field`` accepts, or None when there is none (NaN, a wrong type)."""
    rule = field.rule
    if field.kind in ("int", "float") and isinstance(rule, _between):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return None
        clamped = min(max(value, rule.lo), rule.hi)
        return int(clamped) if field.kind == "int" else float(clamped)
    if field.kind == "str" and isinstance(value, str):
        if isinstance(rule, _text):
            return cut_utf8(value, rule.max_len)
        lowered = value.strip().lower()
        return lowered if rule is None or not rule(lowered) else None
    return None


def _plain(value: Any, depth: int) -> bool:
    """Data the encoder writes and the receiver's shape check takes: text keys, 64-bit ints, finite nesting, no nil
    (never sent: docs/protocol.md section 3)."""
    if isinstance(value, (bool, str, float)):
        return True
    if isinstance(value, int):
        return protocol.INT64_MIN <= value <= protocol.INT64_MAX
    if depth >= _PLAIN_DEPTH:
        return False
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _encoding_problem(header: dict[str, Any]) -> str:
    """Why ``header`` would not encode or be accepted ("" when it would)."""
    try:
        encoded = protocol.encode_header(header)
    except protocol.ProtocolError as exc:
        return exc.text
    except (TypeError, ValueError, OverflowError, msgpack.PackException) as exc:
        return f"header does not encode ({type(exc).__name__}: {exc})"
    if len(encoded) > protocol.MAX_HEADER_BYTES:
        return f"header is {len(encoded)} bytes, over the protocol's {protocol.MAX_HEADER_BYTES}"
    return ""


def _show(value: Any) -> str:
    return cut_utf8(repr(value), 40)
