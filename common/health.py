"""The rule of ``quickcam status --healthcheck``: which processes must run here, and what fails them.

Docker, systemd and monitoring scripts ask one question: is this machine's part
of quickcam doing its job? The answer comes from the status files alone (the
uploader's ``state/status.json``, the detector's ``outbox/detector-status.json``),
so the check imports neither process and works in either container. The exact
rule, which docs/deploy.md (Health checks) states for operators:

- A status file is *fresh* while it is younger than ``STALE_INTERVALS`` of its
  own ``interval_s`` (at least ``STALE_FLOOR_S``; ``FRESH_S`` for a file written
  before it carried ``interval_s``) and does not say ``running: false``.
- The *role* says which processes must be fresh: ``detector``, ``uploader`` or
  ``all``; ``auto`` (the default) expects every process that left a status file
  here and did not stop cleanly, and at least one process.
- A running detector fails for a camera that has not been ``ok``/``ended`` for
  more than ``HEALTH_GRACE_S``, and for footage waiting in its outbox with its link
  down for longer than its ``link.unsent_after_s``; a running uploader fails for a detector it heard
  from that went silent without saying it stops (protocol 1.1 ``stopping``), and
  for a ``fault`` it reports (its ledger deleted under it, or two detectors
  without CURVE sending for the same camera ids: a person must act, then restart it),
  and for a destination failing (down, refusing, rate limited) without a success for
  longer than its ``failing_after_s`` (``alerts.storage_failing_after_s``): a short
  outage or rate limit is normal, a long one leaves the footage on this machine only;
  and for footage held back until a person acts: refused for lack of spool room for longer
  than ``uploader.refusing_after_s`` (it waits on the camera machine), or uploads failed for
  good that wait for ``quickcam retry``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quickcam.common.cause_first import cause_first
from quickcam.common.folder_lock import held_out_of_sight, holder_pid, holds_a_lock

ROLES = ("auto", "detector", "uploader", "all")
FRESH_S = 15.0  # a status file without interval_s, older than this: its process is not running
STALE_INTERVALS = 5  # a status file this many of its own write intervals old: its process is not running
STALE_FLOOR_S = 10.0  # ... but never sooner (a busy machine delays a write by a few seconds)
HEALTH_GRACE_S = 30.0  # a camera may be not ok this long (a reconnect) before the health check fails
FAILING_ERROR_WIDTH = 160  # a failing destination's error in the health line: its cause first (common/cause_first.py)
HEALTHY_STATES = ("ok", "ended")  # detector/status_file.py stamps every other state with not_ok_since
FIX = {"detector": "start it (docker compose up -d detector, systemctl start quickcam-detector) or see its log",
       "uploader": "start it (docker compose up -d uploader, systemctl start quickcam-uploader) or see its log"}


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def written_stamp() -> dict[str, Any]:
    """The ``time`` keys of a status file: the wall clock for people, the monotonic clock for ages.

    A reader on the same boot of the same machine (``quickcam status``, the
    health check) takes the file's age from ``monotonic``, so a wall clock
    stepped back an hour does not keep a dead process "running" for that hour,
    nor does one stepped forward call a live one stale. Elsewhere it uses ``time``.
    """
    return {"time": time.time(), "monotonic": time.monotonic(), "boot": _boot_id()}


def age_s(status: dict[str, Any], now: float) -> float:
    """Seconds since ``status`` was written: by the monotonic clock when it is comparable, else ``now - time``."""
    boot, stamped = status.get("boot"), status.get("monotonic")
    if boot and isinstance(stamped, (int, float)) and boot == _boot_id():
        return time.monotonic() - stamped
    return now - status.get("time", 0)


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


def stale_after_s(status: dict[str, Any]) -> float:
    """How old a status file may be while its process still counts as running."""
    interval = status.get("interval_s")
    if not isinstance(interval, (int, float)) or interval <= 0:
        return FRESH_S
    return max(STALE_INTERVALS * float(interval), STALE_FLOOR_S)


def _process_state(status: dict[str, Any], folder: Path | None = None) -> tuple[int, str] | None:
    """(pid, its /proc state letter) of a status file's process while it is alive here, else None.

    Only on the boot that wrote the file, and only for a process named quickcam: not a pid reused by another
    program (every quickcam process writes ``boot``, the native detector too). With ``folder`` (the one whose
    lock that process holds: its status file's), the lock's holder as ``/proc/locks`` here names it, when it
    does: the file's pid is its writer's pid namespace's, which names another process, or none, on a host
    reading a container's volume."""
    pid = status.get("pid")
    holder = holder_pid(folder) if folder is not None else None
    if holder is not None:
        pid = holder
    elif not isinstance(pid, int) or not status.get("boot") or status.get("boot") != _boot_id():
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        named = b"quickcam" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    state = stat.rsplit(")", 1)[-1].split()[:1]  # after "(comm)", which may hold spaces
    return (pid, state[0]) if named and state else None


def paused_pid(status: dict[str, Any], folder: Path | None = None) -> int | None:
    """The pid of a status file's process when it is alive here but stopped (SIGSTOP, a debugger, a frozen
    container), else None: such a one is not "not running", and starting it again is not the fix."""
    process = _process_state(status, folder)
    return process[0] if process and process[1] in ("T", "t") else None


def hung_pid(status: dict[str, Any], folder: Path | None = None) -> int | None:
    """The pid of a stale status file's process when it is alive here, not stopped, and still holds its folder's
    lock, else None: it runs but does not answer (a thread stuck in a write to a disk that hangs, a deadlock, a
    disk that refuses the file). It was said ``NOT RUNNING`` with "start it" as the fix, and a second one
    started refuses the locked folder."""
    process = _process_state(status, folder)
    if not process or process[1] in ("T", "t", "Z", "X"):
        return None
    return process[0] if holds_a_lock(process[0]) else None


UNSEEN = ("NOT ANSWERING (status {age} old, its lock held by a process in another pid namespace, another "
          "container: alive, but hung, paused or unable to write its status)")


def liveness(status: dict[str, Any], now: float, folder: Path | None = None) -> tuple[bool, str]:
    """(running, words) for a status file's contents; ``folder``: the one it was read from, whose lock its
    process holds (to tell one that hangs in another container from one that is gone)."""
    if not status:
        return False, "not on this machine"
    age = age_s(status, now)
    if not status.get("running", True):
        return False, f"stopped {ago(age)} ago"
    if age < stale_after_s(status):
        return True, "running"
    if paused_pid(status, folder) is not None:
        return False, f"PAUSED (its process is stopped, not gone: last seen {ago(age)} ago)"
    if (pid := hung_pid(status, folder)) is not None:
        return False, (f"NOT ANSWERING (status {ago(age)} old, pid {pid} holds the lock: alive, but hung or unable "
                       "to write its status)")
    if folder is not None and held_out_of_sight(folder):
        return False, UNSEEN.format(age=ago(age))
    return False, f"NOT RUNNING (last seen {ago(age)} ago)"


def fix_for(name: str, status: dict[str, Any], folder: Path | None = None) -> str:
    """What to do about an expected process that is not running: start it, resume a paused one, restart a hung one."""
    pid = paused_pid(status, folder)
    if pid is not None:
        return f"resume it (kill -CONT {pid}; a debugger, a frozen container or a laptop lid stopped it)"
    pid = hung_pid(status, folder)
    if pid is not None:
        return (f"see its log for why (a full disk, a disk that does not answer); if it hangs, restart it (kill {pid}; "
                f"docker compose restart {name}, systemctl restart quickcam-{name})")
    if folder is not None and held_out_of_sight(folder):
        return (f"see its log for why (docker compose logs {name}: a full disk, a disk that does not answer); if it "
                f"hangs or is paused, restart it (docker compose restart {name})")
    return FIX[name]


def blind_cameras(det: dict[str, Any], now: float) -> list[str]:
    """One phrase per camera of a running detector that has not been ok for more than ``HEALTH_GRACE_S``.

    Judged by the camera's ``not_ok_for_s`` (how long as of the write, measured on
    the monotonic clock) plus the file's age, else by its ``not_ok_since`` stamp
    (an older native detector writes only that); a status file with neither (an
    older detector) by the state alone, ``starting`` excepted.
    """
    if not liveness(det, now)[0]:
        return []
    blind = []
    for camera_id, info in sorted(det.get("cameras", {}).items()):
        state = str(info.get("state", "?"))
        since = info.get("not_ok_since")
        if state in HEALTHY_STATES or (since is None and state == "starting"):
            continue
        not_ok = info.get("not_ok_for_s")
        for_s = (float(not_ok) + max(0.0, age_s(det, now)) if isinstance(not_ok, (int, float))
                 else now - float(since) if since is not None else None)
        if for_s is not None and for_s <= HEALTH_GRACE_S:
            continue
        fault = info.get("fault") or "see quickcam status and the detector's log"
        span = f" for {ago(for_s)}" if for_s is not None else ""
        blind.append(f"camera {camera_id} {state.upper()}{span} ({fault})")
    return blind


def unsent_footage(det: dict[str, Any], now: float) -> list[str]:
    """The phrase for a running detector whose footage has waited with its link down longer than its bound.

    By design the uploader's check speaks for a detector that goes silent, but nothing speaks when the
    uploader itself is gone (its machine down, never started): the footage then sits on the camera machine,
    which the intruder can take. Waited = the shorter of the oldest item's wait (``outbox.oldest_s``) and the
    link's outage (``link.down_for_s``), both as of the write, plus the file's age; the bound is the
    detector's ``link.unsent_after_s`` (default 120 s, twice the longest reconnect interval: an uploader's
    restart keeps it green). A status file without these keys (an older detector) is not judged.
    """
    outbox, link = det.get("outbox", {}), det.get("link", {})
    oldest, down, limit = outbox.get("oldest_s"), link.get("down_for_s"), link.get("unsent_after_s")
    if (not liveness(det, now)[0] or not outbox.get("items") or link.get("connected")
            or not all(isinstance(v, (int, float)) for v in (oldest, down, limit))):
        return []
    age = max(0.0, age_s(det, now))
    waited = min(float(oldest), float(down)) + age
    if waited <= float(limit):
        return []
    return [f"footage waits in outbox for {ago(waited)} ({outbox['items']} item(s)): the uploader at "
            f"{link.get('endpoint', '?')} does not answer (link down for {ago(float(down) + age)}); "
            "start it or check the network; quickcam status"]


def silent_detectors(live: dict[str, Any], now: float) -> list[str]:
    """One phrase per detector the running uploader heard from that went silent without saying it stops.

    ``seen_s_ago`` is as of the uploader's last write, so the file's age is added.
    A detector that sent ``stopping`` (protocol 1.1) stopped cleanly and is not
    counted. The uploader keeps a silent detector until its cameras are heard
    again (or a week), across its own restarts (uploader/detectors.py), so the
    check keeps failing while they are blind.
    """
    if not liveness(live, now)[0]:
        return []
    silent = []
    for det in live.get("detectors", []):
        if not det.get("status") or det.get("stopping") or (det.get("restored") and not det.get("silent")):
            continue  # a bare hello (quickcam doctor), a clean stop, or one given time to reconnect
        quiet = float(det.get("seen_s_ago", 0)) + max(0.0, age_s(live, now))
        limit = det.get("silent_after_s")
        if det.get("silent") or (isinstance(limit, (int, float)) and quiet > limit):
            name = det.get("key") or det.get("detector") or "?"
            cameras = ", ".join(det.get("cameras", [])) or "?"
            silent.append(f"detector {name} (cameras {cameras}) SILENT for {ago(quiet)} without stopping "
                          f"(check that it runs and reaches the uploader: quickcam status on its machine)")
    return silent


def failing_destinations(live: dict[str, Any], now: float) -> list[str]:
    """One phrase per destination of the running uploader failing for longer than its ``failing_after_s``.

    ``failing_for_s`` is as of the uploader's last write, so the file's age is added.
    """
    if not liveness(live, now)[0]:
        return []
    failing = []
    for row in live.get("failing_destinations", []):
        for_s, limit = float(row.get("failing_for_s", 0)) + max(0.0, age_s(live, now)), row.get("failing_after_s")
        if isinstance(limit, (int, float)) and for_s > limit:
            error = cause_first(str(row.get("error")), FAILING_ERROR_WIDTH)
            failing.append(f"destination {row.get('destination', '?')} FAILING for {ago(for_s)} ({error}; "
                           "the footage waits in the spool: see quickcam status and the uploader's log)")
    return failing


def stuck_footage(live: dict[str, Any], now: float) -> list[str]:
    """Footage the running uploader holds back from storage until a person acts, one phrase per cause.

    Refused for longer than its ``refusing.after_s`` (``uploader.refusing_after_s``) for lack of room (its
    spool full, its disk low), footage waits on the camera machine, which the intruder can take; a short
    pause is flow control. Uploads failed for good (``failed_for_good``: refused by the destination, e.g.
    EACCES) wait in the spool for ``quickcam retry``, however long the destination has worked since.
    ``refusing.for_s`` is as of the uploader's last write, so the file's age is added.
    """
    if not liveness(live, now)[0]:
        return []
    stuck = []
    refusing = live.get("refusing")
    if refusing:
        for_s = float(refusing["for_s"]) + max(0.0, age_s(live, now))
        if for_s > float(refusing["after_s"]):
            stuck.append(f"uploader REFUSING footage for {ago(for_s)} ({refusing.get('reason')}; it waits on the "
                         f"camera machine: {refusing.get('fix') or 'free space there'}, see quickcam status)")
    for row in live.get("failed_for_good", []):
        if row["failed"]:
            error = cause_first(str(row.get("error")), FAILING_ERROR_WIDTH)
            stuck.append(f"{row['failed']} upload(s) to {row.get('destination', '?')} FAILED for good ({error}; they "
                         "wait in the spool: fix the cause, then run quickcam retry)")
    return stuck


def check(role: str, live: dict[str, Any], det: dict[str, Any], now: float,
          unwritten: Mapping[str, str] | None = None, folders: Mapping[str, Path] | None = None) -> tuple[bool, str]:
    """(healthy, the one line to print) for ``role`` from the uploader's and the detector's status files.

    ``unwritten``: the line of each process that runs here (it holds its folder's lock) but has written no
    status file (``quickcam status``'s ``unwritten_lines``: its disk full, or a folder it may not write in):
    said as the cause. Before, the check said only that no status file was fresh, or to start it.
    ``folders``: the folder each status file was read from (``liveness``).
    """
    folders = folders or {}
    docs = {"uploader": live, "detector": det}
    unwritten = unwritten or {}
    if role == "auto":
        expected = [name for name, doc in docs.items() if (doc and doc.get("running", True)) or name in unwritten]
    else:
        expected = ["uploader", "detector"] if role == "all" else [role]
    problems = []
    for name in expected:
        running, words = liveness(docs[name], now, folders.get(name))
        if not running:
            problems.append(unwritten[name] if not docs[name] and name in unwritten
                            else f"{name} {words}: {fix_for(name, docs[name], folders.get(name))}")
    if live.get("fault") and liveness(live, now)[0] and "uploader" in expected:
        problems.append(f"uploader: {live['fault']}")
    problems += blind_cameras(det, now) + unsent_footage(det, now) if "detector" in expected or role == "auto" else []
    if "uploader" in expected or role == "auto":
        problems += silent_detectors(live, now) + failing_destinations(live, now) + stuck_footage(live, now)
    alive = [name for name, doc in docs.items() if liveness(doc, now)[0]]
    if not alive and not problems:
        problems.append("no detector or uploader status file here is fresh (start them; check "
                        "recording.outbox_dir and uploader.state_dir)")
    if problems:
        return False, f"unhealthy: {'; '.join(problems)}"
    return True, f"healthy: {', '.join(alive)} running"
