"""``quickcam uploader`` and the commands that read its ledger."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from quickcam.common.cause_first import cause_first
from quickcam.common.config import Config, load_config, stray_env_variables
from quickcam.common.folder_lock import holder_pid
from quickcam.common.health import ROLES, age_s, ago, check, liveness, unsent_footage
from quickcam.common.logs import setup_logging
from quickcam.common.open_files import ensure_open_files
from quickcam.common.private import make_private
from quickcam.common.protocol import NACK_CODES
from quickcam.common.status_shape import alerts_problem, detector_problem, uploader_problem
from quickcam.common.stop_signals import exit_now


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
def uploader(config_path: Path | None, seconds: float | None) -> None:
    """Receive footage from detectors, encrypt it, upload it."""
    from quickcam.uploader.app import run_uploader

    make_private()  # spool, ledger, logs and status: this user's only
    config = load_config(config_path)
    log_file = setup_logging("uploader", config.logging.file, config.logging.level)
    ensure_open_files("uploader")
    for stray in stray_env_variables():
        logging.getLogger("quickcam.uploader.app").warning("config: %s", stray)
    exit_now(run_uploader(config, log_file, seconds))  # bounded: no interpreter teardown after the stop


def _ledger_path(config_path: Path | None) -> Path:
    config = load_config(config_path)
    path = config.uploader.state_dir / "ledger.sqlite3"
    if not path.is_file():
        raise click.ClickException(f"no ledger at {path}; has the uploader run here? (check uploader.state_dir)")
    return path


# -- quickcam status ---------------------------------------------------------------
# Both sides write a status file: the uploader state/status.json (status_file.py),
# the detector <outbox>/detector-status.json (detector/status_file.py, same name
# there). Read as files, so this command imports nothing from the detector.
DETECTOR_STATUS_FILE = "detector-status.json"
UPLOADER_STATUS_FILE = "status.json"
WAIT_POLL_S = 0.5


TORN_READ_RETRIES = 3  # reads of a status file caught mid-rewrite before it counts as damaged


def _read_json(path: Path, shape_problem: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """A status file, read again when caught half rewritten; its values checked (``shape_problem``).

    The processes replace their status files whole, except on a full or unwritable disk, where
    the detector rewrites its file in place (detector/status_file.py): a read at that moment sees
    part of the old text and part of the new. The next read, a moment later, sees it whole. A
    value of a kind no quickcam writes there (common/status_shape.py) is one line naming it.
    """
    for _ in range(TORN_READ_RETRIES + 1):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        except IsADirectoryError:  # before: "[Errno 21] Is a directory", and no word of the fix
            raise click.ClickException(f"cannot read {path}: a directory stands where the status file goes; "
                                       f"remove it (rmdir {path}): its process writes the file every few seconds"
                                       ) from None
        except NotADirectoryError:  # before: "[Errno 20] Not a directory", and no word of which
            above = next(p for p in path.parents if p.exists())
            raise click.ClickException(f"cannot read {path}: {above} is a file, not a folder; its process makes the "
                                       f"folder again while it runs (a file there is moved aside), or move it aside "
                                       f"(mv {above} {above}.old)") from None
        except OSError as exc:
            raise click.ClickException(f"cannot read {path}: {exc}") from None
        try:
            status = json.loads(raw)  # UTF-8 (JSON's encoding); a bad byte is a ValueError too
        except ValueError as exc:
            problem = exc
        else:
            if not isinstance(status, dict):
                problem = ValueError(f"JSON {type(status).__name__}, not a quickcam status (an object)")
            elif wrong := shape_problem(status):
                problem = ValueError(f"{wrong}; damaged, or written by another quickcam version: its process rewrites "
                                     "it every few seconds (if it stays so, restart that process)")
            else:
                return status
        time.sleep(0.05)
    raise click.ClickException(f"cannot read {path}: {problem}")


def _kib(n: float) -> str:
    return f"{n / 1024:.0f} KiB" if n < 10 * (1 << 20) else f"{n / (1 << 20):.0f} MiB"


def uploader_line(live: dict[str, Any], now: float, folder: Path | None = None) -> str:
    running, words = liveness(live, now, folder)
    if not live:
        return "uploader: not on this machine (no status file here)"
    connected = sum(1 for d in live.get("detectors", []) if d.get("status") and not d.get("silent"))
    endpoint = str(live.get("endpoint", ""))
    secure = "CURVE" if live.get("curve") else "private socket" if endpoint.startswith("ipc://") else "no CURVE"
    line = f"uploader: {words} on {live.get('endpoint', '?')} ({secure}); spool {_kib(live.get('spool_bytes', 0))}"
    if running:
        line += f"; {connected} detector(s) connected"
        if live.get("fault"):
            line += f"; FAULT: {live['fault']}"
    return line


def detector_line(det: dict[str, Any], now: float, folder: Path | None = None) -> str:
    running, words = liveness(det, now, folder)
    outbox = det.get("outbox", {})
    link = det.get("link", {})
    line = f"detector: {words}"
    if running:
        state = "connected" if link.get("connected") else "NOT CONNECTED"
        line += f"; link to {link.get('endpoint', '?')} {state}"
    line += f"; outbox {outbox.get('items', 0)} item(s), {_kib(outbox.get('bytes', 0))}"
    if outbox.get("refused"):
        line += f", {outbox['refused']} refused (kept in outbox/refused)"
    if outbox.get("deleted"):
        line += f", {outbox['deleted']} deleted from the outbox before they were sent (see the detector's log)"
    if outbox.get("over_budget"):
        line += f"; OVER BUDGET: {outbox['over_budget']}"
    if running and (unsent := unsent_footage(det, now)):
        line += f"; UNSENT: {unsent[0].removesuffix('; quickcam status')}"  # the health check's words
    if running and link.get("last_error"):
        line += _link_error(link, now)
    line += "".join(f"; {link[key]} {words}" for key, words in LINK_COUNTS if link.get(key))
    if link.get("too_large_now"):  # the count above is since start; these still wait (a native detector: not sent)
        line += f"; {link['too_large_now']} HELD NOW: over the uploader's size limit"
    if det.get("clock_ahead_s"):  # detector/clock.py
        line += (f"; CLOCK STEPPED BACK: footage times run {det['clock_ahead_s']:.0f} s ahead of the system clock "
                 "(see the detector's log)")
    if link.get("bad_status"):
        line += (f"; {link['bad_status']} status message(s) sent with camera figures fixed "
                 "(out of the protocol's range; see the detector's log)")
    low_power = det.get("low_power") or {}
    if running and low_power.get("detect_fps"):  # detector/console/governor.py
        line += f"; LOW POWER ({low_power.get('reason', '?')}): detection at most {low_power['detect_fps']:g} fps"
    console = det.get("console") or {}
    if running and console:
        cameras = (console.get("viewers") or {}).values()
        figures = [f"{sum(c.get('viewers', 0) for c in cameras)} viewer(s)"]
        if skipped := sum(c.get("skipped", 0) for c in cameras):
            figures.append(f"{skipped} frame(s) skipped for slow viewers")
        if console.get("failed_logins"):
            figures.append(f"{console['failed_logins']} failed login(s), {console.get('refused_logins', 0)} refused")
        line += f"; console on {console.get('listen', '?')} ({', '.join(figures)})"
    return line


def _link_error(link: dict[str, Any], now: float) -> str:
    """The link's last error: as current while it stands, as past (when, and when it cleared) once the link works."""
    cleared = link.get("error_cleared_at") or 0
    if not cleared:  # (a detector that does not say when, e.g. an older one: as it says)
        return f"; last error: {link['last_error']}"
    happened = link.get("last_error_at") or cleared
    return f"; last error {ago(now - happened)} ago, cleared {ago(now - cleared)} ago: {link['last_error']}"


def camera_line(camera_id: str, info: dict[str, Any], now: float, stale: bool = False) -> str:
    state = info.get("state", "?")
    dark = info.get("dark", state == "dark")
    when = " (at its last report)" if stale else ""
    fault = info.get("fault", "")
    if state == "degraded" and fault:
        state = fault  # e.g. "DISK FULL, recording snapshots only, 3 write(s) failed"
    elif state not in ("ok", "starting", "ended"):
        state = state.upper() + (f" ({fault})" if fault else "")  # FAILING, LOST, STALLED: never read as ok
    elif fault:  # e.g. a figure the link had to fix before sending it (detector/status_header.py)
        state += f" ({fault})"
    # a camera that delivers no frame now: its last rate and dark mode would read as live figures
    live = "" if info.get("state") in ("lost", "failing", "stalled") else (
        f" at {float(info.get('fps', 0)):.1f} fps, dark mode {'on' if dark else 'off'}")
    line = f"camera {camera_id}{when}: {state}{live}, {info.get('events', 0)} event(s)"
    last_ms = info.get("last_event_ms", 0)
    if last_ms:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last_ms / 1000))
        line += f", last event {when} ({ago(now - last_ms / 1000)} ago)"
    else:
        line += ", no event yet"
    if info.get("recorder"):
        line += f"; recording by {info['recorder']}"
    lost = [f"{info[key]} {words}" for key, words in CAMERA_COUNTS if info.get(key)]
    loop_errors = sum(loop.get("errors", 0) for loop in (info.get("loops") or {}).values() if isinstance(loop, dict))
    if loop_errors:
        lost.append(f"{loop_errors} loop error(s) (each logged; the loop restarted)")
    if lost:
        line += f"; since start: {', '.join(lost)}"
    return line


# A camera's failure counters (detector/pipeline/camera_pipeline.py, native camera.cpp): shown when not zero.
LINK_COUNTS = (  # the detector's link counters, as `quickcam status` says them (in this order)
        ("unreadable", "outbox item(s) the disk would not read (kept, skipped and tried again; the items behind "
         "them sent; check the disk)"),
        ("too_large", "outbox item(s) found over the uploader's size limit since start (each held until a credit "
         "took it: raise uploader.max_payload_mb)"),
        ("hello_refused", "hello(s) refused (see the last error and the detector's log for the fix)"),
        ("rejected", "message(s) rejected by the uploader, no outbox item's (see the detector's log)"),
        ("malformed", "malformed message(s) from the uploader ignored (see the detector's log)"),
        ("retransmits", "message(s) sent again (no ack in time)"))
CAMERA_COUNTS = (
        ("not_recorded", "frame(s) not recorded"),
        ("snapshots_replaced", "snapshot(s) dropped (the disk refused them; each event's first and newest kept)"),
        ("view_faults", "time(s) the camera could not see (covered, turned away or frozen)"),
        ("damaged_packets", "damaged packet(s) (detection blind until the next keyframe; recorded as they came)"),
        ("snapshots_failed", "snapshot(s) failed (JPEG encoding or writing them; each logged by the detector)"),
        ("slow_opens", "open(s) that took 5 s or more (or never returned: a disk, device or server not answering)"),
        ("write_failures", "write(s) the disk failed (each logged by the detector)"),
        ("dropped", "frame(s) detection skipped, behind (all recorded)"),
        ("reopens", "open or reopen attempt(s) that failed (each retried)"))


def relayed_lines(live: dict[str, Any], shown: set[str], now: float) -> list[str]:
    """What the uploader last heard from detectors whose cameras are not ``shown`` already."""
    lines = []
    for det in live.get("detectors", []):
        status = det.get("status") or {}
        if not status or set(status.get("cameras", {})) & shown:
            continue  # a bare hello (quickcam doctor), or the detector on this machine
        heard = "stopped cleanly" if det.get("stopped") else "SILENT" if det.get("silent") else "connected"
        lines.append(f"detector {det.get('detector') or '?'} (via the uploader): {heard}, last heard "
                     f"{ago(det.get('seen_s_ago', 0))} ago; outbox {status.get('outbox_depth', 0)} item(s)")
        for cam, info in sorted(status.get("cameras", {}).items()):
            lines.append(camera_line(cam, info, now))
    return lines


LAST_ERROR_WIDTH = 80  # a destination's last error in its status row: the cause first (common/cause_first.py)


def destination_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'destination':<14}{'pending':>8}{'failed':>8}{'uploaded':>10}{'retries':>8}{'oldest':>9}  last error"]
    for row in rows:
        oldest = ago(row["oldest_pending_s"]) if row["pending"] or row["failed"] else "-"
        lines.append(f"{row['destination']:<14}{row['pending']:>8}{row['failed']:>8}{row['uploaded']:>10}"
                     f"{row.get('failed_tries', 0):>8}"
                     f"{oldest:>9}  {cause_first(row['last_error'], LAST_ERROR_WIDTH)}".rstrip())
    return lines


def refused_line(counters: dict[str, Any]) -> str:
    """The messages the receiver refused for good since start (``nack_<code>`` with retry false), by code.

    A detector of someone else's making may ignore its nacks: without this line ``quickcam status`` looked
    clean while the uploader refused its footage. ``busy`` (retry true) is a pause, not a refusal.
    """
    codes = {key[len("nack_"):]: n for key, n in counters.items()
             if key.startswith("nack_") and isinstance(n, int) and n > 0 and not NACK_CODES.get(key[len("nack_"):])}
    if not codes:
        return ""
    by_code = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
    return (f"uploader: {sum(codes.values())} message(s) from detectors refused for good since start ({by_code}; "
            "each logged with its reason)")


# The uploader's failure counters (receiver.py, auth.py, ledger_locked.py) with a line of their own in
# status_report: shown when not zero.
UPLOADER_COUNTS = (
    ("internal_errors", "internal error(s) (a message answered nack internal)"),
    ("auth_denied", "connection(s) refused by CURVE authentication"),
    ("allow_list_reload_failed", "allow-list reload(s) failed (the old list kept)"),
    ("hello_cameras_not_allowed", "hello(s) naming camera(s) the key may not send for"),
    ("observer_errors", "alerts observer failure(s) (footage kept)"),
    ("ledger_locked", "time(s) the ledger was locked by another process"),
    ("detectors_silent", "time(s) a detector went silent (3 heartbeats missed)"),
    ("paused", "credit(s) refused in the current pause (spool full or ledger problem)"),
)
# Counters that count work done or normal events, not failures or drops: not shown. Each other counter the
# detectors and the uploader write is shown when not zero (tests/uploader/test_status_counters.py).
NOT_FAILURES = frozenset({
    "allow_list_reloads", "auth_allowed", "connections_closed", "detectors_stopped", "duplicates",  # uploader
    "segment", "snapshot", "event", "log",  # uploader: items stored
    "nack_busy", "nack_internal",  # a pause the detector waits out; an internal error is internal_errors
    "frames", "width", "height", "events", "last_event_ms", "faces", "items", "bytes", "acked", "in_flight",
    "dropped_recording",  # part of not_recorded
})


# Where neither process left a status file nor the uploader a ledger: they have not run here (not "elsewhere").
NO_UPLOADER_YET = ("uploader: no status yet: it has not run here; start it (`quickcam uploader`, or `docker compose "
                   "up -d`), or run `quickcam status` on the machine it runs on")
NO_DETECTOR_YET = ("detector: no status yet: it has not run here; start it (`quickcam detector`, or `docker compose "
                   "up -d`)")
# Said under them where the config's folders are relative: a status run from another folder than the processes'
# (`sudo -u quickcam quickcam status --config /etc/…` from one's home) found nothing and said "start it".
RELATIVE_FOLDERS = ("status: looked for them from {cwd}: the config's folders are relative, so they are found from the "
                    "folder a command starts in; run it in the folder the processes start in, or give the folders "
                    "absolutely (docs/deploy.md)")


def unwritten_lines(config: Config, live: dict[str, Any], det: dict[str, Any]) -> dict[str, str]:
    """A line for each process that runs here (it holds its folder's lock) but has written no status file.

    Started on a full disk, either process runs (the detector's full-disk ladder; the uploader on its
    ledger) but cannot make its status file: "no status yet: it has not run here" was wrong.
    """
    lines = {}
    for name, folder, doc, file in (("uploader", config.uploader.state_dir, live, UPLOADER_STATUS_FILE),
                                    ("detector", config.recording.outbox_dir, det, DETECTOR_STATUS_FILE)):
        if not doc and (pid := holder_pid(folder)):
            lines[name] = (f"{name}: RUNNING (pid {pid}) but it cannot write {folder / file}: its disk is full "
                           f"(df {folder}) or it may not write there; see its log")
    return lines


def status_report(live: dict[str, Any], det: dict[str, Any], rows: list[dict[str, Any]] | None | str,
                  ledger_path: Path, now: float, unwritten: dict[str, str] | None = None,
                  folders: dict[str, Path] | None = None) -> list[str]:
    """Every line of ``quickcam status``, from the two status files, the ledger summary (or why it could not be
    read) and ``unwritten_lines``; ``folders``: the folder each status file was read from (``liveness``)."""
    unwritten, folders = unwritten or {}, folders or {}
    never_ran = not live and not det and rows is None  # a fresh folder: no status file, no ledger
    lines = [unwritten.get("uploader")
             or (NO_UPLOADER_YET if never_ran else uploader_line(live, now, folders.get("uploader")))]
    lines += [f"uploader: {note}" for note in live.get("notes", [])]  # e.g. tokens.env changed: restart it
    failed_writes = live.get("counters", {}).get("status_write_failures")
    if failed_writes:  # common/status_writes.py: counted, each streak logged
        lines.append(f"uploader: {failed_writes} status write(s) failed (each streak logged by the uploader)")
    replies_lost = live.get("counters", {}).get("reply_lost")
    if replies_lost:  # receiver.py: an answer ZeroMQ would not take (the detector gone, or not reading)
        lines.append(f"uploader: {replies_lost} reply(ies) to a detector could not be sent (it had gone or was not "
                     "reading; a detector that is still there sends the message again)")
    failures = [f"{n} {words}" for key, words in UPLOADER_COUNTS if (n := live.get("counters", {}).get(key))]
    if failures:
        lines.append(f"uploader: since start: {', '.join(failures)} (each logged by the uploader)")
    refused = refused_line(live.get("counters", {}))
    if refused:
        lines.append(refused)
    if det:
        lines.append(detector_line(det, now, folders.get("detector")))
        if det.get("status_write_failures"):  # the same, by either detector
            lines.append(f"detector: {det['status_write_failures']} status write(s) failed (each streak logged by "
                         "the detector)")
        stale = not liveness(det, now)[0]
        lines += [camera_line(cam, info, now, stale) for cam, info in sorted(det.get("cameras", {}).items())]
    relayed = relayed_lines(live, set(det.get("cameras", {})), now)
    lines += relayed
    if not det and "detector" in unwritten:
        lines.append(unwritten["detector"])
    elif not det and not relayed:
        lines.append(NO_DETECTOR_YET if never_ran else "detector: not on this machine, and none is connected to the "
                     "uploader")
    if rows is None:
        lines.append(f"destinations: no ledger at {ledger_path} (the uploader keeps it; run status on its machine)")
    elif isinstance(rows, str):
        lines.append(f"destinations: NOT SHOWN: {rows}")
    else:
        lines += destination_lines(rows)
    return lines


ALERTS_STATUS_FILE = "alerts-status.json"  # written by uploader/alerts/service.py


def _alert_rows(state_dir: Path) -> list[dict[str, Any]] | None | str:
    """The alert targets' rows; None without an alerts store; why they are not shown (a lock: within a second)."""
    from quickcam.uploader.alerts.queue import ALERTS_DB
    from quickcam.uploader.alerts.status_reader import read_alert_rows

    if not (state_dir / ALERTS_DB).is_file():
        return None
    return read_alert_rows(state_dir / ALERTS_DB)


def alert_lines(state_dir: Path, now: float) -> list[str]:
    """Alert targets: delivered / waiting / failed, the last undelivered alert and why; MQTT; held back."""
    service = _read_json(state_dir / ALERTS_STATUS_FILE, alerts_problem)
    rows = _alert_rows(state_dir) or []
    if not service and not rows:
        return []
    lines = [f"alerts: {problem}" for problem in service.get("problems", [])]
    if isinstance(rows, str):
        lines.append(f"alert targets: NOT SHOWN: {rows}")
        rows = []
    if service.get("interval_s") and service.get("running", True) and not liveness(service, now)[0]:
        lines.append(f"alerts: STATUS NOT WRITTEN for {ago(age_s(service, now))} (the uploader is not running, or "
                     f"cannot write {state_dir / ALERTS_STATUS_FILE}: see its log)")
    for row in rows:
        line = f"alert target {row['target']}: {row['sent']} sent, {row['pending']} waiting, {row['failed']} failed"
        if row["undelivered"]:
            line += (f"; UNDELIVERED: {row['undelivered']} since {ago(now - row['undelivered_since'])} ago"
                     f" ({row['last_error'][:120] or 'not tried yet'})")
        lines.append(line)
    mqtt = service.get("mqtt")
    if mqtt:
        state = "connected" if mqtt.get("connected") else f"NOT CONNECTED ({mqtt.get('last_error') or 'connecting'})"
        if mqtt.get("alerts_missed"):  # uploader/alerts/mqtt_sink.py: not replayed (MQTT carries state)
            state += f"; {mqtt['alerts_missed']} alert(s) not published while it was not connected"
        lines.append(f"mqtt {mqtt.get('broker', '?')}: {state}")
    counters = service.get("counters", {})
    if counters.get("status_write_failures"):
        lines.append(f"alerts: {counters['status_write_failures']} status write(s) failed (each streak logged by "
                     "the uploader)")
    if counters.get("internal_errors"):
        lines.append(f"alerts: {counters['internal_errors']} internal error(s), each logged; alerting restarted")
    held = {k: v for k, v in counters.items()
            if k.startswith("held_") or k in ("observations_dropped", "pictures_dropped")}
    if held:
        words = ", ".join(f"{k.removeprefix('held_')} {v}" for k, v in sorted(held.items()))
        lines.append(f"alerts held back: {words}")
    return lines


def _ledger_rows(ledger_path: Path) -> list[dict[str, Any]] | None | str:
    """The destinations' rows; None without a ledger; why it cannot be read now (a lock: within a second)."""
    from quickcam.uploader.ledger_reader import LedgerUnreadable, read_summary

    if not ledger_path.is_file():
        return None
    try:
        return read_summary(ledger_path)
    except LedgerUnreadable as exc:
        return str(exc)


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--wait", is_flag=True, help="Wait, with a progress bar, until the upload backlog is empty.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="With --wait: give up after this many seconds.")
@click.option("--healthcheck", "role", type=click.Choice(ROLES), is_flag=False, flag_value="auto", default=None,
              help="Exit 0 if this machine's quickcam processes run and none of their cameras or detectors "
                   "has been failing for long (container health checks); the value says which process must "
                   "run here (auto: each that left a status file here). Rule: docs/deploy.md, Health checks.")
def status(config_path: Path | None, as_json: bool, wait: bool, timeout_s: float | None, role: str | None) -> None:
    """Show both sides: cameras, outbox, link, spool and the upload backlog per destination."""
    _status(load_config(config_path), as_json, wait, timeout_s, role)


def _status(config: Config, as_json: bool, wait: bool, timeout_s: float | None, role: str | None) -> None:
    live = _read_json(config.uploader.state_dir / UPLOADER_STATUS_FILE, uploader_problem)
    det = _read_json(config.recording.outbox_dir / DETECTOR_STATUS_FILE, detector_problem)
    folders = {"uploader": config.uploader.state_dir, "detector": config.recording.outbox_dir}  # each holds its lock
    now = time.time()
    if role is not None:
        healthy, line = check(role, live, det, now, unwritten_lines(config, live, det), folders)
        if not healthy:
            raise click.ClickException(line)
        click.echo(line)
        return
    ledger_path = config.uploader.state_dir / "ledger.sqlite3"
    if wait:
        raise SystemExit(_wait_for_backlog(ledger_path, config.uploader.state_dir / UPLOADER_STATUS_FILE, timeout_s))
    rows = _ledger_rows(ledger_path)
    if as_json:
        unread = {"ledger_problem": rows} if isinstance(rows, str) else {}
        targets = _alert_rows(config.uploader.state_dir)
        alerts_unread = {"targets_problem": targets} if isinstance(targets, str) else {}
        click.echo(json.dumps({"uploader": live, "detector": det, "destinations": None if unread else rows, **unread,
                               "alerts": {"service": _read_json(config.uploader.state_dir / ALERTS_STATUS_FILE,
                                                                alerts_problem),
                                          "targets": None if alerts_unread else targets, **alerts_unread}},
                              indent=2))
        return
    for line in status_report(live, det, rows, ledger_path, now, unwritten_lines(config, live, det), folders):
        click.echo(line)
    if not live and not det and rows is None and not config.uploader.state_dir.is_absolute():
        click.echo(RELATIVE_FOLDERS.format(cwd=Path.cwd()))
    for line in alert_lines(config.uploader.state_dir, now):
        click.echo(line)


def _wait_for_backlog(ledger_path: Path, live_path: Path, timeout_s: float | None) -> int:
    """Show a progress bar while the uploader drains its backlog; 0 once nothing is pending and nothing failed."""
    from quickcam.uploader.ledger_reader import LedgerUnreadable, read_summary

    if not ledger_path.is_file():
        raise click.ClickException(f"no ledger at {ledger_path}; run this on the uploader's machine")
    deadline = time.monotonic() + timeout_s if timeout_s else None
    try:
        def totals() -> tuple[int, int]:
            rows = read_summary(ledger_path)
            return sum(r["pending"] for r in rows), sum(r["uploaded"] + r["failed"] for r in rows)

        pending, done_at_start = totals()
        with click.progressbar(length=max(pending, 1), label="uploading backlog", show_pos=True,
                               show_eta=True) as bar:
            while pending:
                if not liveness(_read_json(live_path, uploader_problem), time.time())[0]:
                    click.echo("")
                    click.echo(f"the uploader is not running here; {pending} upload(s) wait for it to start", err=True)
                    return 1
                if deadline and time.monotonic() > deadline:
                    click.echo("")
                    click.echo(f"still {pending} upload(s) pending after {timeout_s:g} s", err=True)
                    return 1
                time.sleep(WAIT_POLL_S)
                pending, done = totals()
                finished = done - done_at_start
                bar.length = max(bar.length or 0, finished + pending)  # new footage makes the bar longer
                bar.update(finished - bar.pos)
        failed = sum(r["failed"] for r in read_summary(ledger_path))
    except LedgerUnreadable as exc:  # a lock that keeps readers out: said within a second, not SQLite's 30 s
        click.echo("")
        click.echo(str(exc), err=True)
        return 1
    if failed:
        click.echo(f"backlog empty, but {failed} upload(s) failed for good; fix the cause (quickcam status) "
                   "and run quickcam retry", err=True)
        return 1
    click.echo("backlog empty: everything received has been uploaded")
    return 0


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
def retry(config_path: Path | None) -> None:
    """Queue permanently failed uploads again (after fixing what failed)."""
    from quickcam.uploader.ledger import LOCKED_SAY_AFTER_S, Ledger
    from quickcam.uploader.ledger_reader import READ_WAIT_S

    # A lock that keeps readers out: one line naming its holder within about a second (it was SQLite's 30 s, then
    # "… start the uploader again", which is not the fix here)
    ledger = Ledger(_ledger_path(config_path), open_wait_s=READ_WAIT_S, then="run quickcam retry again")
    try:
        count = ledger.retry_failed(LOCKED_SAY_AFTER_S)  # the uploader's own writes are short: a few s is plenty
    finally:
        ledger.close()
    click.echo(f"{count} failed upload(s) queued again; a running uploader picks them up within a second")
