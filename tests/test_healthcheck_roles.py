"""``quickcam status --healthcheck [auto|detector|uploader|all]``: a crashed or silent detector is never healthy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common.health import check
from tests.conftest import QUICKCAM, private_endpoint

pytestmark = pytest.mark.realtime  # real uploader and detectors, stopped and killed on the wall clock


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update({"QUICKCAM_LINK__ENDPOINT": private_endpoint(root), "QUICKCAM_LINK__HEARTBEAT_S": "0.5", **extra})
    return env


def _healthcheck(cwd: Path, env: dict[str, str], *role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck", *role], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=30)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _until(what: str, ready, deadline_s: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _heard(root: Path) -> dict[str, dict]:
    """The uploader's detector records by camera, as its status file has them."""
    return {",".join(d["cameras"]): d for d in _read(root / "state" / "status.json").get("detectors", [])
            if d.get("status")}


def test_a_crashed_detector_fails_the_healthcheck_and_one_stopped_cleanly_does_not(tmp_path: Path) -> None:
    from quickcam.common.cryptofile import SymmetricKey

    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (tmp_path / "tokens.env").chmod(0o600)
    (tmp_path / "porch").mkdir()
    env = _env(tmp_path)
    procs = {"uploader": subprocess.Popen([QUICKCAM, "uploader", "--seconds", "60"], cwd=tmp_path, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)}
    for name, cwd in (("garage", tmp_path), ("porch", tmp_path / "porch")):  # garage beside the uploader
        procs[name] = subprocess.Popen([QUICKCAM, "detector", "--seconds", "60"], cwd=cwd,
                                       env={**env, "QUICKCAM_CAMERA__ID": name},
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until("both detectors heard", lambda: {"garage", "porch"} <= set(_heard(tmp_path)))
        both = _healthcheck(tmp_path, env, "all")
        assert both.returncode == 0 and both.stdout.strip() == "healthy: uploader, detector running", both.stderr

        procs["porch"].terminate()  # a clean stop: it says so (protocol 1.1 "stopping")
        procs["porch"].wait(timeout=30)
        procs["garage"].send_signal(signal.SIGKILL)  # a crash: its status file stays, saying "running"
        procs["garage"].wait(timeout=10)
        _until("the uploader to notice", lambda: _heard(tmp_path)["garage"]["silent"]
               and _heard(tmp_path)["porch"]["silent"])
        path = tmp_path / "outbox" / "detector-status.json"
        left = _read(path)
        assert left["running"] is True
        aged = {**left, "time": left["time"] - 60, "monotonic": left["monotonic"] - 60}  # as if a minute had passed
        path.write_text(json.dumps(aged))
        crashed = _healthcheck(tmp_path, env)
        assert crashed.returncode == 1
        assert crashed.stderr.count("\n") == 1, crashed.stderr  # one line
        assert "unhealthy: detector NOT RUNNING (last seen 6" in crashed.stderr, crashed.stderr
        assert "s ago): start it (docker compose up -d detector" in crashed.stderr
        assert "(cameras garage) SILENT for " in crashed.stderr and "porch" not in crashed.stderr, crashed.stderr

        uploader_only = _healthcheck(tmp_path, env, "uploader")  # the uploader's container: knows garage
        assert uploader_only.returncode == 1 and "(cameras garage) SILENT" in uploader_only.stderr
        assert "detector NOT RUNNING" not in uploader_only.stderr

        procs["uploader"].terminate()  # a restarted uploader still knows the detector that went silent
        procs["uploader"].wait(timeout=30)
        procs["uploader"] = subprocess.Popen([QUICKCAM, "uploader", "--seconds", "60"], cwd=tmp_path, env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _until("the restarted uploader's status", lambda: _read(tmp_path / "state" / "status.json").get(
            "pid") == procs["uploader"].pid)
        restarted = _healthcheck(tmp_path, env, "uploader")
        assert restarted.returncode == 1 and "(cameras garage) SILENT" in restarted.stderr, restarted.stderr
        assert "porch" not in restarted.stderr and "porch" not in _heard(tmp_path)  # it had stopped cleanly

    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()  # nothing here needs a clean stop any more
                proc.wait(timeout=30)


def _fresh(now: float, **over: object) -> dict:
    return {"time": now - 1, "running": True, "interval_s": 2.0, "cameras": {}, **over}


def test_each_role_expects_its_own_process_and_the_compose_containers_see_only_theirs() -> None:
    now = 1_800_000_000.0
    uploader, detector = _fresh(now), _fresh(now, cameras={"cam0": {"state": "ok"}})
    assert check("uploader", uploader, {}, now) == (True, "healthy: uploader running")  # compose: uploader
    assert check("detector", {}, detector, now) == (True, "healthy: detector running")  # compose: detector
    assert check("all", uploader, {}, now) == (False, "unhealthy: detector not on this machine: start it "
                 "(docker compose up -d detector, systemctl start quickcam-detector) or see its log")
    assert check("uploader", {}, detector, now)[0] is False
    stale = _fresh(now, time=now - 11)  # 5 intervals of 2 s, and 10 s at least
    assert check("auto", uploader, stale, now)[1].startswith("unhealthy: detector NOT RUNNING (last seen 11 s ago)")
    assert check("auto", uploader, _fresh(now, time=now - 9), now)[0] is True
    older = {"time": now - 14, "running": True}  # written before interval_s: 15 s, as before
    assert check("auto", older, {}, now)[0] is True
    stopped = {**stale, "running": False}  # stopped cleanly: auto no longer expects it, the detector role does
    assert check("auto", uploader, stopped, now) == (True, "healthy: uploader running")
    assert check("detector", uploader, stopped, now)[1].startswith("unhealthy: detector stopped 11 s ago: start it")
    assert check("auto", {}, stopped, now)[1].startswith("unhealthy: no detector or uploader status file here")


def test_a_silent_detector_is_kept_until_its_cameras_are_heard_again() -> None:
    from quickcam.uploader.detectors import FORGET_AFTER_S, DetectorTable

    t0 = 1_800_000_000.0
    table = DetectorTable()
    hello = {"detector": "quickcam-detector", "detector_version": "1", "cameras": ["garage"], "heartbeat_ms": 1000}
    table.hello(b"a", hello, "", "", now=t0)
    table.hello(b"b", {**hello, "cameras": ["porch"]}, "", "", now=t0)
    table.records["cameras:porch"].stopping = True  # porch said it stops
    assert {r.key for r, _ in table.newly_silent(now=t0 + 5)} == {"cameras:garage", "cameras:porch"}
    table.newly_silent(now=t0 + FORGET_AFTER_S + 10)  # an hour on: only the clean stop is forgotten
    assert set(table.records) == {"cameras:garage"}
    status = [{**entry, "status": {"cameras": {}}} for entry in table.as_status(now=t0 + FORGET_AFTER_S + 10)]

    restarted = DetectorTable()  # the uploader restarted: its last status file seeds the table
    assert restarted.restore(status, written=t0 + FORGET_AFTER_S + 10, now=t0 + 2 * FORGET_AFTER_S) == 1
    assert restarted.records["cameras:garage"].silent
    restarted.hello(b"c", {**hello, "cameras": ["garage", "shed"]}, "", "", now=t0 + 2 * FORGET_AFTER_S)
    assert set(restarted.records) == {"cameras:garage,shed"}  # garage is heard again, from a new detector


def test_a_fault_the_uploader_reports_fails_its_check_with_the_fix() -> None:
    now = 1_800_000_000.0
    fault = "the ledger state/ledger.sqlite3 was deleted while the uploader ran; it is restored, restart the uploader"
    assert check("uploader", _fresh(now, fault=fault), {}, now) == (False, f"unhealthy: uploader: {fault}")
    assert check("auto", _fresh(now, fault=fault), {}, now)[0] is False
    assert check("detector", _fresh(now, fault=fault), _fresh(now), now)[0] is True  # not this container's process
    assert check("uploader", _fresh(now, fault=""), {}, now) == (True, "healthy: uploader running")


def test_a_destination_failing_past_its_bound_fails_the_uploaders_check_and_a_short_failure_does_not() -> None:
    now = 1_800_000_000.0
    limited = {"destination": "dropbox", "failing_after_s": 600.0,
               "error": "dropbox: rate limited (429); the server asks to wait 30 s"}
    short = _fresh(now, failing_destinations=[{**limited, "failing_for_s": 598.0}])
    assert check("uploader", short, {}, now) == (True, "healthy: uploader running")
    assert check("uploader", _fresh(now, time=now - 2, failing_destinations=[{**limited, "failing_for_s": 598.5}]),
                 {}, now)[0] is False  # as of the write, plus the file's age
    healthy, line = check("auto", _fresh(now, failing_destinations=[{**limited, "failing_for_s": 700.0}]), {}, now)
    assert not healthy and line == ("unhealthy: destination dropbox FAILING for 12 min (dropbox: rate limited (429); "
                                    "the server asks to wait 30 s; the footage waits in the spool: see quickcam "
                                    "status and the uploader's log)")
    long = _fresh(now, failing_destinations=[{**limited, "failing_for_s": 700.0}])
    assert check("detector", long, _fresh(now), now)[0] is True  # not this container's process
