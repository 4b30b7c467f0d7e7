"""The alert rules: a plain state machine fed observations, returning alerts.

No sockets, threads or disk here (``service.py`` is the shell). Each camera is
followed through what the receiver saw: the cameras a hello names, the states
a detector status reports, the snapshots and segments stored for its events.
From that the rules decide, once per episode:

- ``motion``: the first item of a new event (with its snapshot), unless the
  camera had a motion alert within ``cooldown_s`` or it is quiet hours;
- ``detector_silent``: no message for a camera for ``silent_after_s`` (default
  3 heartbeats); **urgent** when an event of that camera was still open, with
  the last snapshot and the seconds of footage of that event already stored;
  ``detector_back`` when it is heard again;
- ``detector_stopped`` instead, not urgent, when the detector's last status
  said ``stopping`` (a clean stop, docs/protocol.md 1.1): switched off, not gone;
- ``camera_lost`` / ``camera_back``, ``camera_stopped``, ``disk_full``: from the
  detector's status (fields read defensively: a detector that does not send
  them simply never raises them);
- ``view_blocked``, **urgent**: the camera's ``view`` (its view guard, docs/protocol.md)
  left ``ok``: covered, turned away or frozen; once per episode, the episode
  ending when ``view`` is ``ok`` again (a detector that never sends ``view``
  never raises it);
- ``storage_failing`` / ``backlog``: from the ledger summary (``storage_watch.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quickcam.uploader.alerts.model import Alert, CameraView, Hello, Observation, Outcome, Status, Stored, Tick
from quickcam.uploader.alerts.storage_watch import StorageWatch, clock

DEFAULT_HEARTBEAT_S = 2.0  # docs/protocol.md: hello.heartbeat_ms defaults to 2 000
MAX_LEARNT_HEARTBEAT_S = 60.0
SILENT_AFTER_HEARTBEATS = 3
EVENT_STALE_S = 60.0  # an event with no item for this long is over, even without its final segment
ENDED_KEPT = 64  # per camera: ids of events whose final segment is stored, so a late item does not reopen one
MOTION_MAX_AGE_S = 120.0  # an item older than this (a backlog re-sent) does not raise a motion alert
# Camera states (or loop fields) that mean the camera is not being watched: docs/protocol.md defines
# failing (never delivered a frame, or a stage not running) and stalled; the rest are read if sent.
STOPPED_STATES = frozenset({"failing", "stalled", "stopped", "failed", "crashed", "dead", "error"})
STOPPED_CLEAR_S = 60.0  # a stopped camera must be ok this long before a new stop is a new alert
DISK_FULL = "DISK FULL"  # in a camera's ``fault`` text (docs/protocol.md)
# Any of these in a camera's ``fault``: its footage cannot be written whole (the detector's disk path, disk.py)
DISK_PROBLEMS = (DISK_FULL, "DISK ERROR", "OUTBOX NOT WRITABLE")


def parse_quiet_hours(spec: str) -> tuple[int, int] | None:
    """"22:30-07:00" -> (1350, 420) in minutes after midnight; "" -> None."""
    if not spec:
        return None
    start, end = spec.split("-")
    return tuple(int(h) * 60 + int(m) for h, m in (p.split(":") for p in (start, end)))  # type: ignore[return-value]


def in_quiet_hours(window: tuple[int, int] | None, minute: int) -> bool:
    """True when ``minute`` (after local midnight) is inside the window, which may wrap midnight."""
    if window is None:
        return False
    start, end = window
    return start <= minute < end if start <= end else minute >= start or minute < end


def local_minute(t: float) -> int:
    lt = time.localtime(t)
    return lt.tm_hour * 60 + lt.tm_min


@dataclass
class _Event:
    first_t: float
    last_t: float
    safe_ms: int = 0  # footage of this event stored durably (sum of segment durations)


@dataclass
class _Camera:
    view: CameraView
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    hello_seen: bool = False  # without a hello (the uploader restarted), the heartbeat is learnt from statuses
    last_status: float = 0.0
    heard: float = 0.0
    silent_since: float = 0.0  # 0 = not silent
    stopping: bool = False  # the last message was a status with ``stopping``: silence next is a clean stop
    events: dict[str, _Event] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)  # event id -> its final segment's end_ms, oldest first
    reused: set[str] = field(default_factory=set)  # open events whose id an earlier, ended event had
    last_motion_alert: float = float("-inf")
    lost_since: float = 0.0
    stopped_since: float = 0.0
    back_announced: bool = False
    ok_since: float = 0.0
    disk_full_since: float = 0.0
    blind_since: float = 0.0  # the view guard said the camera cannot see (``view`` not ok)
    faces: tuple[tuple[int, int, int, int], ...] = ()


_CAMERA_TIMES = ("last_status", "heard", "silent_since", "last_motion_alert", "lost_since", "stopped_since",
                 "ok_since", "disk_full_since", "blind_since")  # the _Camera fields that hold a time (0 = none)


@dataclass(frozen=True)
class RuleSettings:
    cooldown_s: float = 60.0
    quiet_hours: str = ""
    quiet_alerts: tuple[str, ...] = ("motion",)
    silent_after_s: float = 0.0  # 0 = SILENT_AFTER_HEARTBEATS x heartbeat
    storage_failing_after_s: float = 600.0
    backlog_after_s: float = 900.0


class AlertRules:
    def __init__(self, settings: RuleSettings, minute_of: Callable[[float], int] = local_minute) -> None:
        self.settings = settings
        self.quiet = parse_quiet_hours(settings.quiet_hours)
        self.minute_of = minute_of
        self.cameras: dict[str, _Camera] = {}
        self.counters: Counter[str] = Counter()  # held_cooldown, held_quiet_hours
        self.storage = StorageWatch(settings.storage_failing_after_s, settings.backlog_after_s)
        self._backlog_bucket = -1

    # -- the one entry point ---------------------------------------------------
    def feed(self, obs: Observation) -> Outcome:
        out = Outcome([], set())
        if isinstance(obs, Hello):
            for cam in obs.cameras:
                self._camera(cam).heartbeat_s = obs.heartbeat_s
                self._camera(cam).hello_seen = True
                self._heard(cam, obs.t, out)
        elif isinstance(obs, Status):
            self._status(obs, out)
        elif isinstance(obs, Stored):
            self._stored(obs, out)
        elif isinstance(obs, Tick):
            self._tick(obs, out)
        out.alerts[:] = [a for a in out.alerts if self._allowed(a)]
        return out

    def shift(self, seconds: float) -> None:
        """Move every remembered time by ``seconds``: the wall clock stepped, and a step is not time passing.

        Observations carry wall-clock times (they label the alerts). Without this a
        step forward on the uploader's machine (NTP on a board without a real-time
        clock) made every detector look silent for the step: a false
        ``detector_silent`` and ``detector_back``; a step back held silence
        detection, cooldowns and episodes for its length.
        """
        for cam in self.cameras.values():
            for name in _CAMERA_TIMES:
                value = getattr(cam, name)
                if value and value != float("-inf"):
                    setattr(cam, name, value + seconds)
            for event in cam.events.values():
                event.first_t, event.last_t = event.first_t + seconds, event.last_t + seconds
        self.storage.shift(seconds)

    def view(self, camera: str) -> CameraView:
        return self._camera(camera).view

    # -- helpers ----------------------------------------------------------------
    def _camera(self, name: str) -> _Camera:
        if name not in self.cameras:
            self.cameras[name] = _Camera(CameraView(name))
        return self.cameras[name]

    def silent_after(self, cam: _Camera) -> float:
        return self.settings.silent_after_s or SILENT_AFTER_HEARTBEATS * cam.heartbeat_s

    def _allowed(self, alert: Alert) -> bool:
        if alert.urgent or alert.name not in self.settings.quiet_alerts:
            return True
        if in_quiet_hours(self.quiet, self.minute_of(alert.time)):
            self.counters["held_quiet_hours"] += 1
            return False
        return True

    def _heard(self, name: str, t: float, out: Outcome) -> _Camera:
        cam = self._camera(name)
        cam.heard = max(cam.heard, t)
        stopped, cam.stopping = cam.stopping, False
        if cam.silent_since:
            gone = t - cam.silent_since + self.silent_after(cam)
            out.alerts.append(Alert(
                "detector_back", f"detector_back:{name}:{int(cam.silent_since * 1000)}", name,
                f"Camera {name} is back", f"The detector of camera {name} is sending again after "
                f"{gone:.0f} s {'stopped' if stopped else 'of silence'} ({clock(t)}).", t,
                facts={"silent_s": round(gone, 1)}))
            cam.silent_since = 0.0
            cam.view.state = "unknown"
            out.changed.add(name)
        return cam

    # -- stored items -----------------------------------------------------------
    def _stored(self, obs: Stored, out: Outcome) -> None:
        header = obs.header
        name, event_id = str(header.get("camera", "")), str(header.get("event", ""))
        if not name or not event_id:
            return
        cam = self._heard(name, obs.t, out)
        if event_id in cam.ended:
            # Segments may arrive in any order (docs/protocol.md): an item of an event whose final segment is
            # stored (a retry after `nack busy`, a re-send after a reconnect) adds footage; the event stays over.
            # One made after that end is a new event reusing the id (docs/protocol.md: SHOULD NOT, yet one may).
            if int(header.get("start_ms", header.get("time_ms", 0))) <= cam.ended[event_id]:
                return
            del cam.ended[event_id]
            cam.reused.add(event_id)  # its motion alert needs a key of its own: the first one's was delivered
        event = cam.events.get(event_id)
        item_s = header.get("time_ms", 0) / 1000
        if event is None:
            event = cam.events[event_id] = _Event(obs.t, obs.t)
            cam.view.last_event_ms = int(header.get("start_ms", header.get("time_ms", 0)))
            cam.view.motion = True
            out.changed.add(name)
            if obs.t - item_s <= MOTION_MAX_AGE_S:
                self._motion(cam, event_id, obs, out)
        event.last_t = obs.t
        if header.get("type") == "snapshot" and obs.payload:
            cam.view.snapshot = obs.payload
            cam.view.snapshot_seq += 1
            cam.faces = _boxes(header.get("faces"))
            out.changed.add(name)
        elif header.get("type") == "segment":
            event.safe_ms += max(0, int(header.get("end_ms", 0)) - int(header.get("start_ms", 0)))
            if header.get("final"):
                del cam.events[event_id]
                cam.reused.discard(event_id)
                cam.ended[event_id] = int(header.get("end_ms", header.get("time_ms", 0)))
                while len(cam.ended) > ENDED_KEPT:
                    del cam.ended[next(iter(cam.ended))]
                self._motion_off(cam, out)

    def _motion(self, cam: _Camera, event_id: str, obs: Stored, out: Outcome) -> None:
        name = cam.view.camera
        if obs.t - cam.last_motion_alert < self.settings.cooldown_s:
            self.counters["held_cooldown"] += 1
            return
        cam.last_motion_alert = obs.t
        when = obs.header.get("time_ms", int(obs.t * 1000)) / 1000
        is_snapshot = obs.header.get("type") == "snapshot"
        faces = _boxes(obs.header.get("faces")) if is_snapshot else ()
        seen = " A face was found." if faces else ""
        key = f"motion:{name}:{event_id}" + (f":{int(when * 1000)}" if event_id in cam.reused else "")
        out.alerts.append(Alert(
            "motion", key, name, f"Motion on {name}",
            f"Motion on camera {name} at {clock(when)}.{seen}", obs.t,
            facts={"event": event_id, "time_ms": int(when * 1000), "faces": len(faces)},
            snapshot=obs.payload if is_snapshot else None, faces=faces))

    def _motion_off(self, cam: _Camera, out: Outcome) -> None:
        if not cam.events and cam.view.motion:
            cam.view.motion = False
            out.changed.add(cam.view.camera)

    # -- detector status --------------------------------------------------------
    def _status(self, obs: Status, out: Outcome) -> None:
        cameras = obs.header.get("cameras")
        if not isinstance(cameras, dict):
            return
        disk = obs.header.get("disk")
        detector_full = obs.header.get("disk_full") is True or (isinstance(disk, dict) and disk.get("full") is True)
        newly_full = []
        for name, info in cameras.items():
            cam = self._camera(str(name))
            if not cam.hello_seen and cam.last_status:
                cam.heartbeat_s = max(cam.heartbeat_s, min(obs.t - cam.last_status, MAX_LEARNT_HEARTBEAT_S))
            cam.last_status = obs.t
            cam = self._heard(str(name), obs.t, out)
            cam.stopping = obs.header.get("stopping") is True
            info = info if isinstance(info, dict) else {}
            self._camera_state(cam, info, obs.t, out)
            self._view(cam, info, obs.t, out)
            fault = info.get("fault")
            full = detector_full or (isinstance(fault, str) and any(word in fault.upper() for word in DISK_PROBLEMS))
            if full and not cam.disk_full_since:
                cam.disk_full_since = obs.t
                newly_full.append((cam.view.camera, fault if isinstance(fault, str) and fault else "disk full"))
            elif not full:
                cam.disk_full_since = 0.0
        if newly_full:
            names = ", ".join(name for name, _ in newly_full)
            out.alerts.append(Alert(
                "disk_full", f"disk_full:{names}:{int(obs.t * 1000)}", newly_full[0][0] if len(newly_full) == 1 else "",
                f"Camera disk full ({names})" if DISK_FULL in newly_full[0][1].upper() or detector_full
                else f"Camera cannot write its footage ({names})",
                f"The detector for camera(s) {names} cannot write its footage ({clock(obs.t)}): "
                f"{newly_full[0][1]}. Footage is reduced or lost until its disk takes writes again.",
                obs.t, urgent=True, facts={"cameras": [name for name, _ in newly_full]}))

    def _camera_state(self, cam: _Camera, info: dict[str, Any], t: float, out: Outcome) -> None:
        name = cam.view.camera
        state = info.get("state")
        if isinstance(state, str) and state != cam.view.state:
            cam.view.state = state
            out.changed.add(name)
        loop = info.get("loop")
        stopped = (state in STOPPED_STATES or (isinstance(loop, str) and loop in STOPPED_STATES)
                   or info.get("loop_alive") is False)
        if state == "lost" and not cam.lost_since:
            cam.lost_since = t
            out.alerts.append(Alert(
                "camera_lost", f"camera_lost:{name}:{int(t * 1000)}", name, f"Camera {name} lost",
                f"Camera {name} delivers no frames ({clock(t)}); the detector keeps trying to reopen it.", t))
        if stopped and not cam.stopped_since:
            cam.stopped_since = t
            reason = next((info[k] for k in ("fault", "loop_error", "error") if isinstance(info.get(k), str)
                           and info[k]), state)
            out.alerts.append(Alert(
                "camera_stopped", f"camera_stopped:{name}:{int(t * 1000)}", name, f"Camera {name} stopped",
                f"Camera {name} is not being watched ({reason}) since {clock(t)}: it is blind until this is "
                "fixed.", t, urgent=True, facts={"state": state, "reason": reason}))
        if state != "ok" or stopped:
            cam.ok_since = 0.0
            return
        cam.ok_since = cam.ok_since or t
        since = cam.lost_since or (cam.stopped_since if not cam.back_announced else 0.0)
        if since:
            out.alerts.append(Alert(
                "camera_back", f"camera_back:{name}:{int(since * 1000)}", name, f"Camera {name} back",
                f"Camera {name} is watched again after {t - since:.0f} s ({clock(t)}).", t))
            cam.lost_since = 0.0
            cam.back_announced = bool(cam.stopped_since)
        if cam.stopped_since and t - cam.ok_since >= STOPPED_CLEAR_S:
            cam.stopped_since, cam.back_announced = 0.0, False  # a new stop is a new episode

    def _view(self, cam: _Camera, info: dict[str, Any], t: float, out: Outcome) -> None:
        """``view_blocked`` once when the camera's picture stops showing anything useful (docs/alerts.md)."""
        view = info.get("view")
        blind = isinstance(view, str) and view not in ("", "ok")
        if not blind:
            cam.blind_since = 0.0  # ``ok``, or a detector that does not say: the episode is over
            return
        if cam.blind_since:
            return
        cam.blind_since = t
        name = cam.view.camera
        fault = info.get("fault") if isinstance(info.get("fault"), str) and info.get("fault") else f"view {view}"
        out.alerts.append(Alert(
            "view_blocked", f"view_blocked:{name}:{int(t * 1000)}", name, f"URGENT: camera {name} cannot see",
            f"Camera {name} delivers frames but cannot see ({clock(t)}): {fault}. Nothing useful is recorded "
            "until this is fixed.", t, urgent=True,
            facts={"view": view, "fault": fault}))

    # -- the clock --------------------------------------------------------------
    def _tick(self, obs: Tick, out: Outcome) -> None:
        t = obs.t
        for cam in self.cameras.values():
            if cam.heard and not cam.silent_since and t - cam.heard > self.silent_after(cam):
                self._silent(cam, t, out)
            for event_id, event in list(cam.events.items()):
                if t - event.last_t > EVENT_STALE_S and not cam.silent_since:
                    del cam.events[event_id]
                    cam.reused.discard(event_id)
                    self._motion_off(cam, out)
        if obs.destinations is not None:
            self._storage(obs.t, obs.destinations, out)

    def _silent(self, cam: _Camera, t: float, out: Outcome) -> None:
        name = cam.view.camera
        cam.silent_since = t
        cam.view.state = "stopped" if cam.stopping else "silent"
        out.changed.add(name)
        quiet_s = t - cam.heard
        if cam.stopping:
            out.alerts.append(Alert(
                "detector_stopped", f"detector_stopped:{name}:{int(cam.heard * 1000)}", name,
                f"Camera {name} was switched off", f"The detector of camera {name} stopped cleanly at "
                f"{clock(cam.heard)} (it said so); camera {name} is not watched until it is started again.",
                t, facts={"last_heard_ms": int(cam.heard * 1000)}))
            return
        open_events = [(eid, e) for eid, e in cam.events.items() if e.last_t >= cam.heard - EVENT_STALE_S]
        facts: dict[str, Any] = {"last_heard_ms": int(cam.heard * 1000), "silent_s": round(quiet_s, 1)}
        if open_events:
            event_id, event = max(open_events, key=lambda pair: pair[1].last_t)
            safe_s = event.safe_ms / 1000
            facts.update(event=event_id, footage_safe_s=round(safe_s, 1))
            body = (f"URGENT: the detector of camera {name} went silent DURING AN EVENT; last heard "
                    f"{clock(cam.heard)} ({quiet_s:.0f} s ago). The camera may have been unplugged or taken. "
                    f"{safe_s:.0f} s of footage of this event are stored safely.")
            out.alerts.append(Alert("detector_silent", f"detector_silent:{name}:{int(cam.heard * 1000)}", name,
                                    f"URGENT: camera {name} went silent during motion", body, t, urgent=True,
                                    facts=facts, snapshot=cam.view.snapshot, faces=cam.faces))
        else:
            out.alerts.append(Alert(
                "detector_silent", f"detector_silent:{name}:{int(cam.heard * 1000)}", name,
                f"Camera {name} went silent", f"The detector of camera {name} stopped sending; last heard "
                f"{clock(cam.heard)} ({quiet_s:.0f} s ago).", t, facts=facts))

    def _storage(self, t: float, rows: list[dict[str, Any]], out: Outcome) -> None:
        alerts, oldest = self.storage.feed(t, rows)
        out.alerts.extend(alerts)
        bucket = int(oldest // 10)
        if bucket != self._backlog_bucket:
            self._backlog_bucket = bucket
            for cam in self.cameras.values():
                cam.view.backlog_s = oldest
                out.changed.add(cam.view.camera)


def _boxes(value: Any) -> tuple[tuple[int, int, int, int], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(tuple(int(v) for v in box) for box in value  # type: ignore[misc]
                 if isinstance(box, list | tuple) and len(box) == 4 and all(isinstance(v, int) for v in box))
