"""The alert rules as a plain state machine: observations in, alerts out, no clock or socket."""

from __future__ import annotations

from typing import Any

from quickcam.uploader.alerts.model import Hello, Status, Stored, Tick
from quickcam.uploader.alerts.rules import AlertRules, RuleSettings, in_quiet_hours, parse_quiet_hours

T0 = 1_800_000_000.0
JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


def snapshot(cam: str, event: str, t: float, **extra: Any) -> Stored:
    return Stored({"type": "snapshot", "camera": cam, "event": event, "time_ms": int(t * 1000), **extra}, JPEG, t)


def segment(cam: str, event: str, t: float, seconds: float, final: bool = False) -> Stored:
    header = {"type": "segment", "camera": cam, "event": event, "time_ms": int(t * 1000),
              "start_ms": int((t - seconds) * 1000), "end_ms": int(t * 1000), "final": final}
    return Stored(header, None, t)


def names(rules: AlertRules, *observations: Any) -> list[str]:
    return [a.name for obs in observations for a in rules.feed(obs).alerts]


def test_first_snapshot_of_an_event_raises_motion_with_the_picture_and_face_count() -> None:
    rules = AlertRules(RuleSettings())
    out = rules.feed(snapshot("door", "ev1", T0, faces=[[10, 10, 40, 40]]))
    [alert] = out.alerts
    assert alert.name == "motion" and alert.camera == "door" and alert.snapshot == JPEG
    assert alert.faces == ((10, 10, 40, 40),) and alert.facts["faces"] == 1
    assert "face" in alert.body and rules.view("door").motion
    assert names(rules, snapshot("door", "ev1", T0 + 1)) == []  # same event: no second alert


def test_cooldown_holds_back_a_second_motion_alert_for_the_same_camera_only() -> None:
    rules = AlertRules(RuleSettings(cooldown_s=60))
    assert names(rules, snapshot("door", "ev1", T0)) == ["motion"]
    assert names(rules, snapshot("door", "ev2", T0 + 30)) == []
    assert names(rules, snapshot("yard", "ev3", T0 + 30)) == ["motion"]
    assert names(rules, snapshot("door", "ev4", T0 + 61)) == ["motion"]
    assert rules.counters["held_cooldown"] == 1


def test_quiet_hours_hold_back_motion_but_never_urgent_alerts() -> None:
    rules = AlertRules(RuleSettings(quiet_hours="22:00-07:00", silent_after_s=5), minute_of=lambda t: 23 * 60)
    assert names(rules, snapshot("door", "ev1", T0)) == []
    alerts = rules.feed(Tick(T0 + 6)).alerts
    assert [(a.name, a.urgent) for a in alerts] == [("detector_silent", True)]
    assert rules.counters["held_quiet_hours"] == 1


def test_quiet_hours_window_may_wrap_midnight() -> None:
    window = parse_quiet_hours("22:30-07:00")
    assert window == (1350, 420)
    assert in_quiet_hours(window, 23 * 60) and in_quiet_hours(window, 6 * 60)
    assert not in_quiet_hours(window, 12 * 60)
    assert in_quiet_hours(parse_quiet_hours("09:00-17:00"), 10 * 60)
    assert not in_quiet_hours(parse_quiet_hours(""), 10 * 60)


def test_detector_silent_during_an_event_is_urgent_with_snapshot_and_safe_seconds() -> None:
    rules = AlertRules(RuleSettings())
    rules.feed(Hello(("door",), 0.5, T0))
    rules.feed(snapshot("door", "ev1", T0 + 0.1))
    rules.feed(segment("door", "ev1", T0 + 2, 2.0))
    rules.feed(segment("door", "ev1", T0 + 4, 2.0))
    assert names(rules, Tick(T0 + 5.4)) == []  # 1.4 s quiet < 3 x 0.5 s
    [alert] = rules.feed(Tick(T0 + 5.6)).alerts
    assert alert.name == "detector_silent" and alert.urgent
    assert alert.snapshot == JPEG and alert.facts["footage_safe_s"] == 4.0 and alert.facts["event"] == "ev1"
    assert "4 s of footage" in alert.body
    assert rules.view("door").state == "silent" and rules.view("door").motion
    assert names(rules, Tick(T0 + 9)) == []  # once per silence
    back = rules.feed(Status({"cameras": {"door": {"state": "ok"}}}, T0 + 10)).alerts
    assert [a.name for a in back] == ["detector_back"]


def test_detector_silent_outside_an_event_is_not_urgent_and_has_no_picture() -> None:
    rules = AlertRules(RuleSettings(silent_after_s=2))
    rules.feed(snapshot("door", "ev1", T0))
    rules.feed(segment("door", "ev1", T0 + 1, 1.0, final=True))
    assert not rules.view("door").motion
    [alert] = rules.feed(Tick(T0 + 3.5)).alerts
    assert alert.name == "detector_silent" and not alert.urgent and alert.snapshot is None


def test_detector_faults_as_docs_protocol_defines_them_disk_full_failing_stalled() -> None:
    rules = AlertRules(RuleSettings())
    ok = {"state": "ok", "fps": 15.0}
    full = {"state": "degraded", "fault": "DISK FULL, recording snapshots only, 3 write(s) failed"}
    [alert] = rules.feed(Status({"cameras": {"door": full, "yard": ok}}, T0)).alerts
    assert (alert.name, alert.camera, alert.urgent) == ("disk_full", "door", True) and "3 write(s)" in alert.body
    assert names(rules, Status({"cameras": {"door": full}}, T0 + 1)) == []  # same episode
    assert names(rules, Status({"cameras": {"door": ok}}, T0 + 2), Status({"cameras": {"door": full}}, T0 + 3)) == [
        "disk_full"]
    unwritable = {"state": "degraded", "fault": "OUTBOX NOT WRITABLE, recording snapshots only, 1 write(s) failed"}
    [denied] = rules.feed(Status({"cameras": {"gate": unwritable}}, T0 + 3.5)).alerts  # chmod, EACCES: as urgent
    assert (denied.name, denied.urgent) == ("disk_full", True) and denied.title.startswith("Camera cannot write")
    failing = {"state": "failing", "fault": "detection loop failing (ValueError)"}
    [stopped] = rules.feed(Status({"cameras": {"yard": failing}}, T0 + 4)).alerts
    assert (stopped.name, stopped.urgent) == ("camera_stopped", True) and "detection loop failing" in stopped.body
    # a flapping camera: one stop, one back, no repeats until it has been ok for a minute
    flaps = [Status({"cameras": {"yard": ok if k % 2 else {"state": "stalled"}}}, T0 + 5 + k) for k in range(6)]
    assert names(rules, *flaps) == ["camera_back"]
    assert names(rules, Status({"cameras": {"yard": ok}}, T0 + 80), Status({"cameras": {"yard": failing}}, T0 + 81)) \
        == ["camera_stopped"]


def test_camera_lost_and_back_come_from_the_detector_status_once_each() -> None:
    rules = AlertRules(RuleSettings())
    ok = Status({"cameras": {"door": {"state": "ok", "fps": 15.0}}}, T0)
    lost = Status({"cameras": {"door": {"state": "lost"}}}, T0 + 1)
    assert names(rules, ok, lost, lost, ok, ok) == ["camera_lost", "camera_back"]


def test_disk_full_and_a_stopped_camera_loop_are_urgent_and_missing_fields_raise_nothing() -> None:
    rules = AlertRules(RuleSettings())
    assert names(rules, Status({"cameras": {"door": {}}, "outbox_depth": 0}, T0)) == []
    assert names(rules, Status({"cameras": "garbage"}, T0), Status({}, T0)) == []
    full = rules.feed(Status({"cameras": {"door": {"state": "ok"}}, "disk_full": True}, T0 + 1)).alerts
    assert [(a.name, a.urgent) for a in full] == [("disk_full", True)]
    assert names(rules, Status({"cameras": {}, "disk": {"full": True}}, T0 + 2)) == []  # same episode
    stopped = rules.feed(Status({"cameras": {"yard": {"state": "ok", "loop": "crashed",
                                                       "loop_error": "decoder died"}}}, T0 + 3)).alerts
    assert [(a.name, a.camera, a.urgent) for a in stopped] == [("camera_stopped", "yard", True)]
    assert "decoder died" in stopped[0].body


def test_storage_failing_and_backlog_come_from_the_ledger_summary_after_their_delay() -> None:
    rules = AlertRules(RuleSettings(storage_failing_after_s=60, backlog_after_s=120))
    failing = {"destination": "s3", "pending": 3, "failed": 0, "last_error": "503 Slow Down", "oldest_pending_s": 50}
    assert names(rules, Tick(T0, [failing])) == []
    assert names(rules, Tick(T0 + 59, [failing])) == []
    assert names(rules, Tick(T0 + 61, [failing])) == ["storage_failing"]
    assert names(rules, Tick(T0 + 200, [dict(failing, oldest_pending_s=121)])) == ["backlog"]
    assert names(rules, Tick(T0 + 300, [dict(failing, oldest_pending_s=300)])) == []
    healthy = {"destination": "s3", "pending": 0, "failed": 0, "last_error": "", "oldest_pending_s": 0}
    assert names(rules, Tick(T0 + 301, [healthy])) == []
    assert names(rules, Tick(T0 + 400, [failing]), Tick(T0 + 461, [failing])) == ["storage_failing"]


def test_storage_failing_counts_from_the_streak_the_ledger_kept_across_a_restart() -> None:
    # Rules made afresh (the uploader restarted) see a destination failing since T0 - 3000 (the shipper's streak,
    # Ledger.summary()'s failing_since): the alert is due at once, with the key it had before the restart (the
    # alert queue keeps one alert per key). Before, it counted again from the restart: 60 s more, another key.
    failing = {"destination": "s3", "pending": 3, "failed": 0, "last_error": "503 Slow Down", "oldest_pending_s": 50,
               "failing_since": T0 - 3000}
    out = AlertRules(RuleSettings(storage_failing_after_s=60, backlog_after_s=1e9)).feed(Tick(T0, [failing])).alerts
    assert [(a.name, a.key) for a in out] == [("storage_failing", f"storage_failing:s3:{int((T0 - 3000) * 1000)}")]
    assert "failing for 3000 s" in out[0].body


def test_an_old_item_resent_from_a_backlog_does_not_raise_motion() -> None:
    rules = AlertRules(RuleSettings())
    old = Stored({"type": "segment", "camera": "door", "event": "ev0", "time_ms": int((T0 - 3600) * 1000)}, None, T0)
    assert names(rules, old) == []


def test_without_a_hello_the_heartbeat_is_learnt_from_the_status_interval() -> None:
    """After an uploader restart a connected detector sends statuses but no new hello."""
    rules = AlertRules(RuleSettings())
    for k in range(4):
        assert names(rules, Status({"cameras": {"door": {"state": "ok"}}}, T0 + 5 * k), Tick(T0 + 5 * k + 4.9)) == []
    assert names(rules, Tick(T0 + 15 + 14.9)) == []  # 3 x the 5 s heartbeat it showed
    assert names(rules, Tick(T0 + 15 + 15.1)) == ["detector_silent"]


def test_a_wall_clock_step_is_not_silence_once_the_rules_are_shifted_by_it() -> None:
    # The service shifts the rules by each step it sees (AlertService._follow_clock_step). Before, a step
    # forward on the uploader's machine made every detector look silent for the step, then back.
    rules = AlertRules(RuleSettings())
    rules.feed(Hello(("door",), 0.5, T0))
    rules.feed(Status({"cameras": {"door": {"state": "ok"}}}, T0 + 0.5))
    rules.shift(7200.0)  # the clock stepped two hours forward just now
    assert names(rules, Tick(T0 + 7200.9)) == []  # 0.4 s after the last status, not two hours
    assert names(rules, Status({"cameras": {"door": {"state": "ok"}}}, T0 + 7201.0)) == []
    rules.shift(-3600.0)  # and an hour back: a detector that really stops is still noticed on time
    [alert] = rules.feed(Tick(T0 + 3600 + 2.6)).alerts
    assert alert.name == "detector_silent"


def test_a_camera_that_cannot_see_raises_one_urgent_view_blocked_per_episode_with_its_name_and_fault() -> None:
    rules = AlertRules(RuleSettings(quiet_hours="00:00-23:59", quiet_alerts=("motion", "view_blocked")),
                       minute_of=lambda t: 12 * 60)
    fault = "view blocked: the picture has no detail for 4 s (lens covered or sprayed, or no light at all: check)"
    blocked = {"state": "degraded", "view": "blocked", "fault": fault}
    assert names(rules, Status({"cameras": {"door": {"state": "ok", "view": "ok"}}}, T0)) == []
    [alert] = rules.feed(Status({"cameras": {"door": blocked}}, T0 + 1)).alerts
    assert alert.name == "view_blocked" and alert.urgent and alert.camera == "door"  # not held by quiet hours
    assert "door" in alert.title and fault in alert.body and alert.facts == {"view": "blocked", "fault": fault}
    assert alert.key == f"view_blocked:door:{int((T0 + 1) * 1000)}"
    assert names(rules, Status({"cameras": {"door": blocked}}, T0 + 2)) == []  # the same episode
    assert names(rules, Status({"cameras": {"door": {**blocked, "view": "moved"}}}, T0 + 3)) == []
    assert names(rules, Status({"cameras": {"door": {"state": "ok", "view": "ok"}}}, T0 + 4),
                 Status({"cameras": {"door": {"state": "degraded", "view": "frozen"}}}, T0 + 5)) == ["view_blocked"]


def test_a_detector_that_never_reports_the_view_raises_no_view_blocked() -> None:
    rules = AlertRules(RuleSettings())
    degraded = {"state": "degraded", "fault": "view blocked: said in words only", "fps": 15.0}
    assert names(rules, Status({"cameras": {"door": degraded}}, T0), Status({"cameras": {"door": {}}}, T0 + 1),
                 Status({"cameras": {"door": {"view": 3}}}, T0 + 2)) == []


def test_a_segment_stored_after_its_events_final_one_does_not_reopen_the_event() -> None:
    """docs/protocol.md: segments may arrive in any order (a retry after `nack busy`): seq 0 after the final."""
    rules = AlertRules(RuleSettings(silent_after_s=2))
    rules.feed(snapshot("door", "ev1", T0))
    rules.feed(segment("door", "ev1", T0 + 1, 0.5, final=True))  # seq 1, final
    rules.feed(segment("door", "ev1", T0 + 1.1, 0.5))  # seq 0, late
    assert not rules.view("door").motion  # P/C/motion stays OFF
    [alert] = rules.feed(Tick(T0 + 3.5)).alerts
    assert alert.name == "detector_silent" and not alert.urgent  # not "silent DURING AN EVENT"


def test_an_event_id_used_again_after_its_final_segment_opens_a_new_event() -> None:
    """Event ids need not be unique (docs/protocol.md): one reused later is a new event, not a late item."""
    rules = AlertRules(RuleSettings(cooldown_s=0))
    rules.feed(snapshot("door", "e1", T0))
    rules.feed(segment("door", "e1", T0 + 1, 0.5, final=True))
    assert not rules.view("door").motion
    [again] = rules.feed(snapshot("door", "e1", T0 + 30)).alerts  # a detector that numbers its events, restarted
    assert rules.view("door").motion
    assert again.name == "motion" and again.key == f"motion:door:e1:{int((T0 + 30) * 1000)}"  # not the first's key

