"""The detector's health check fails while its footage waits with no uploader answering (bench/outside #23).

By design the uploader's check speaks for a detector that goes silent; nothing spoke when the uploader
itself was gone (its machine down, never started): the detector's check stayed green for any length of
time while the footage sat on the camera machine, which the intruder can take. Now footage waiting with
the link down for longer than ``[link] unsent_after_s`` fails it, and it is green again once the outbox
drains. Both detectors, the real uploader.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # footage judged against a bound in seconds
LIMIT_S = 6  # [link] unsent_after_s for the test: the first walk's snapshot is younger when first seen


def _health(pipe: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck", "detector"], cwd=pipe.root, env=pipe.env,
                          capture_output=True, text=True, timeout=30)


def _status(pipe: Pipeline) -> dict:
    try:
        return json.loads((pipe.root / "outbox" / "detector-status.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _waited_s(status: dict) -> float:
    """How long the footage has waited, as the check judges it (common/health.py's ``unsent_footage``)."""
    oldest, down = status.get("outbox", {}).get("oldest_s", 0.0), status.get("link", {}).get("down_for_s", 0.0)
    return min(oldest, down) + max(0.0, time.time() - status.get("time", time.time()))


def test_footage_waiting_with_no_uploader_fails_the_detectors_health_check_until_it_drains(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_LINK__UNSENT_AFTER_S=str(LIMIT_S),
                    QUICKCAM_UPLOADER__DESTINATIONS="local", **QUICK_DEMO)
    try:
        pipe.start("detector", "--seconds", "60")  # and no uploader
        assert wait_until(lambda: _status(pipe).get("outbox", {}).get("items", 0) > 0, 20), pipe.output("detector")
        early = _health(pipe)  # footage waits, but for less than the bound (an uploader's restart)
        status = _status(pipe)
        assert early.returncode == 0, (early.stderr, status)
        assert status["link"]["connected"] is False and status["link"]["unsent_after_s"] == LIMIT_S
        assert 0 <= status["outbox"]["oldest_s"] < LIMIT_S and status["link"]["down_for_s"] > 0, status
        # the status file first (each check is a process: ~1 s of CPU), then the check, once it should fail
        assert wait_until(lambda: _waited_s(_status(pipe)) > LIMIT_S, 20), _status(pipe)
        assert wait_until(lambda: _health(pipe).returncode == 1, 20, every=0.5), _status(pipe)
        late = _health(pipe)
        assert late.stderr.strip().splitlines() == [late.stderr.strip()], late.stderr  # one line
        assert "unhealthy: footage waits in outbox for " in late.stderr, late.stderr
        assert f"the uploader at {pipe.env['QUICKCAM_LINK__ENDPOINT']} does not answer" in late.stderr, late.stderr
        assert "start it or check the network" in late.stderr, late.stderr
        shown = subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                               timeout=30)
        assert "UNSENT: footage waits in outbox for " in shown.stdout, shown.stdout
        pipe.start_uploader_listening()
        assert pipe.wait_drained(timeout=30), pipe.output("detector")[-3000:]
        assert wait_until(lambda: _health(pipe).returncode == 0, 10, every=0.5), (_health(pipe).stderr, _status(pipe))
        assert _status(pipe)["outbox"]["oldest_s"] == 0 or _status(pipe)["link"]["down_for_s"] == 0
    finally:
        pipe.close()


def test_an_uploaders_restart_with_old_footage_waiting_keeps_the_check_green() -> None:
    from quickcam.common.health import check

    def detector(oldest_s: float, down_for_s: float, connected: bool = False) -> dict:
        return {"running": True, "interval_s": 2.0, "time": 1000.0, "cameras": {},
                "outbox": {"items": 40, "bytes": 1, "oldest_s": oldest_s},
                "link": {"endpoint": "tcp://nas:5555", "connected": connected, "down_for_s": down_for_s,
                         "unsent_after_s": 120.0}}

    now = 1001.0  # the file is 1 s old
    assert check("detector", {}, detector(oldest_s=900, down_for_s=10), now)[0]  # a backlog, the link down 11 s
    assert check("detector", {}, detector(oldest_s=900, down_for_s=0, connected=True), now)[0]  # draining
    assert check("detector", {}, detector(oldest_s=30, down_for_s=900), now)[0]  # new footage, an old outage
    healthy, line = check("detector", {}, detector(oldest_s=900, down_for_s=300), now)
    assert not healthy and line.startswith("unhealthy: footage waits in outbox for 5 min (40 item(s)): the "
                                           "uploader at tcp://nas:5555 does not answer (link down for 5 min)"), line
