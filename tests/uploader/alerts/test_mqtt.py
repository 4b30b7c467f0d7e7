"""MQTT and Home Assistant discovery: golden payloads, then a real Mosquitto broker on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quickcam.common.config import Config
from quickcam.uploader.alerts import topics
from quickcam.uploader.alerts.model import Alert, CameraView
from quickcam.uploader.alerts.service import AlertService
from quickcam.uploader.cli import alert_lines
from tests.conftest import QUICKCAM, REPO, free_port
from tests.fakes.mosquitto import Mosquitto, Subscriber, unavailable_reason
from tests.fakes.notify_server import NotifyServer
from tests.uploader.alerts.test_delivery import jpeg, snapshot_header

VECTORS = REPO / "tests" / "vectors" / "alerts"


def golden_discovery() -> dict[str, bytes]:
    index = json.loads((VECTORS / "discovery-topics.json").read_text())
    return {topic: (VECTORS / name).read_bytes().rstrip(b"\n") for name, topic in index.items()}


def test_discovery_payloads_match_the_golden_files() -> None:
    built = {t: topics.encode(p) for t, p in topics.discovery("quickcam", "homeassistant", "door", True).items()}
    assert built == golden_discovery()
    without = topics.discovery("quickcam", "homeassistant", "door", False)
    assert not [t for t in without if "/image/" in t]


def test_status_and_alert_payloads_match_the_golden_files() -> None:
    view = CameraView("door", motion=True, state="ok", last_event_ms=1796422539000, backlog_s=12.34)
    assert topics.status_payload(view) == (VECTORS / "status-door.json").read_bytes().rstrip(b"\n")
    alert = Alert("detector_silent", "detector_silent:door:1796422539000", "door",
                  "URGENT: camera door went silent during motion",
                  "URGENT: the detector of camera door went silent DURING AN EVENT.", 1796422541.5, urgent=True,
                  facts={"event": "0190a4b1c2d3e8f00112233445", "footage_safe_s": 4.0,
                         "last_heard_ms": 1796422539000, "silent_s": 2.5})
    assert topics.alert_payload(alert) == (VECTORS / "alert-detector_silent.json").read_bytes().rstrip(b"\n")


def test_a_camera_id_with_dots_gets_a_valid_home_assistant_node_id() -> None:
    [topic, *_] = topics.discovery("quickcam", "homeassistant", "front.door", True)
    assert topic == "homeassistant/binary_sensor/quickcam_front_door/motion/config"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    broker = Mosquitto(tmp_path).start()
    yield broker
    broker.stop()


def mqtt_service(tmp_path: Path, port: int, **alerts: Any) -> AlertService:
    config = Config.model_validate({
        "uploader": {"state_dir": str(tmp_path / "state")},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "alerts": {"silent_after_s": 1.0, **alerts},
    })
    (tmp_path / "state").mkdir(exist_ok=True)
    return AlertService(config, {}, tmp_path / "state" / "ledger.sqlite3")


def test_broker_gets_discovery_motion_snapshot_status_and_availability(tmp_path: Path, broker: Mosquitto) -> None:
    sub = Subscriber(broker.port)
    service = mqtt_service(tmp_path, broker.port)
    service.start()
    picture = jpeg()
    try:
        assert sub.wait_for("quickcam/availability") == b"online"
        service.observe("hello", {"cameras": ["door"], "heartbeat_ms": 500})
        service.observe("stored", snapshot_header("door", "ev1"), picture)
        assert sub.wait_for("quickcam/door/motion", b"ON") == b"ON"
        assert sub.wait_for("quickcam/door/snapshot") == picture
        for topic, payload in golden_discovery().items():
            assert sub.wait_for(topic) == payload
        alert = json.loads(sub.wait_for("quickcam/door/alert"))
        assert alert["alert"] == "motion" and alert["camera"] == "door"
        final = {"type": "segment", "camera": "door", "event": "ev1", "time_ms": int(time.time() * 1000),
                 "start_ms": int(time.time() * 1000) - 2000, "end_ms": int(time.time() * 1000), "final": True}
        service.observe("stored", final, None)
        sub.wait_for("quickcam/door/motion", b"OFF")
        status = json.loads(sub.wait_for("quickcam/door/status"))
        assert status["last_event"]
        deadline = time.monotonic() + 10  # no heartbeat: silent after 1 s
        while json.loads(sub.last("quickcam/door/status") or b"{}").get("state") != "silent":
            assert time.monotonic() < deadline, "camera never shown silent"
            time.sleep(0.05)
    finally:
        service.stop()
    assert sub.wait_for("quickcam/availability", b"offline") == b"offline"
    sub.close()


def test_the_broker_publishes_offline_when_the_uploader_dies(tmp_path: Path, broker: Mosquitto) -> None:
    """The last-will: a SIGKILLed publisher is reported offline by the broker itself."""
    sub = Subscriber(broker.port)
    script = (
        "import time\n"
        "from quickcam.common.config import MqttConfig\n"
        "from quickcam.uploader.alerts.mqtt_sink import MqttSink\n"
        f"sink = MqttSink(MqttConfig(host='127.0.0.1', port={broker.port}, keepalive_s=5), {{}})\n"
        "sink.start()\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([str(Path(QUICKCAM).parent / "python"), "-c", script])
    try:
        assert sub.wait_for("quickcam/availability", b"online") == b"online"
        proc.kill()
        proc.wait(5)
        # Linux closes the socket of a killed process, so the broker sees it at once.
        assert sub.wait_for("quickcam/availability", b"offline", timeout=30) == b"offline"
    finally:
        proc.kill()
        sub.close()


def test_unreachable_broker_is_one_clear_line_and_apprise_alerts_still_go(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    receiver = NotifyServer().start()
    port = free_port()  # nothing listens here
    config = Config.model_validate({
        "uploader": {"state_dir": str(tmp_path / "state")},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "alerts": {"targets": [{"name": "hook", "url_env": "HOOK_URL"}]},
    })
    (tmp_path / "state").mkdir()
    secrets = {"HOOK_URL": receiver.json_url(), "MQTT_USERNAME": "cam", "MQTT_PASSWORD": "mqttSecret4711"}
    service = AlertService(config, secrets, tmp_path / "state" / "ledger.sqlite3")
    caplog.set_level(logging.DEBUG)
    service.start()
    try:
        service.observe("stored", snapshot_header("door", "ev1"), jpeg())
        receiver.wait_for(lambda n: n.title == "Motion on door", timeout=30)
    finally:
        service.stop()
        receiver.stop()
    lines = [r.getMessage() for r in caplog.records if "mqtt" in r.getMessage() and r.levelno >= logging.ERROR]
    assert len(lines) == 1 and f"cannot reach the broker at 127.0.0.1:{port}" in lines[0]
    assert "mqttSecret4711" not in "\n".join(r.getMessage() for r in caplog.records)
    assert "mqttSecret4711" not in (tmp_path / "state" / "alerts-status.json").read_text()
    # The motion alert did not reach MQTT (not replayed: MQTT carries state): counted, said, shown. It was not.
    missed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "mqtt: not connected" in
              r.getMessage()]
    assert missed == ["mqtt: not connected to the broker; alert motion is not published there, nor any until it "
                      "connects (the Apprise targets are the durable path; counted in quickcam status)"], missed
    assert json.loads((tmp_path / "state" / "alerts-status.json").read_text())["mqtt"]["alerts_missed"] == 1
    [shown] = [line for line in alert_lines(tmp_path / "state", time.time()) if line.startswith("mqtt ")]
    assert shown.endswith("; 1 alert(s) not published while it was not connected"), shown


def test_a_broker_that_starts_later_gets_the_current_state(tmp_path: Path) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    port = free_port()
    service = mqtt_service(tmp_path, port)
    service.start()
    broker = Mosquitto(tmp_path, port)
    try:
        service.observe("stored", snapshot_header("door", "ev1"), jpeg())
        time.sleep(1.0)  # observed while the broker is down
        broker.start()
        sub = Subscriber(broker.port)
        assert sub.wait_for("quickcam/availability", b"online", timeout=40) == b"online"  # paho retries <= 30 s
        assert sub.wait_for("quickcam/door/motion", b"ON") == b"ON"
        assert sub.wait_for("homeassistant/binary_sensor/quickcam_door/motion/config")
        sub.close()
    finally:
        service.stop()
        broker.stop()


def _alert_test(tmp_path: Path, toml: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "quickcam.toml").write_text(toml)
    (tmp_path / "tokens.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("QUICKCAM_")}
    return subprocess.run([QUICKCAM, "alert", "test", "--config", "quickcam.toml", *args], cwd=tmp_path,
                          env=clean, capture_output=True, text=True, timeout=60)


def test_alert_test_command_one_line_per_target_with_the_fix(tmp_path: Path, broker: Mosquitto) -> None:
    receiver = NotifyServer().start()
    dead = free_port()
    toml = (f"[mqtt]\nhost = \"127.0.0.1\"\nport = {broker.port}\n"
            "[[alerts.targets]]\nname = \"hook\"\nurl_env = \"HOOK_URL\"\n"
            "[[alerts.targets]]\nname = \"down\"\nurl_env = \"DOWN_URL\"\n"
            "[[alerts.targets]]\nname = \"bad\"\nurl_env = \"BAD_URL\"\n")
    env = {"HOOK_URL": receiver.json_url(), "DOWN_URL": f"json://127.0.0.1:{dead}/x?token=hushhush99",
           "BAD_URL": "bogus://hushhush99"}
    try:
        run = _alert_test(tmp_path, toml, env)
        only = _alert_test(tmp_path, toml, env, "--only", "hook")
    finally:
        receiver.stop()
    lines = run.stdout.splitlines()
    assert run.returncode == 1, run.stdout + run.stderr
    assert [line.split()[0:3] for line in lines] == [
        ["ok", "alert", "hook:"], ["FAIL", "alert", "down:"], ["FAIL", "alert", "bad:"], ["ok", "alert", "mqtt:"]]
    assert "fix:" in lines[1] and "BAD_URL is not a URL Apprise understands" in lines[2]
    assert "hushhush99" not in run.stdout + run.stderr
    assert only.returncode == 0 and len(only.stdout.splitlines()) == 1
    assert sum(1 for n in receiver.received if n.title == "quickcam test") == 2


def test_a_broker_host_with_a_line_break_is_said_on_one_bounded_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The host is the config's text: a line break in it (a TOML "\n"), and any length, went as they were into
    # the status's last_error and broker, and `quickcam status` printed the mqtt line over several lines.
    # Such a host is no name (idna refuses a label over 63 bytes): retried, paho's thread died of it, a traceback.
    import threading

    from quickcam.common.protocol_schema import ERROR_TEXT_MAX
    from quickcam.uploader.cli import alert_lines

    died: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(f"{args.thread.name}: {args.exc_value}"))

    host = "broker.lan\n" + "b" * 2000
    config = Config.model_validate({"uploader": {"state_dir": str(tmp_path / "state")},
                                    "mqtt": {"host": host, "port": free_port()}})
    (tmp_path / "state").mkdir()
    service = AlertService(config, {}, tmp_path / "state" / "ledger.sqlite3")
    service.start()
    service.stop()
    mqtt = json.loads((tmp_path / "state" / "alerts-status.json").read_text())["mqtt"]
    assert mqtt["last_error"].startswith("mqtt: cannot reach the broker at broker.lan bbbb"), mqtt
    for text in (mqtt["last_error"], mqtt["broker"]):
        assert "\n" not in text and len(text.encode()) <= ERROR_TEXT_MAX and text.endswith("\u2026"), text
    lines = alert_lines(tmp_path / "state", time.time())
    assert [line for line in lines if line.startswith("mqtt broker.lan bbbb")], lines
    assert all(len(line) < 1000 and not line.startswith("bbbb") for line in lines), lines
    assert not died, died
