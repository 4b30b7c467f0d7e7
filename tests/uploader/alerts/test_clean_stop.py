"""A detector stopped on purpose is reported as stopped (informational), never as silent (urgent)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from quickcam.uploader.alerts.model import Hello, Status, Tick
from quickcam.uploader.alerts.rules import AlertRules, RuleSettings
from tests.fakes.notify_server import NotifyServer
from tests.native_build import native_detector
from tests.pipeline import Pipeline

pytestmark = pytest.mark.realtime  # real processes stopped with SIGTERM; a silence is timed

T0 = 1_800_000_000.0


def test_silence_after_a_stopping_status_is_a_clean_stop_and_any_later_message_ends_it() -> None:
    rules = AlertRules(RuleSettings(silent_after_s=2))
    rules.feed(Hello(("door",), 0.5, T0))
    rules.feed(Status({"cameras": {"door": {"state": "ok"}}, "stopping": True}, T0 + 1))
    [stopped] = rules.feed(Tick(T0 + 3.5)).alerts
    assert stopped.name == "detector_stopped" and not stopped.urgent and stopped.snapshot is None
    assert rules.view("door").state == "stopped"
    [back] = rules.feed(Hello(("door",), 0.5, T0 + 20)).alerts
    assert back.name == "detector_back" and "stopped" in back.body
    rules.feed(Status({"cameras": {"door": {"state": "ok"}}}, T0 + 21))  # running again: no stopping
    [silent] = rules.feed(Tick(T0 + 24)).alerts
    assert silent.name == "detector_silent"


@pytest.mark.parametrize("native", [False, True], ids=["python", "native"])
def test_a_detector_stopped_with_sigterm_raises_detector_stopped_not_detector_silent(
        tmp_path: Path, native: bool) -> None:
    receiver = NotifyServer().start()
    config = """
[alerts]
silent_after_s = 1.0
[[alerts.targets]]
name = "hook"
url_env = "HOOK_URL"
"""
    pipe = Pipeline(tmp_path, config=config, secrets={"HOOK_URL": receiver.json_url()},
                    detector=[str(native_detector())] if native else None, QUICKCAM_LINK__HEARTBEAT_S="0.5")
    try:
        pipe.start("uploader")
        pipe.start("detector")
        assert pipe.wait_for("detector", "link: connected to uploader", timeout=40), pipe.output("detector")
        assert pipe.stop("detector") == 0
        stopped = receiver.wait_for(lambda n: "switched off" in n.title, timeout=20)
        # The receiver's own verdict comes at 3 heartbeats; a wrong detector_silent would have
        # been raised on the same tick as detector_stopped, so by now it would be here too.
        assert pipe.wait_for("uploader", "stopped cleanly (its last status said so)", timeout=30)
    finally:
        pipe.close()
        receiver.stop()
    assert stopped.notify_type == "info"
    # What was raised, not only what the webhook got by now (a delivery may lag on a loaded machine).
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "alerts.sqlite3")) as db:
        raised = {name for (name,) in db.execute("SELECT name FROM alerts")}
    assert "detector_stopped" in raised and "detector_silent" not in raised, raised
    assert not [n for n in receiver.received if "silent" in n.title.lower()]
    assert "link: told the uploader this detector is stopping" in pipe.output("detector")
