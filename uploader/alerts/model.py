"""What flows through the alerts package: observations in, alerts and camera views out.

Observations are what the receiver saw (a hello, a detector status, a stored
item) plus a periodic tick carrying the ledger's per-destination summary. The
rules (``rules.py``) turn them into ``Alert`` values and ``CameraView`` state;
the sinks deliver those. Payload formats are normative in docs/alerts.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hello:
    cameras: tuple[str, ...]
    heartbeat_s: float
    t: float


@dataclass(frozen=True)
class Status:
    """A detector ``status`` header (docs/protocol.md); every field is read defensively."""

    header: dict[str, Any]
    t: float


@dataclass(frozen=True)
class Stored:
    """A snapshot or segment now durable in the ledger; ``payload`` only for snapshots."""

    header: dict[str, Any]
    payload: bytes | None
    t: float


@dataclass(frozen=True)
class Tick:
    t: float
    destinations: list[dict[str, Any]] | None = None  # Ledger.summary() rows, when read this tick


Observation = Hello | Status | Stored | Tick


@dataclass(frozen=True)
class Alert:
    """One notification. ``key`` de-duplicates: a key is delivered at most once per target."""

    name: str  # motion, detector_silent, ... (config.ALERT_NAMES)
    key: str
    camera: str  # "" for alerts about the uploader as a whole
    title: str
    body: str
    time: float
    urgent: bool = False
    facts: dict[str, Any] = field(default_factory=dict)  # machine-readable details (docs/alerts.md)
    snapshot: bytes | None = field(default=None, repr=False)  # JPEG; on disk only for attaching targets (pictures.py)
    faces: tuple[tuple[int, int, int, int], ...] = ()  # face boxes in the snapshot


@dataclass
class CameraView:
    """What MQTT shows about one camera."""

    camera: str
    motion: bool = False
    state: str = "unknown"  # the detector's camera state, or "silent" when its detector went quiet
    last_event_ms: int = 0
    backlog_s: float = 0.0  # uploader-wide: age of the oldest footage not yet in every destination
    snapshot: bytes | None = field(default=None, repr=False)
    snapshot_seq: int = 0  # bumps when ``snapshot`` changes

    def status_payload(self) -> dict[str, Any]:
        return {"state": self.state, "motion": self.motion, "last_event_ms": self.last_event_ms,
                "backlog_s": round(self.backlog_s, 1)}


@dataclass(frozen=True)
class Outcome:
    alerts: list[Alert]
    changed: set[str]  # cameras whose view changed
