"""The shape of the status files ``quickcam status`` reads: which values must be numbers, objects or lists.

A status file is JSON another process wrote: damaged, or written by another quickcam version, a
value may be of a kind the reading code cannot use (``"fps": "fast"``, ``"cameras": []``). Such a
file is one line naming the file and the value (uploader/cli.py), checked here before anything
reads it, so that a bug in the status command's own code is a bug, not "a damaged file". Only the
values the readers compute with are checked (formatted ones may be anything); a key may be
missing (the readers have defaults), and a null only where the readers take it for "none".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NUMBER = (int, float)
OR_NONE = (int, float, type(None))


@dataclass(frozen=True)
class Each:
    """Every value of an object keyed by name (a camera id), or every item of a list, has ``shape``."""

    shape: Any
    container: type = dict


CAMERA = {"state": str, "fps": NUMBER, "last_event_ms": OR_NONE, "not_ok_since": OR_NONE, "not_ok_for_s": OR_NONE}
STAMP = {"time": NUMBER, "monotonic": OR_NONE, "interval_s": OR_NONE}
DETECTOR = {
    **STAMP,
    "outbox": {"bytes": NUMBER},
    "link": {"error_cleared_at": OR_NONE, "last_error_at": OR_NONE},
    "cameras": Each(CAMERA),
    "low_power": (dict, type(None)),
    "console": (dict, type(None)),
}
DETECTOR_LOW_POWER = {"detect_fps": OR_NONE}
CONSOLE_VIEWERS = Each({"viewers": NUMBER, "skipped": NUMBER})  # by camera id
UPLOADER = {
    **STAMP,
    "spool_bytes": NUMBER,
    "counters": dict,
    "detectors": Each({"status": (dict, type(None)), "seen_s_ago": NUMBER, "silent_after_s": OR_NONE,
                       "cameras": Each(str, list)}, list),
    "failing_destinations": Each({"failing_for_s": NUMBER, "failing_after_s": OR_NONE}, list),
    "notes": Each(str, list),
    "refusing": (dict, type(None)),
    "failed_for_good": Each({"failed": NUMBER}, list),
}
UPLOADER_REFUSING = {"for_s": NUMBER, "after_s": NUMBER}
RELAYED = {"cameras": Each(CAMERA)}  # a detector's last status, as the uploader relays it
ALERTS = {**STAMP, "problems": list, "mqtt": (dict, type(None)), "counters": dict}


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def shape_problem(value: Any, shape: Any, where: str = "") -> str:
    """What in ``value`` is not of ``shape`` (``cameras.cam0.fps is text, not a number``); "" when all is."""
    if isinstance(shape, Each):
        if not isinstance(value, shape.container):
            return f"{where or 'the file'} is {_kind(value)}, not {_kind(shape.container())}"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return next((p for key, item in items if (p := shape_problem(item, shape.shape, f"{where}.{key}"))), "")
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where or 'the file'} is {_kind(value)}, not an object"
        return next((p for key, sub in shape.items()
                     if key in value and (p := shape_problem(value[key], sub, f"{where}.{key}".lstrip(".")))), "")
    kinds = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return ""
    wanted = " or ".join(dict.fromkeys("a number" if k in NUMBER else _kind(k()) for k in kinds))
    return f"{where} is {_kind(value)}, not {wanted}"


def uploader_problem(status: dict[str, Any]) -> str:
    """The uploader's ``status.json``, with the detector statuses it relays."""
    problem = shape_problem(status, UPLOADER) or shape_problem(status.get("refusing") or {}, UPLOADER_REFUSING,
                                                               "refusing")
    for index, det in enumerate([] if problem else status.get("detectors", [])):
        problem = problem or shape_problem(det.get("status") or {}, RELAYED, f"detectors.{index}.status")
    return problem


def detector_problem(status: dict[str, Any]) -> str:
    """A detector's ``detector-status.json``."""
    return (shape_problem(status, DETECTOR)
            or shape_problem(status.get("low_power") or {}, DETECTOR_LOW_POWER, "low_power")
            or shape_problem((status.get("console") or {}).get("viewers") or {}, CONSOLE_VIEWERS, "console.viewers"))


def alerts_problem(status: dict[str, Any]) -> str:
    """The alert service's ``alerts-status.json``."""
    return shape_problem(status, ALERTS)
