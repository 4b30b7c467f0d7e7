"""The whole product from the user's command: run_all.sh --demo, then decrypt."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import av
import pytest

from tests.conftest import QUICKCAM, REPO, run_script

PLAINTEXT_MAGIC = (b"\xff\xd8\xff", b"\x00\x00\x00")  # JPEG, MP4 box header
# The demo's script 3 s in with 5 s between the walks ([camera] demo_start_s, demo_gap_s): the walk at 1-7 s and
# the walk back at 12-17 s of the run instead of 4-10 s and 18-23 s; both walks whole, as long as before, and
# the run stops 2 s after the second, as the default script's 25 s run did.
SHORT_SCRIPT = {"QUICKCAM_CAMERA__DEMO_START_S": "3", "QUICKCAM_CAMERA__DEMO_GAP_S": "5"}
RUN_S = 19


def _kill_left_in(folder: Path) -> None:
    """Kill the processes still running in ``folder`` (their working directory), so a failure does not leave
    a detector and an uploader running through the rest of the suite."""
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(proc / "cwd")) == folder:
                os.kill(int(proc.name), signal.SIGKILL)


def _is_plaintext_media(path: Path) -> bool:
    head = path.read_bytes()[:12]
    return head.startswith(b"\xff\xd8\xff") or head[4:8] == b"ftyp"


@pytest.mark.slow
def test_demo_run_leaves_only_encrypted_footage_that_decrypts_to_the_scripted_motion(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= SHORT_SCRIPT
    run = run_script([str(REPO / "scripts/run_all.sh"), "--demo", "--seconds", str(RUN_S)], cwd=tmp_path, env=env,
                     timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "decrypt them with" in run.stdout
    assert (tmp_path / "tokens.env").stat().st_mode & 0o077 == 0

    stored = list((tmp_path / "storage" / "webcam_captures").rglob("*.qsc"))
    segments = [p for p in stored if p.name.startswith("segment-")]
    snapshots = [p for p in stored if p.name.startswith("snapshot-")]
    assert segments and snapshots

    # Nothing readable anywhere but the decrypt output: outbox drained, spool encrypted.
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and _is_plaintext_media(p)]
    assert leftovers == []
    assert not list((tmp_path / "outbox").glob("*.bin"))

    out = tmp_path / "decrypted"
    dec = subprocess.run([QUICKCAM, "decrypt", "storage", "-o", str(out)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert dec.returncode == 0, dec.stdout + dec.stderr
    videos = sorted(out.rglob("*.mp4"))
    assert len(videos) == len(segments)
    frames = 0
    for video in videos:
        with av.open(str(video)) as container:
            frames += sum(1 for _ in container.decode(video=0))
    # The short script walks someone through at 1-7 s and 12-17 s of the run: 11 s of
    # motion at 15 fps, each event also carrying pre- and post-roll.
    assert frames >= 11 * 15
    events = {p.parent.name for p in segments}
    assert len(events) == 2

    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["counters"]["segment"] == len(segments)


@pytest.mark.realtime  # a wall-clock bound
def test_run_all_with_a_bad_key_stops_both_at_once_and_prints_the_one_error_last(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    (tmp_path / "tokens.env").write_text("ENCRYPTION_KEY=" + "zz" * 32 + "\n")
    (tmp_path / "tokens.env").chmod(0o600)
    started = time.monotonic()
    run = run_script([str(REPO / "scripts/run_all.sh"), "--demo", "--seconds", "60"], cwd=tmp_path, env=env,
                     timeout=120)
    assert run.returncode == 1
    assert time.monotonic() - started < 30  # not the 60 s asked for: the detector stopped with the uploader
    last = run.stderr.strip().splitlines()[-2:]
    assert last[0].startswith("run_all.sh: the uploader stopped"), run.stderr
    assert last[1].startswith("run_all.sh: quickcam: ENCRYPTION_KEY must be"), run.stderr
    assert "encrypted file(s)" not in run.stdout and "decrypt them with" not in run.stdout


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_still_shows_both_processes_stopping(tmp_path: Path) -> None:
    # A terminal's Ctrl-C signals the script's whole process group. The tee that passed on the processes'
    # lines was in it and died at once: the stop (segments closed, footage handed over) went unsaid.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")} | SHORT_SCRIPT
    # A terminal's shell starts the script with SIGINT at its default. A test run started in the background
    # (``scripts/test.sh &``) ignores SIGINT, and so would the script: a shell cannot trap a signal ignored
    # when it started, and Ctrl-C would be lost by design (a background job is not Ctrl-C'd). As a terminal:
    script = subprocess.Popen(["env", "--default-signal=INT", str(REPO / "scripts/run_all.sh"), "--demo"],
                              cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(script.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("event" in line and "starts" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("starts" in line for line in lines), "".join(lines)[-3000:]
        os.killpg(script.pid, signal.SIGINT)  # as the terminal does: the script and everything in its group
        try:
            script.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("run_all.sh still running 60 s after Ctrl-C; it said:\n" + "".join(lines)[-4000:])
        reader.join(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)
        _kill_left_in(tmp_path)  # a failed run's processes: in sessions of their own, the group's kill missed them
    said = "".join(lines)
    assert "detector: stopping" in said, said[-3000:]
    assert "uploader: stopped" in said, said[-3000:]
