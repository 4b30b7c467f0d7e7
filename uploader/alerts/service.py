"""The alerts shell: threads around the rules, the durable queue and the sinks.

The receiver calls ``observe`` for every hello, status and stored item; it
only puts the observation in a bounded in-memory queue, so an alert never
delays or blocks footage (a full queue drops the observation, counted and
logged). One thread feeds the rules and queues their alerts in the ledger's
``alerts`` table; one thread per Apprise target delivers them with backoff, so
a slow service delays only itself. MQTT state is published from the rules
thread (paho has its own network thread).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from quickcam.common import durable
from quickcam.common.config import Config
from quickcam.common.health import written_stamp
from quickcam.common.status_writes import note_status_write
from quickcam.uploader.alerts.apprise_sink import AppriseTarget, DeliveryError, TargetConfigError
from quickcam.uploader.alerts.model import Alert, Hello, Observation, Status, Stored, Tick
from quickcam.uploader.alerts.pictures import PictureStore
from quickcam.uploader.alerts.queue import ALERTS_DB, AlertQueue, backoff
from quickcam.uploader.alerts.rules import DEFAULT_HEARTBEAT_S, AlertRules, RuleSettings
from quickcam.uploader.ledger import Ledger

log = logging.getLogger(__name__)

INBOX_MAX = 1000
TICK_S = 0.25  # silence is noticed within this of silent_after_s
STORAGE_EVERY_S = 5.0  # the ledger summary (storage_failing, backlog) is read this often, or when one falls due
CLOCK_STEP_S = 1.0  # the wall clock moving this much more or less than the monotonic one is a step
GIVE_UP_MIN_ATTEMPTS = 5  # an undelivered alert is given up only after this many attempts, however old
STATUS_FILE = "alerts-status.json"
STATUS_EVERY_S = 1.0  # alerts-status.json is written this often (quickcam status: stale after a few of these)


def rule_settings(config: Config) -> RuleSettings:
    a = config.alerts
    return RuleSettings(cooldown_s=a.cooldown_s, quiet_hours=a.quiet_hours, quiet_alerts=tuple(a.quiet_alerts),
                        silent_after_s=a.silent_after_s, storage_failing_after_s=a.storage_failing_after_s,
                        backlog_after_s=a.backlog_after_s)


def load_targets(config: Config, secrets: dict[str, str]) -> tuple[list[AppriseTarget], list[str]]:
    """The usable targets, and one line per target that is not (it is left out; footage goes on)."""
    targets, problems = [], []
    for target in config.alerts.targets:
        try:
            targets.append(AppriseTarget.load(target, secrets, config.alerts.timeout_s))
        except TargetConfigError as exc:
            problems.append(str(exc))
    return targets, problems


class AlertService:
    def __init__(self, config: Config, secrets: dict[str, str], ledger_path: Path) -> None:
        from quickcam.uploader.alerts.mqtt_sink import MqttSink

        self.config = config
        self.ledger_path = ledger_path
        self.alerts_path = ledger_path.with_name(ALERTS_DB)
        self.status_path = config.uploader.state_dir / STATUS_FILE
        self.rules = AlertRules(rule_settings(config))
        self.inbox: queue.Queue[Observation] = queue.Queue(maxsize=INBOX_MAX)
        self.targets, self.problems = load_targets(config, secrets)
        self.mqtt = MqttSink(config.mqtt, secrets) if config.mqtt.host else None
        self.counters: Counter[str] = Counter()
        self.pictures = PictureStore(config.uploader.state_dir)  # for targets that attach them, until delivered
        self.attaching = [t.name for t in self.targets if t.config.attach_snapshot]
        self.wake = {t.name: threading.Event() for t in self.targets}
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._status_failing = False  # the last write of alerts-status.json failed (said once a streak)

    # -- the receiver's side: never blocks --------------------------------------
    def observe(self, kind: str, header: dict[str, Any], payload: bytes | None = None) -> None:
        now = time.time()
        if kind == "hello":
            obs: Observation = Hello(tuple(header.get("cameras", ())),
                                     header.get("heartbeat_ms", DEFAULT_HEARTBEAT_S * 1000) / 1000, now)
        elif kind == "status":
            obs = Status(header, now)
        elif kind == "stored":
            obs = Stored(header, payload, now)
        else:
            return
        try:
            self.inbox.put_nowait(obs)
        except queue.Full:
            self.counters["observations_dropped"] += 1
            if self.counters["observations_dropped"] % 100 == 1:
                log.warning("alerts: falling behind; %d observation(s) dropped so far (footage is not affected)",
                            self.counters["observations_dropped"])

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        for problem in self.problems:
            log.error("%s; this target is left out, footage is not affected", problem)
        names = ", ".join(t.name for t in self.targets) or "none"
        log.info("alerts: Apprise targets %s; MQTT %s", names,
                 f"{self.config.mqtt.host}:{self.config.mqtt.port}" if self.mqtt else "off")
        try:
            alerts_db = AlertQueue(self.alerts_path)  # create the file once, before several threads open it
            try:
                self.pictures.keep_only(alerts_db.waiting_keys(self.attaching))  # delivered while we were down
            finally:
                alerts_db.close()
        except (sqlite3.Error, OSError) as exc:
            self.problems.append(f"alerts: cannot open {self.alerts_path} ({exc}); alerts are off until it is "
                                 "fixed (move the file away to start a new one)")
            log.error("%s; footage is not affected", self.problems[-1])
            self._write_status(running=False)
            return
        self.threads = [threading.Thread(target=self._rules_thread, name="alerts", daemon=True)]
        self.threads += [threading.Thread(target=self._supervised, args=(t.name, self._deliver_loop, t),
                                          name=f"alert-{t.name}", daemon=True) for t in self.targets]
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        for event in self.wake.values():
            event.set()
        for thread in self.threads:
            thread.join(timeout)
        if self.mqtt:
            self.mqtt.stop()
        self._write_status(running=False)

    def _supervised(self, what: str, loop: Any, *args: Any) -> None:
        """Run ``loop`` until stopped; an internal error restarts it after a second, loudly."""
        while not self.stop_event.is_set():
            try:
                loop(*args)
            except Exception:  # a bug here must be loud, and must never touch footage
                self.counters["internal_errors"] += 1
                log.exception("alerts: internal error in the %s thread; restarting it in 1 s (footage is not "
                              "affected)", what)
                self.stop_event.wait(1.0)

    # -- the rules thread --------------------------------------------------------
    def _rules_thread(self) -> None:
        if self.mqtt:
            self.mqtt.start()  # here, not in start(): an unreachable broker takes seconds to say so
        self._supervised("rules", self._rules_loop)

    def _rules_loop(self) -> None:
        alerts_db = AlertQueue(self.alerts_path)
        ledger = Ledger(self.ledger_path)
        last_tick = last_storage = last_status = float("-inf")
        clock = (time.time(), time.monotonic())
        try:
            while not self.stop_event.is_set():
                try:
                    obs: Observation | None = self.inbox.get(timeout=TICK_S)
                except queue.Empty:
                    obs = None
                clock = self._follow_clock_step(clock)  # before the observation, which is on the new clock
                if obs is not None:
                    self._handle(obs, alerts_db)
                now = time.monotonic()  # the schedule: a wall clock stepped back must not stop the ticks
                if now - last_tick >= TICK_S:
                    rows = None
                    if now - last_storage >= min(STORAGE_EVERY_S, self.rules.storage.due_in_s):
                        rows, last_storage = ledger.summary(), now
                    self._handle(Tick(time.time(), rows), alerts_db)
                    last_tick = now
                if now - last_status >= STATUS_EVERY_S:
                    self._write_status(alerts_db)
                    last_status = now
        finally:
            alerts_db.close()
            ledger.close()

    def _follow_clock_step(self, last: tuple[float, float]) -> tuple[float, float]:
        """If the wall clock stepped since ``last`` (wall, monotonic), move the rules' times with it; the new pair."""
        now = (time.time(), time.monotonic())
        step = (now[0] - last[0]) - (now[1] - last[1])
        if abs(step) > CLOCK_STEP_S:
            log.warning("alerts: the system clock stepped %s by %.0f s; silence, cooldowns and episodes are "
                        "measured across it as if it had not (check NTP)", "forward" if step > 0 else "back",
                        abs(step))
            self.rules.shift(step)
        return now

    def _handle(self, obs: Observation, alerts_db: AlertQueue) -> None:
        outcome = self.rules.feed(obs)
        for alert in outcome.alerts:
            self.counters[f"raised_{alert.name}"] += 1
            wanted = [t.name for t in self.targets if t.wants(alert.name)]
            picture = bool(alert.snapshot) and bool(set(wanted) & set(self.attaching))
            if picture:
                self.pictures.put(alert)  # before it is queued: a delivery thread may take it at once
            new = alerts_db.add(alert, wanted)
            if picture and not set(new) & set(self.attaching):
                self.pictures.discard(alert.key)  # delivered before (a restart that saw the item again)
            log.info("alert: %s%s: %s (to %s)", alert.name, " (urgent)" if alert.urgent else "", alert.title,
                     ", ".join(new) or ("nobody: already sent" if wanted else "no Apprise target"))
            for name in new:
                self.wake[name].set()
            if self.mqtt:
                self.mqtt.alert(alert)
        if self.mqtt:
            for camera in outcome.changed:
                self.mqtt.camera(self.rules.view(camera))

    # -- one thread per target --------------------------------------------------
    def _deliver_loop(self, target: AppriseTarget) -> None:
        a = self.config.alerts
        alerts_db = AlertQueue(self.alerts_path, max_retry_s=a.retry_max_s + 1.0)
        try:
            while not self.stop_event.is_set():
                self.wake[target.name].clear()
                for row in alerts_db.due(target.name):
                    if self.stop_event.is_set():
                        break
                    alert = self._picture_alert(row) if target.config.attach_snapshot else None
                    try:
                        target.send(row.title, row.body, row.name, row.urgent, alert)
                    except DeliveryError as exc:
                        self._failed(alerts_db, target.name, row, str(exc), a.retry_base_s, a.retry_max_s,
                                     a.give_up_after_s)
                        continue
                    except Exception as exc:  # an Apprise plugin bug costs one attempt, not the thread
                        log.exception("alert: %s to %s: internal error", row.name, target.name)
                        self._failed(alerts_db, target.name, row, target.redact(f"internal error: {exc}"),
                                     a.retry_base_s, a.retry_max_s, a.give_up_after_s)
                        continue
                    alerts_db.mark_sent(row.key, target.name)
                    self._release_picture(alerts_db, row.key)
                    self.counters["delivered"] += 1
                    log.info("alert: %s delivered to %s (%.2f s after it was raised, attempt %d)", row.name,
                             target.name, time.time() - row.created_at, row.attempts + 1)
                wait = alerts_db.next_due_in(target.name)
                self.wake[target.name].wait(min(wait if wait is not None else 5.0, 5.0))
        finally:
            alerts_db.close()

    def _failed(self, alerts_db: AlertQueue, target: str, row: Any, error: str, base_s: float, max_s: float,
                give_up_s: float) -> None:
        self.counters["delivery_failures"] += 1
        # Both: a wall clock stepped forward past give_up_s must not give up an alert at its first failure.
        if time.time() - row.created_at >= give_up_s and row.attempts + 1 >= GIVE_UP_MIN_ATTEMPTS:
            alerts_db.mark_failed(row.key, target, error)
            self._release_picture(alerts_db, row.key)
            log.error("alert: %s to %s given up after %d attempt(s): %s (see quickcam status)", row.name, target,
                      row.attempts + 1, error)
            return
        delay = backoff(row.attempts, base_s, max_s)
        alerts_db.mark_retry(row.key, target, error, delay)
        if self.stop_event.is_set():  # a send that outlived stop()'s wait: the stop cut it, not the target
            log.info("alert: %s to %s cut by the stop (%s); sent at the next start", row.name, target, error)
            return
        log.warning("alert: %s to %s failed (%s); retry in %.0f s", row.name, target, error, delay)

    def _picture_alert(self, row: Any) -> Alert | None:
        kept = self.pictures.get(row.key)
        if kept is None:
            return None
        jpeg, faces = kept
        return Alert(row.name, row.key, row.camera, row.title, row.body, row.created_at, row.urgent,
                     snapshot=jpeg, faces=faces)

    def _release_picture(self, alerts_db: AlertQueue, key: str) -> None:
        """Delete the kept picture once no attaching target still has to deliver it."""
        if not alerts_db.waiting_targets(key) & set(self.attaching):
            self.pictures.discard(key)

    # -- status -------------------------------------------------------------------
    def _write_status(self, alerts_db: AlertQueue | None = None, running: bool = True) -> None:
        """Write ``alerts-status.json`` (every second, and at stop); a failure is one warning a streak, and counted.

        ``quickcam status`` shows the count once a write gets through, and says when the file has not been
        written for a while (``interval_s``, as the other status files): until then it shows the last status.
        """
        status = {
            **written_stamp(), "interval_s": STATUS_EVERY_S, "running": running,
            "targets": [t.name for t in self.targets], "problems": self.problems,
            "mqtt": self.mqtt.status() if self.mqtt else None,
            "counters": {**self.counters, **self.rules.counters,
                         **({"pictures_dropped": self.pictures.evicted} if self.pictures.evicted else {})},
        }
        try:  # common/durable.py: atomic, 0600, in place when the disk is full, a directory in its way moved aside
            moved = durable.write_status(self.status_path, status)
        except OSError as exc:
            self._status_failing = note_status_write(log, "alerts", self.status_path, exc, self.counters,
                                                     self._status_failing,
                                                     "quickcam status shows the alerts as of the last write")
        else:
            self._status_failing = note_status_write(log, "alerts", self.status_path, None, self.counters,
                                                     self._status_failing, moved=moved)
