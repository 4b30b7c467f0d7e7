"""Alerts from the real processes: a detector on the demo scene, the uploader, a webhook on 127.0.0.1.

The demo (started 3 s into its script) walks someone through at 1-7 s of the run. The motion alert
must reach the webhook with the snapshot; then the detector is SIGKILLed in
the middle of that walk and the urgent ``detector_silent`` alert must follow
within silent_after_s + 2 s, with the last snapshot and the seconds of footage
already safe. Along the way: a malformed target URL is one line at start, and
no secret appears in the logs or in ``quickcam status``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.fakes.notify_server import NotifyServer
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until

SILENT_AFTER_S = 1.5
SECRET = "t0psecretAlertToken42"


@pytest.mark.slow
def test_detector_sigkill_mid_event_sends_urgent_silent_alert_with_snapshot(tmp_path: Path) -> None:
    receiver = NotifyServer().start()
    config = f"""
[alerts]
silent_after_s = {SILENT_AFTER_S}
cooldown_s = 0
[[alerts.targets]]
name = "hook"
url_env = "HOOK_URL"
attach_snapshot = true
[[alerts.targets]]
name = "broken"
url_env = "BROKEN_URL"
"""
    pipe = Pipeline(tmp_path, config=config,
                    secrets={"HOOK_URL": f"json://alerts:{SECRET}@127.0.0.1:{receiver.port}/hook",
                             "BROKEN_URL": f"nosuchscheme://{SECRET}/x"},
                    QUICKCAM_RECORDING__SEGMENT_S="1.0", **QUICK_DEMO)
    try:
        pipe.start("uploader")
        pipe.start("detector")
        motion = receiver.wait_for(lambda n: n.title == "Motion on cam0", timeout=40)
        assert motion.attachments.get("cam0-snapshot.jpg", b"").startswith(b"\xff\xd8")
        # Mid-walk (1-7 s): a segment of this event is stored, the event is still open. Polled, not a fixed 2 s.
        assert wait_until(lambda: any(row["type"] == "segment" and row["id"] in pipe.stored()
                                      for row in pipe.produced()), 20), pipe.output("uploader")[-2000:]
        pipe.kill("detector")
        killed = time.time()
        silent = receiver.wait_for(lambda n: "went silent" in n.title, timeout=SILENT_AFTER_S + 10)
        # The webhook has the alert before the uploader marks it sent: stopped first (a stop waits for its
        # deliveries), the status is exact instead of racing that mark.
        assert pipe.stop("uploader") == 0
        status = subprocess.run([QUICKCAM, "status", "--config", "quickcam.toml"], cwd=tmp_path, env=pipe.env,
                                capture_output=True, text=True, timeout=30)
    finally:
        pipe.close()
        receiver.stop()
    delay = silent.time - killed
    print(f"\ndetector SIGKILL -> urgent alert at the webhook: {delay:.2f} s (silent_after_s {SILENT_AFTER_S})")
    assert delay <= SILENT_AFTER_S + 2.0
    assert silent.title.startswith("URGENT") and silent.notify_type == "failure"
    assert "DURING AN EVENT" in silent.message and "s of footage of this event are stored safely" in silent.message
    assert silent.attachments.get("cam0-snapshot.jpg", b"").startswith(b"\xff\xd8")
    assert len([n for n in receiver.received if "went silent" in n.title]) == 1

    output = pipe.output("uploader")
    bad = [line for line in output.splitlines() if "alert target broken" in line]
    assert len(bad) == 1 and "BROKEN_URL is not a URL Apprise understands" in bad[0]
    assert "Traceback" not in output
    # Every alert the webhook got, counted once: the motion and the silence, and whatever else a loaded machine
    # raised on the way (one run here counted 4). The uploader was stopped first, so every delivery is marked.
    delivered = [n.title for n in receiver.received]
    assert f"alert target hook: {len(delivered)} sent, 0 waiting, 0 failed" in status.stdout, (status.stdout, delivered)
    logs = output + "".join(p.read_text(errors="replace") for p in tmp_path.glob("run*.log*"))
    for text in (logs, status.stdout, status.stderr, (tmp_path / "state" / "alerts-status.json").read_text()):
        assert SECRET not in text


@pytest.mark.slow
def test_alert_raised_while_its_target_is_down_survives_an_uploader_sigkill_and_arrives_once(tmp_path: Path) -> None:
    receiver = NotifyServer()  # not started yet: the target is down (its port is held meanwhile)
    port = receiver.port
    config = """
[alerts]
retry_base_s = 0.5
retry_max_s = 2.0
[[alerts.targets]]
name = "hook"
url_env = "HOOK_URL"
attach_snapshot = true
"""
    pipe = Pipeline(tmp_path, config=config, secrets={"HOOK_URL": f"json://127.0.0.1:{port}/hook"}, **QUICK_DEMO)
    try:
        pipe.start("uploader")
        pipe.start("detector")
        assert pipe.wait_for("uploader", "alert: motion to hook failed", timeout=40), pipe.output("uploader")
        pipe.kill("detector")  # no new events from here on
        pipe.kill("uploader")  # the alert is only in alerts.sqlite3 now
        receiver.start()
        pipe.start("uploader")
        motion = receiver.wait_for(lambda n: n.title == "Motion on cam0", timeout=20)
        time.sleep(3.0)  # room for a wrong second delivery
        assert pipe.stop("uploader") == 0
    finally:
        pipe.close()
        receiver.stop()
    assert [n.title for n in receiver.received].count("Motion on cam0") == 1
    # The picture was kept (0600) for the attaching target across the SIGKILL, and deleted once delivered.
    assert motion.attachments.get("cam0-snapshot.jpg", b"").startswith(b"\xff\xd8")
    assert not any((tmp_path / "state" / "alert-pictures").iterdir())
