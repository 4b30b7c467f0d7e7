"""``quickcam protocol check`` passes the Python detector and fails broken ones with a clear report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO

# A deliberately broken detector, speaking the wire with plain zmq + msgpack as a
# native author might. MODE: bad-sha256 | missing-field | never-resends.
BROKEN_DETECTOR = r'''
import hashlib, os, sys, time
import msgpack, zmq

mode = sys.argv[1]  # MODE also: quits-early (behaves, but stops after two status)
sock = zmq.Context().socket(zmq.DEALER)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(os.environ["QUICKCAM_LINK__ENDPOINT"])
counter = 0

def header(kind, **fields):
    global counter
    counter += 1
    now = time.time_ns() // 1_000_000
    h = {"v": "1.0", "type": kind, "id": f"{now:013x}{counter:013x}", "time_ms": now, **fields}
    return dict(sorted(h.items()))

def send(h, payload=None):
    sock.send_multipart([b"QSC1", msgpack.packb(h)] + ([payload] if payload is not None else []))

def snapshot():
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(64) + b"\xff\xd9"
    digest = hashlib.sha256(jpeg).hexdigest()
    fields = dict(camera="cam0", event="e1", width=64, height=48, content_type="image/jpeg",
                  size=len(jpeg), sha256=digest)
    if mode == "bad-sha256":
        fields["sha256"] = hashlib.sha256(b"something else").hexdigest()
    if mode == "missing-field":
        del fields["width"]
    return header("snapshot", **fields), jpeg

credit = 0
# never-resends is judged once the check has waited 2 x its ack timeout + 3 s (5 s) for a resend; the
# other faults are judged on the first message they spoil, right after the hello.
end = time.monotonic() + (8 if mode == "never-resends" else 4)
next_beat = 0.0
queue = [snapshot() for _ in range(3)]
while time.monotonic() < end:
    now = time.monotonic()
    if now >= next_beat:
        if credit == 0 and not next_beat:
            # quits-early beats every 0.5 s as the others but says 4 s: the check allows 1.5 x 4 + 0.5 s
            # between two status, so a detector starved of the CPU for 2 s on a busy machine still passes.
            send(header("hello", detector="broken", detector_version="1", cameras=["cam0"],
                        heartbeat_ms=4000 if mode == "quits-early" else 500, ack_timeout_ms=1000))
        else:
            send(header("status", cameras={"cam0": {"dropped": 0, "fps": 1.0, "frames": 1, "state": "ok"}},
                        outbox_depth=len(queue)))
        next_beat = now + 0.5
    if sock.poll(50):
        reply = msgpack.unpackb(sock.recv_multipart()[1])
        if reply["type"] == "credit":
            credit = reply["messages"]
            if mode == "quits-early" and credit:
                beats = locals().get("beats", 0) + 1
                if beats > 2:
                    sys.exit(0)
    if mode == "quits-early":
        if credit == 0 and now >= next_beat - 0.45:
            send(header("hello", detector="early", detector_version="1", cameras=["cam0"], heartbeat_ms=500))
        continue
    if credit and queue:
        send(*queue.pop(0))  # and never again: no outbox, no retransmission
'''


def _check(tmp_path: Path, command: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "protocol", "check", "--timeout", str(timeout), "--run", command],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout + 30)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}


@pytest.mark.slow
def test_the_python_detector_passes_every_check(tmp_path: Path) -> None:
    env = _env() | {
        "QUICKCAM_CAMERA__SOURCE": "demo",
        "QUICKCAM_RECORDING__OUTBOX_DIR": str(tmp_path / "outbox"),
        "QUICKCAM_LINK__ACK_TIMEOUT_S": "2",
        "QUICKCAM_LOGGING__FILE": str(tmp_path / "run.log"),
    } | QUICK_DEMO  # the script's first 16 s, less its quiet first 3
    run = _check(tmp_path, f"{QUICKCAM} detector --seconds 13", env, timeout=90)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert all(line.startswith("PASS") for line in lines[:-1]), run.stdout
    assert lines[-1] == f"{len(lines) - 1}/{len(lines) - 1} checks passed"
    assert not list((tmp_path / "outbox").glob("*.hdr")), "everything acked leaves the outbox"


@pytest.mark.parametrize(("mode", "expected"), [
    ("bad-sha256", "FAIL  decode: every message decodes: frames, header, fields, payload size and sha256 -- "
                   "message {id}: sha256_mismatch: payload does not hash to its sha256"),
    ("missing-field", "FAIL  decode: every message decodes: frames, header, fields, payload size and sha256 -- "
                      "message {id}: missing_field: snapshot lacks required field 'width'"),
    ("never-resends", "FAIL  retransmit: an unacked message is sent again after the ack timeout -- "
                      "{id} not sent again within 5 s without an ack"),
])
def test_a_broken_detector_fails_with_a_report_that_names_the_broken_rule(
    tmp_path: Path, mode: str, expected: str,
) -> None:
    script = tmp_path / "broken_detector.py"
    script.write_text(BROKEN_DETECTOR)
    run = _check(tmp_path, f"{sys.executable} {script} {mode}", _env(), timeout=30)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    prefix, _, suffix = expected.partition("{id}")
    assert any(line.startswith(prefix) and suffix in line for line in lines), run.stdout
    assert "hello: the first message is a valid hello (broken 1" in run.stdout
    assert "canonical" in run.stdout and "failed" in lines[-1]


def test_a_detector_that_stops_early_is_reported_not_exercised_not_failed(tmp_path: Path) -> None:
    script = tmp_path / "early_detector.py"
    script.write_text(BROKEN_DETECTOR)
    run = _check(tmp_path, f"{sys.executable} {script} quits-early", _env(), timeout=30)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "FAIL" not in run.stdout, run.stdout
    assert "PASS  hello: the first message is a valid hello (broken 1" in run.stdout
    assert ("NOT EXERCISED  retransmit: an unacked message is sent again after the ack timeout -- "
            "no snapshot or segment arrived to withhold the ack of") in run.stdout
    assert "note: To be checked fully, a detector must" in run.stdout and "at least 4 snapshots" in run.stdout
    assert run.stdout.splitlines()[-1].endswith("checks passed; 0 failed, 9 not exercised"), run.stdout
