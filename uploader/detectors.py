"""Which detectors the uploader hears from: one record per detector, however often it reconnects.

ZeroMQ gives every connection a new routing id, so a detector that reconnects
(a network blip, the uploader restarting under it) arrives as a stranger. The
table folds connections into one record per detector, keyed by what names it:

- with CURVE, its public key (the ZAP handler vouched for it);
- without CURVE, the set of cameras it sends for (from its ``hello``, or from
  the camera ids in a ``status`` or an item when the connection skipped hello).

Without CURVE, two detectors that send for the same camera ids at the same time
(two configs left with ``id = "cam0"``) would fold into one record, and one of
them could die unnoticed while the other keeps the record alive. The table tells
them apart from a reconnect by time: a connection that speaks again after a newer
one of the same record appeared, while that newer one is alive, is a second
detector. That is ``conflict``: an error line, the uploader's ``fault`` (the
health check fails) until the configs are fixed and the uploader restarted.

A ``hello`` that lists the capability ``probe`` (``quickcam doctor``) is
answered but not recorded, so a check never leaves a "silent" detector behind.
A record is *silent* after 3 of its heartbeats without any message on any of its
connections. A silent detector that did not say it stops is its cameras gone
blind, so it is kept (status and the health check keep saying so) until its
cameras are heard again, from it or from any detector, or for a week; one that
stopped cleanly is forgotten after an hour. The uploader's last status file
seeds the table at start (``restore``), so a restarted uploader still knows the
detector that went silent before it: otherwise it would be green again.

This is the place to read detectors' heartbeats and statuses from (``records``,
``as_status``): ``state/status.json`` and alerts both use it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_MS = 2000
SILENT_AFTER_HEARTBEATS = 3
FORGET_AFTER_S = 3600.0  # a detector that stopped cleanly
FORGET_SILENT_S = 7 * 86400.0  # one that went silent without stopping: its cameras are blind
PROBE_CAPABILITY = "probe"
STATUS_FIELDS = ("cameras", "outbox_depth", "outbox_bytes", "refused")


@dataclass
class DetectorRecord:
    """What the uploader knows about one detector."""

    key: str  # how the table names it: "key:<z85>" or "cameras:<ids>"
    public_key: str = ""  # CURVE public key (z85), "" without CURVE
    user: str = ""  # its name in the CURVE allow-list
    detector: str = ""  # implementation name from hello
    version: str = ""
    cameras: list[str] = field(default_factory=list)
    heartbeat_s: float = DEFAULT_HEARTBEAT_MS / 1000
    seen: float = 0.0  # time.monotonic() of the last message on any of its connections
    silent: bool = False
    stopping: bool = False  # its last message was a status saying it stops cleanly (protocol 1.1)
    status: dict[str, Any] = field(default_factory=dict)  # its last status header
    connections: int = 0  # connections (routing ids) it has used
    grace_until: float = 0.0  # restored at start: not called silent before this (time to reconnect)

    @property
    def name(self) -> str:
        return self.user or self.detector or f"detector with cameras {', '.join(self.cameras)}"

    def quiet_limit_s(self) -> float:
        return SILENT_AFTER_HEARTBEATS * self.heartbeat_s

    def closed_words(self, frame_limit: int) -> str:
        """What one of its connections closing most likely means, for the log: alarming words only when plausible.

        ZeroMQ closes a connection that sends a frame over MAXMSGSIZE without a
        word, and that looks like any disconnect. A detector that said it stops,
        or whose last status had nothing waiting in its outbox, sent no such
        frame; one with items waiting (or no status yet) may have.
        """
        if self.stopping:
            return f"{self.name} disconnected: it stopped cleanly"
        depth = self.status.get("outbox_depth")
        if isinstance(depth, int) and depth == 0:
            return f"{self.name} disconnected (a restart, a stop or a network change; nothing was waiting to be sent)"
        waiting = f"with {depth} item(s) waiting in its outbox" if isinstance(depth, int) else "before its first status"
        return (f"a connection from {self.name} closed {waiting}; if this repeats, it sent a frame over this "
                f"uploader's {frame_limit}-byte limit, which ZeroMQ drops unanswered (raise uploader.max_payload_mb)")


class DetectorTable:
    """Routing ids -> detector records; the receiver thread owns it."""

    def __init__(self) -> None:
        self.records: dict[str, DetectorRecord] = {}
        self._by_peer: dict[bytes, tuple[str, float]] = {}
        self._first_seen: dict[bytes, float] = {}  # when each connection first spoke
        self.conflict = ""  # two detectors without CURVE sending for the same cameras at once

    def hello(self, peer: bytes, header: dict[str, Any], public_key: str, user: str,
              now: float | None = None) -> tuple[DetectorRecord | None, str]:
        """Record a hello; returns (record, what happened): 'new', 'back', 'changed', 'again' or 'probe'."""
        if PROBE_CAPABILITY in header.get("capabilities", []):
            return None, "probe"
        now = time.monotonic() if now is None else now
        key = _key(public_key, header["cameras"])
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = DetectorRecord(key, public_key, user)
            event = "new"
        elif record.silent:
            event = "back"
        elif (record.detector, record.version, record.cameras) != (
                header["detector"], header["detector_version"], header["cameras"]):
            event = "changed"
        else:
            event = "again"  # a repeated hello (no credit yet) or a reconnect: nothing to report
        record.detector, record.version = header["detector"], header["detector_version"]
        record.cameras = list(header["cameras"])
        record.heartbeat_s = header.get("heartbeat_ms", DEFAULT_HEARTBEAT_MS) / 1000
        self._attach(peer, record, now)
        return record, event

    def heard(self, peer: bytes, public_key: str, user: str, cameras: list[str],
              now: float | None = None) -> tuple[DetectorRecord, bool]:
        """A status or item from ``peer``; returns its record and whether it had been silent."""
        now = time.monotonic() if now is None else now
        known = self._by_peer.get(peer)
        record = self.records.get(known[0]) if known else None
        if record is None:
            record = self._find(public_key, cameras)
        if record is None:
            key = _key(public_key, cameras)
            record = self.records[key] = DetectorRecord(key, public_key, user, cameras=list(cameras))
        was_silent = record.silent
        self._attach(peer, record, now)
        return record, was_silent

    def record_of(self, peer: bytes) -> DetectorRecord | None:
        known = self._by_peer.get(peer)
        return self.records.get(known[0]) if known else None

    def newly_silent(self, now: float | None = None) -> list[tuple[DetectorRecord, float]]:
        """Records that just went quiet for 3 heartbeats, with how long; forgets long-gone ones."""
        now = time.monotonic() if now is None else now
        found = []
        for key, record in list(self.records.items()):
            quiet = now - record.seen
            if quiet > (FORGET_AFTER_S if record.stopping else FORGET_SILENT_S):
                del self.records[key]
            elif quiet > record.quiet_limit_s() and not record.silent and now >= record.grace_until:
                record.silent = True
                found.append((record, quiet))
        for peer, (key, seen) in list(self._by_peer.items()):
            if key not in self.records or now - seen > FORGET_SILENT_S:
                del self._by_peer[peer]
                self._first_seen.pop(peer, None)
        return found

    def restore(self, entries: list[dict[str, Any]], written: float, now: float | None = None,
                wall_now: float | None = None) -> int:
        """Seed the table from this uploader's last status file (``detectors``, written at ``written``).

        Without it a restarted uploader knows no detector that went silent before
        it started, and its status and health check are green while those
        cameras are blind. Detectors that stopped cleanly, and bare hellos
        (``quickcam doctor``), are not restored. One that was live gets its usual
        3 heartbeats from now to reconnect before it is called silent. ``written``
        is on the wall clock (the file's ``time``), everything else monotonic: a
        file from the future (the clock stepped back since) counts as just written.
        """
        now = time.monotonic() if now is None else now
        file_age = max(0.0, (time.time() if wall_now is None else wall_now) - written)
        restored = 0
        for entry in entries:
            try:
                if not entry.get("status") or entry.get("stopping") or entry.get("stopped"):
                    continue
                cameras = [str(c) for c in entry["cameras"]]
                public_key = str(entry.get("public_key") or "")
                record = DetectorRecord(_key(public_key, cameras), public_key, str(entry.get("key") or ""),
                                        detector=str(entry.get("detector") or ""), cameras=cameras,
                                        heartbeat_s=float(entry["silent_after_s"]) / SILENT_AFTER_HEARTBEATS,
                                        seen=now - file_age - float(entry["seen_s_ago"]),
                                        silent=bool(entry.get("silent")), status=dict(entry["status"]))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # an entry from an older or damaged file: nothing to restore
            record.grace_until = now + record.quiet_limit_s()
            self.records.setdefault(record.key, record)
            restored += 1
        return restored

    def as_status(self, now: float | None = None) -> list[dict[str, Any]]:
        """The ``detectors`` list of ``state/status.json``: one entry per detector."""
        now = time.monotonic() if now is None else now
        return [{"detector": r.detector, "key": r.user, "public_key": r.public_key, "cameras": r.cameras,
                 "seen_s_ago": round(now - r.seen, 1), "silent": r.silent,
                 "silent_after_s": r.quiet_limit_s(), "stopped": r.silent and r.stopping,
                 "stopping": r.stopping,
                 "restored": now < r.grace_until,  # known from the last run, given time to reconnect
                 "connections": r.connections,
                 "status": {k: v for k, v in r.status.items() if k in STATUS_FIELDS}}
                for r in self.records.values()]

    def _attach(self, peer: bytes, record: DetectorRecord, now: float) -> None:
        if self._by_peer.get(peer, ("",))[0] != record.key:
            record.connections += 1
        first = self._first_seen.setdefault(peer, now)
        if not record.public_key and not self.conflict:
            for other, (key, seen) in self._by_peer.items():
                newer_and_alive = self._first_seen.get(other, 0.0) > first and now - seen <= record.quiet_limit_s()
                if other != peer and key == record.key and newer_and_alive:
                    self.conflict = (f"two detectors send for camera(s) {', '.join(record.cameras)} at the same time; "
                                     "without CURVE the uploader tells detectors apart only by their camera ids, so "
                                     "one could stop unnoticed: give each camera its own [camera] id (or each "
                                     "detector a CURVE key), then restart the uploader")
                    log.error("receiver: %s", self.conflict)
                    break
        self._by_peer[peer] = (record.key, now)
        record.seen, record.silent, record.stopping = now, False, False
        for key, other in list(self.records.items()):  # its cameras are seen again: no longer blind
            if other is not record and other.silent and set(other.cameras) <= set(record.cameras):
                del self.records[key]

    def _find(self, public_key: str, cameras: list[str]) -> DetectorRecord | None:
        if public_key:
            return self.records.get(_key(public_key, []))
        wanted = set(cameras)
        for record in self.records.values():
            if not record.public_key and wanted and wanted <= set(record.cameras):
                return record
        return None


def _key(public_key: str, cameras: list[str]) -> str:
    return f"key:{public_key}" if public_key else "cameras:" + ",".join(sorted(cameras))
