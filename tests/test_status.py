"""``quickcam status``: both sides from their status files, the health check, the backlog bar."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from quickcam.common.status_shape import detector_problem
from quickcam.detector import status_file
from quickcam.uploader import cli as uploader_cli
from quickcam.uploader.ledger import Item, Ledger
from tests.conftest import QUICKCAM, free_port

NOW = 1_800_000_000.0


def _camera(**over: object) -> dict:
    info = {"state": "ok", "dark": False, "fps": 15.0, "frames": 900, "dropped": 0, "events": 2,
            "last_event_ms": int((NOW - 180) * 1000)}
    info.update(over)
    return info


def _detector(age_s: float = 1.0, running: bool = True, **camera: object) -> dict:
    return status_file.build_status({"cam0": _camera(**camera)}, (3, 5 * 1024), 0,
                                    {"endpoint": "tcp://127.0.0.1:5557", "connected": True, "last_error": ""},
                                    running=running, now=NOW - age_s)


def _uploader(age_s: float = 0.5, detectors: list | None = None) -> dict:
    return {"time": NOW - age_s, "endpoint": "tcp://127.0.0.1:5557", "curve": False, "spool_bytes": 4096,
            "detectors": detectors or []}


ROWS = [{"destination": "local", "pending": 2, "failed": 1, "uploaded": 17, "failed_tries": 4, "oldest_pending_s": 95.0,
         "last_error": "local storage /mnt/nas: No space left on device"}]


def _report(live: dict, det: dict, rows: list | None = ROWS) -> str:
    return "\n".join(uploader_cli.status_report(live, det, rows, Path("state/ledger.sqlite3"), NOW))


def test_status_shows_both_sides_of_one_machine() -> None:
    text = _report(_uploader(), _detector())
    lines = text.splitlines()
    assert lines[0] == "uploader: running on tcp://127.0.0.1:5557 (no CURVE); spool 4 KiB; 0 detector(s) connected"
    assert lines[1] == "detector: running; link to tcp://127.0.0.1:5557 connected; outbox 3 item(s), 5 KiB"
    assert lines[2].startswith("camera cam0: ok at 15.0 fps, dark mode off, 2 event(s), last event ")
    assert lines[2].endswith("(3 min ago)")
    assert lines[3].split() == ["destination", "pending", "failed", "uploaded", "retries", "oldest", "last", "error"]
    assert lines[4].split()[:6] == ["local", "2", "1", "17", "4", "95"]
    assert "No space left on device" in lines[4]


def test_status_says_dark_mode_and_when_nothing_happened_yet() -> None:
    text = _report(_uploader(), _detector(dark=True, events=0, last_event_ms=0))
    assert "dark mode on, 0 event(s), no event yet" in text


def test_a_camera_that_delivers_no_frame_now_shows_no_frame_rate() -> None:
    """LOST/FAILING/STALLED with the last rate ('LOST (...) at 10.0 fps') read as a camera still delivering."""
    for state in ("lost", "failing", "stalled"):
        info = {"state": state, "fault": "no frame from the camera", "fps": 10.0, "events": 1}
        line = uploader_cli.camera_line("cam0", info, 0)
        assert line.startswith(f"camera cam0: {state.upper()} (no frame from the camera), 1 event(s)"), line
        assert "fps" not in line and "dark mode" not in line, line
    assert "ok at 10.0 fps, dark mode off" in uploader_cli.camera_line("cam0", {"state": "ok", "fps": 10.0}, 0)


def test_status_tells_a_stopped_or_silent_process_from_a_running_one() -> None:
    text = _report(_uploader(age_s=300), _detector(age_s=40, running=False))
    assert "uploader: NOT RUNNING (last seen 5 min ago)" in text
    assert "detector: stopped 40 s ago; outbox 3 item(s)" in text
    assert "camera cam0 (at its last report): ok" in text
    crashed = _report(_uploader(), _detector(age_s=60))
    assert "detector: NOT RUNNING (last seen 60 s ago)" in crashed


def test_status_on_the_uploader_machine_shows_remote_detectors_as_relayed() -> None:
    remote = {"detector": "quickcam-detector", "cameras": ["garage"], "seen_s_ago": 1.2, "silent": False,
              "status": {"cameras": {"garage": _camera()}, "outbox_depth": 4}}
    doctor_hello = {"detector": "quickcam-doctor", "cameras": ["cam0"], "seen_s_ago": 3, "status": {}}
    text = _report(_uploader(detectors=[remote, doctor_hello]), {})
    assert "1 detector(s) connected" in text
    assert "detector quickcam-detector (via the uploader): connected, last heard 1 s ago; outbox 4 item(s)" in text
    assert "camera garage: ok at 15.0 fps" in text
    assert "quickcam-doctor" not in text


def test_status_on_the_detector_machine_has_no_ledger_and_says_where_it_is() -> None:
    text = _report({}, _detector(), rows=None)
    assert text.splitlines()[0] == "uploader: not on this machine (no status file here)"
    assert "destinations: no ledger at state/ledger.sqlite3" in text


def test_status_where_nothing_has_run_yet_says_so_with_the_fix_not_that_it_runs_elsewhere(tmp_path: Path) -> None:
    # A fresh folder: "uploader: not on this machine" and "detector: not on this machine", as if each ran elsewhere.
    run = _status(tmp_path)
    assert run.returncode == 0, run.stderr
    uploader, detector = run.stdout.splitlines()[:2]
    assert uploader.startswith("uploader: no status yet: it has not run here") and "quickcam uploader" in uploader
    assert detector.startswith("detector: no status yet: it has not run here") and "quickcam detector" in detector
    assert "not on this machine" not in run.stdout, run.stdout
    # From another folder than the processes' (relative folders), it says where it looked (FINDINGS #46)
    assert f"status: looked for them from {tmp_path}: the config's folders are relative" in run.stdout, run.stdout


def test_the_detector_and_the_status_command_agree_on_the_file_name() -> None:
    assert uploader_cli.DETECTOR_STATUS_FILE == status_file.STATUS_FILE_NAME


# -- the detector's status file --------------------------------------------------------


def test_status_file_writer_refreshes_the_file_and_marks_the_stop(tmp_path: Path) -> None:
    path = tmp_path / status_file.STATUS_FILE_NAME
    calls = []

    def collect(running: bool) -> dict:
        calls.append(running)
        return status_file.build_status({}, (len(calls), 0), 0, {}, running)

    writer = status_file.StatusFileWriter(path, collect, interval_s=0.05)
    writer.start()
    deadline = time.monotonic() + 30  # three rewrites: polled, a loaded machine may be slow to run the thread
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(path.read_text())["running"] is True
    writer.stop()
    final = json.loads(path.read_text())
    assert final["running"] is False and final["outbox"]["items"] == len(calls) >= 3
    assert [p.name for p in tmp_path.iterdir()] == [status_file.STATUS_FILE_NAME]  # no temp file left


def test_a_status_file_that_cannot_be_written_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = status_file.StatusFileWriter(tmp_path / "missing" / "s.json",
                                          lambda running: status_file.build_status({}, (0, 0), 0, {}, running))
    for _ in range(3):
        writer._write(running=True)
    assert len([r for r in caplog.records if "cannot write" in r.message]) == 1


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env.update({"QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{port}", "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true",
                "QUICKCAM_FACES__ENABLED": "false"})
    return env


def test_a_running_detector_writes_its_status_for_quickcam_status(tmp_path: Path) -> None:
    # Nobody listens: the detector says it is not connected. The demo in real time (its walker comes at 4 s):
    # as fast as possible it recorded events for 3 s on a whole core, whose footage the stop then waited 5 s
    # to deliver, 11 s alone and 40 s in a suite run at load 12.
    env = _env(free_port())
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "3"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    written = json.loads((tmp_path / "outbox" / status_file.STATUS_FILE_NAME).read_text())
    assert written["running"] is False
    assert written["cameras"]["cam0"]["frames"] > 0
    assert written["link"]["connected"] is False
    status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    assert "detector: stopped" in status.stdout and "camera cam0 (at its last report)" in status.stdout
    assert "destinations: no ledger" in status.stdout


# -- the health check and the backlog bar -------------------------------------------


def _status(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", *args], cwd=tmp_path, env=_env(free_port()),
                          capture_output=True, text=True, timeout=60)


def _write(path: Path, doc: dict) -> None:
    """Whole or not at all, as the processes write theirs: `status --wait` reads it meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".tmp")
    part.write_text(json.dumps(doc))
    os.replace(part, path)


def test_healthcheck_passes_while_a_process_here_is_running_and_fails_otherwise(tmp_path: Path) -> None:
    assert _status(tmp_path, "--healthcheck").returncode == 1
    detector_file = tmp_path / "outbox" / status_file.STATUS_FILE_NAME
    _write(detector_file, {**_detector(), "time": time.time()})
    run = _status(tmp_path, "--healthcheck")
    assert run.returncode == 0 and run.stdout.strip() == "healthy: detector running"
    _write(detector_file, {**_detector(), "time": time.time() - 60})
    assert _status(tmp_path, "--healthcheck").returncode == 1
    _write(tmp_path / "state" / "status.json", {**_uploader(), "time": time.time()})
    crashed = _status(tmp_path, "--healthcheck")  # its status file left behind, still saying "running"
    assert crashed.returncode == 1 and "detector NOT RUNNING (last seen 6" in crashed.stderr
    _write(detector_file, {**_detector(running=False), "time": time.time() - 60})  # stopped cleanly
    assert _status(tmp_path, "--healthcheck").stdout.strip() == "healthy: uploader running"


@pytest.mark.parametrize(("text", "wrong"), [
    ("[1, 2]", "JSON list, not a quickcam status"),
    ('{"running": "yes", "time": "x", "cameras": 5}', "time is text, not a number"),
    ('{"running": true, "time": 1e308, "cameras": {"cam0": 7}}', "cameras.cam0 is a number, not an object"),
    ('{"cameras": {"cam0": {"state": null}}, "outbox": [], "link": 3, "time": 1}', "outbox is a list, not an object"),
    ('{"time": 1, "cameras": {"cam0": {"state": null}}}', "cameras.cam0.state is null, not text"),
    ('{"time": 1, "console": {"viewers": {"cam0": {"viewers": "2"}}}}', "console.viewers.cam0.viewers is text, not a"),
])
def test_a_status_file_of_valid_json_but_values_of_the_wrong_kind_is_one_line_naming_the_value(
        tmp_path: Path, text: str, wrong: str) -> None:
    # A file written by another quickcam version, or by hand: quickcam status and its health check ended in a
    # traceback (AttributeError, TypeError) instead of naming the file; then in a line naming the exception
    # (`'int' object has no attribute 'get'`), not the value: now the value, checked before anything reads it.
    path = tmp_path / "outbox" / status_file.STATUS_FILE_NAME
    path.parent.mkdir()
    path.write_text(text)
    for args in ((), ("--healthcheck",)):
        run = _status(tmp_path, *args)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        (line,) = run.stderr.splitlines()
        assert line.startswith("Error: cannot read ") and "outbox/detector-status.json: " + wrong in line, line


def test_a_bug_in_the_status_command_is_not_reported_as_a_damaged_status_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every TypeError, KeyError, ValueError or AttributeError of `quickcam status` was "cannot read ... damaged, or
    # written by another quickcam version", whatever raised it: a bug in the command's own code (stood for by
    # this one) sent people to restart a healthy process. Now only the files' shape is checked, and a bug is a bug.
    from click.testing import CliRunner

    _write(tmp_path / "outbox" / status_file.STATUS_FILE_NAME, {**_detector(), "time": time.time()})

    def broken(*_: object, **__: object) -> str:
        raise KeyError("a bug")

    monkeypatch.setattr(uploader_cli, "camera_line", broken)
    monkeypatch.chdir(tmp_path)
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QUICKCAM_")}
    result = CliRunner().invoke(uploader_cli.status, [], env={**unset, **_env(free_port())})
    assert isinstance(result.exception, KeyError), result.output


def _ledger_with(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    for i in range(count):
        ledger.add(Item(f"item{i}", "0" * 64, "segment", "cam0", "ev", i, 10, f"spool/item{i}.qsc",
                        f"webcam_captures/item{i}.qsc", time.time()), ["local"])
    ledger.close()
    return path


def test_wait_shows_the_backlog_draining_and_exits_0_when_it_is_empty(tmp_path: Path) -> None:
    path = _ledger_with(tmp_path, 3)
    live = tmp_path / "state" / "status.json"
    stop = threading.Event()

    def uploader_at_work() -> None:  # stands in for the shipper: one upload every 0.3 s, status fresh
        ledger = Ledger(path)
        for i in range(3):
            _write(live, {**_uploader(), "time": time.time()})
            stop.wait(0.3)
            ledger.mark_uploaded(f"item{i}", "local", "somewhere")
        while not stop.wait(0.3):
            _write(live, {**_uploader(), "time": time.time()})
        ledger.close()

    _write(live, {**_uploader(), "time": time.time()})
    worker = threading.Thread(target=uploader_at_work)
    worker.start()
    try:
        run = _status(tmp_path, "--wait", "--timeout", "30")
    finally:
        stop.set()
        worker.join()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "uploading backlog" in run.stdout
    assert "backlog empty" in run.stdout


def test_wait_gives_up_at_once_when_the_uploader_is_not_running(tmp_path: Path) -> None:
    _ledger_with(tmp_path, 2)
    run = _status(tmp_path, "--wait")
    assert run.returncode == 1
    assert "the uploader is not running here; 2 upload(s) wait for it" in run.stderr


def test_status_says_when_low_power_lowers_detection_and_where_the_console_listens() -> None:
    det = _detector()
    det["low_power"] = {"enabled": True, "level": 1, "detect_fps": 5.0, "reason": "on battery at 80%"}
    det["console"] = {"listen": "127.0.0.1:8765", "viewers": {"cam0": {"viewers": 1, "sent": 90, "skipped": 4}},
                      "failed_logins": 6, "refused_logins": 1}
    line = _report(_uploader(), det).splitlines()[1]
    assert line.endswith("; LOW POWER (on battery at 80%): detection at most 5 fps; console on 127.0.0.1:8765 "
                         "(1 viewer(s), 4 frame(s) skipped for slow viewers, 6 failed login(s), 1 refused)")
    det["low_power"] = {"enabled": True, "level": 0, "detect_fps": None, "reason": "on AC power"}
    assert "LOW POWER" not in _report(_uploader(), det)


def test_a_status_file_caught_half_rewritten_is_read_again_and_a_damaged_one_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The detector rewrites its file in place on a full disk (detector/status_file.py): a read may catch
    # it torn. `quickcam status` reads it again a moment later instead of failing.
    path = tmp_path / "outbox" / status_file.STATUS_FILE_NAME
    path.parent.mkdir()
    whole = json.dumps({**_detector(), "time": time.time()})
    path.write_text(whole[: len(whole) // 2])

    class WriterFinishes:  # the pause between the reads: the detector's write ends meanwhile
        @staticmethod
        def sleep(seconds: float) -> None:
            path.write_text(whole)

    with monkeypatch.context() as patched:
        patched.setattr(uploader_cli, "time", WriterFinishes)
        assert uploader_cli._read_json(path, detector_problem)["cameras"]["cam0"]["state"] == "ok"
    path.write_bytes(b"\xff\xfe not json")  # damaged for good: one line, no traceback
    run = _status(tmp_path)
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "cannot read outbox/detector-status.json: " in run.stderr and "Traceback" not in run.stderr


def test_a_status_file_replaced_by_a_directory_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    # Both detectors log once that they cannot write it, and go on recording; `quickcam status` said
    # "[Errno 21] Is a directory" and not what to do about it.
    path = tmp_path / "outbox" / status_file.STATUS_FILE_NAME
    path.mkdir(parents=True)
    run = _status(tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines() == [
        "Error: cannot read outbox/detector-status.json: a directory stands where the status file goes; remove it "
        "(rmdir outbox/detector-status.json): its process writes the file every few seconds"], run.stderr
    path.rmdir()
    path.parent.rmdir()
    path.parent.write_text("a file where the outbox folder goes")  # before: "[Errno 20] Not a directory"
    run = _status(tmp_path)
    assert run.returncode == 1 and run.stderr.splitlines() == [
        "Error: cannot read outbox/detector-status.json: outbox is a file, not a folder; its process makes the folder "
        "again while it runs (a file there is moved aside), or move it aside (mv outbox outbox.old)"], run.stderr
