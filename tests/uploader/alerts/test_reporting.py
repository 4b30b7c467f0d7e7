"""Where a person sees alerts: ``quickcam doctor`` lines and ``quickcam status`` lines."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from quickcam.uploader.alerts.model import Alert
from quickcam.uploader.alerts.queue import AlertQueue
from quickcam.uploader.cli import alert_lines
from tests.conftest import QUICKCAM, free_port
from tests.fakes.notify_server import NotifyServer


def test_doctor_sends_a_test_alert_per_target_and_is_red_with_the_fix_for_bad_ones(tmp_path: Path) -> None:
    receiver = NotifyServer().start()
    broker_port = free_port()  # nothing listens
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n"
                                         f"HOOK_URL={receiver.json_url()}\nBAD_URL=bogus://hushhush77\n")
    (tmp_path / "tokens.env").chmod(0o600)
    (tmp_path / "quickcam.toml").write_text(
        f"[mqtt]\nhost = \"127.0.0.1\"\nport = {broker_port}\n"
        "[[alerts.targets]]\nname = \"hook\"\nurl_env = \"HOOK_URL\"\n"
        "[[alerts.targets]]\nname = \"bad\"\nurl_env = \"BAD_URL\"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_") and k != "ENCRYPTION_KEY"}
    try:
        run = subprocess.run([QUICKCAM, "doctor", "--config", "quickcam.toml", "--only", "uploader",
                              "--timeout", "8"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        receiver.stop()
    lines = {line[6:].split(":", 1)[0]: line for line in run.stdout.splitlines() if line[:6] in (" ok   ", "FAIL  ")}
    assert lines["alert hook"].startswith(" ok "), run.stdout
    assert lines["alert bad"].startswith("FAIL") and "BAD_URL" in lines["alert bad"] and "fix:" in lines["alert bad"]
    assert lines["alert mqtt"].startswith("FAIL") and f"127.0.0.1:{broker_port}" in lines["alert mqtt"]
    assert "hushhush77" not in run.stdout + run.stderr
    assert [n.title for n in receiver.received] == ["quickcam test"]


def test_status_shows_undelivered_alerts_with_their_error_and_mqtt_state(tmp_path: Path) -> None:
    db = AlertQueue(tmp_path / "alerts.sqlite3")
    now = time.time()
    silent = Alert("detector_silent", "detector_silent:door:1", "door", "URGENT", "body", now - 90, urgent=True)
    motion = Alert("motion", "motion:door:ev1", "door", "Motion on door", "body", now - 100)
    db.add(motion, ["phone", "mail"])
    db.add(silent, ["phone"])
    db.mark_sent(motion.key, "phone")
    db.mark_sent(motion.key, "mail")
    db.mark_retry(silent.key, "phone", "A Connection error occurred sending ntfy notification.", 30)
    db.close()
    (tmp_path / "alerts-status.json").write_text(json.dumps({
        "problems": ["alert target bad: BAD_URL is not a URL Apprise understands"],
        "mqtt": {"broker": "127.0.0.1:1883", "connected": False, "last_error": "mqtt: cannot reach the broker"},
        "counters": {"held_cooldown": 3, "delivered": 2}}))
    lines = alert_lines(tmp_path, now)
    assert lines == [
        "alerts: alert target bad: BAD_URL is not a URL Apprise understands",
        "alert target mail: 1 sent, 0 waiting, 0 failed",
        "alert target phone: 1 sent, 1 waiting, 0 failed; UNDELIVERED: detector_silent door since 90 s ago "
        "(A Connection error occurred sending ntfy notification.)",
        "mqtt 127.0.0.1:1883: NOT CONNECTED (mqtt: cannot reach the broker)",
        "alerts held back: cooldown 3",
    ]
    assert alert_lines(tmp_path / "nowhere", now) == []
