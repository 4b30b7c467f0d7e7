"""``quickcam status --healthcheck`` fails for a camera that stays blind, after a grace for reconnects."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common.health import HEALTH_GRACE_S
from tests.conftest import QUICKCAM, private_endpoint

pytestmark = pytest.mark.realtime  # a real detector whose camera state is judged against a grace period


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update({"QUICKCAM_LINK__ENDPOINT": private_endpoint(root), **extra})
    return env


def _healthcheck(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=30)


def test_a_camera_failing_past_the_grace_fails_the_healthcheck_with_its_name_and_fix(
    tmp_path: Path, detector_command: list[str] | None,
) -> None:
    env = _env(tmp_path, QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(tmp_path / "garage.mp4"))
    argv = [*(detector_command or [QUICKCAM, "detector"]), "--seconds", "60"]  # the Python or the native one
    detector = subprocess.Popen(argv, cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        path, live = tmp_path / "outbox" / "detector-status.json", {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and live.get("cameras", {}).get("cam0", {}).get("state") != "failing":
            time.sleep(0.2)
            try:
                live = json.loads(path.read_text())
            except (FileNotFoundError, ValueError):
                continue
        camera = live["cameras"]["cam0"]
        assert camera["state"] == "failing" and camera["not_ok_since"] <= live["time"], live
        assert live["interval_s"] > 0  # the health check's staleness is counted in these
        within_grace = _healthcheck(tmp_path, env)  # failing for a second or two: still within the grace
        assert within_grace.returncode == 0, within_grace.stderr
    finally:
        detector.terminate()
        detector.wait(timeout=60)
    later = tmp_path / "later"  # the same report, as if the camera had failed since before the grace
    camera["not_ok_since"] -= HEALTH_GRACE_S + 30
    if "not_ok_for_s" in camera:  # the Python detector's duration (monotonic), which the check prefers
        camera["not_ok_for_s"] += HEALTH_GRACE_S + 30
    (later / "outbox").mkdir(parents=True)
    (later / "outbox" / "detector-status.json").write_text(json.dumps({**live, "time": time.time()}))
    run = _healthcheck(later, env)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]  # one line
    assert "unhealthy: camera cam0 FAILING for " in run.stderr and "check [camera] path" in run.stderr, run.stderr


def test_a_camera_ok_again_loses_its_stamp_and_a_new_outage_starts_a_new_grace() -> None:
    from quickcam.detector.status_file import NotOkClock

    clock, cameras = NotOkClock(), {"cam0": {"state": "lost"}, "cam1": {"state": "ok"}}
    clock.stamp(cameras, 100.0)
    cameras["cam0"] = {"state": "lost"}
    clock.stamp(cameras, 110.0)
    assert cameras["cam0"]["not_ok_since"] == 100.0 and "not_ok_since" not in cameras["cam1"]
    cameras["cam0"] = {"state": "ok"}
    clock.stamp(cameras, 120.0)
    cameras["cam0"] = {"state": "stalled"}
    clock.stamp(cameras, 130.0)
    assert cameras["cam0"]["not_ok_since"] == 130.0
