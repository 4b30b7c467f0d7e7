"""MQTT topics and payloads, including Home Assistant discovery: the one owner of their bytes.

Normative description: docs/alerts.md; golden files: tests/vectors/alerts/.
Pure functions, so the golden test needs no broker.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from quickcam.uploader.alerts.model import Alert, CameraView

ONLINE, OFFLINE = "online", "offline"
MOTION_ON, MOTION_OFF = "ON", "OFF"


def availability_topic(prefix: str) -> str:
    return f"{prefix}/availability"


def camera_topic(prefix: str, camera: str, leaf: str) -> str:
    """``quickcam/<camera>/<leaf>``: motion, snapshot, status, alert."""
    return f"{prefix}/{camera}/{leaf}"


def alert_topic(prefix: str, alert: Alert) -> str:
    return camera_topic(prefix, alert.camera, "alert") if alert.camera else f"{prefix}/alert"


def node_id(camera: str) -> str:
    """Home Assistant allows [a-zA-Z0-9_-] in discovery node ids; a camera id may hold dots."""
    return "quickcam_" + re.sub(r"[^A-Za-z0-9_-]", "_", camera)


def status_payload(view: CameraView) -> bytes:
    status: dict[str, Any] = view.status_payload()
    status["last_event"] = (datetime.fromtimestamp(view.last_event_ms / 1000, UTC).isoformat(timespec="seconds")
                            if view.last_event_ms else None)
    return json.dumps(status, sort_keys=True, separators=(",", ":")).encode()


def alert_payload(alert: Alert) -> bytes:
    body = {"alert": alert.name, "key": alert.key, "camera": alert.camera, "title": alert.title,
            "message": alert.body, "urgent": alert.urgent, "time_ms": int(alert.time * 1000), "facts": alert.facts}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def discovery(prefix: str, discovery_prefix: str, camera: str, snapshot: bool) -> dict[str, dict[str, Any]]:
    """Discovery topic -> config payload for one camera's entities."""
    node = node_id(camera)
    common = {
        "availability_topic": availability_topic(prefix),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {"identifiers": [node], "name": f"quickcam {camera}", "manufacturer": "QuickSecurityCam",
                   "model": "quickcam camera"},
    }
    status = camera_topic(prefix, camera, "status")
    entities: dict[str, tuple[str, dict[str, Any]]] = {
        "motion": ("binary_sensor", {"name": "Motion", "device_class": "motion",
                                     "state_topic": camera_topic(prefix, camera, "motion"),
                                     "payload_on": MOTION_ON, "payload_off": MOTION_OFF}),
        "state": ("sensor", {"name": "Camera state", "state_topic": status,
                             "value_template": "{{ value_json.state }}"}),
        "last_event": ("sensor", {"name": "Last event", "device_class": "timestamp", "state_topic": status,
                                  "value_template": "{{ value_json.last_event }}"}),
        "backlog": ("sensor", {"name": "Upload backlog", "device_class": "duration", "unit_of_measurement": "s",
                               "state_class": "measurement", "state_topic": status,
                               "value_template": "{{ value_json.backlog_s }}"}),
    }
    if snapshot:
        entities["snapshot"] = ("image", {"name": "Last snapshot", "content_type": "image/jpeg",
                                          "image_topic": camera_topic(prefix, camera, "snapshot")})
    out = {}
    for object_id, (component, fields) in entities.items():
        payload = {**fields, **common, "unique_id": f"{node}_{object_id}", "object_id": f"{node}_{object_id}"}
        out[f"{discovery_prefix}/{component}/{node}/{object_id}/config"] = payload
    return out


def encode(payload: dict[str, Any]) -> bytes:
    """Discovery payloads as bytes: sorted keys, compact, so the golden files are byte-exact."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
