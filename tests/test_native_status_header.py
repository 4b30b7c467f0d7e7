"""A camera figure the protocol refuses never stops the native detector's link (docs/reliability.md, 19).

The native detector fits each camera's status to the schema before the heartbeat is encoded, as
``detector/status_header.py`` does: a stream served over HTTP faster than real time (a short file
behind a stream URL, reopened each time it ends) is read in a burst, and its measured frame rate is
some 20 000 a second, over the protocol's 1000. Before, the codec refused that status in the link
thread and the process ended (``terminate called after throwing an instance of
'qc::wire::ProtocolError'``) at its first heartbeat to a real uploader. The fitting itself
(``--fit-status``) gives Python's fitted status and notes for the Python tests' cases and 300 random
ones.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import msgpack
import pytest

from quickcam.common.protocol import CAMERA_STATUS_FIELDS, INT64_MAX, INT64_MIN
from quickcam.detector.status_header import fit_camera_status
from tests.conftest import QUICKCAM
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.pipeline import Pipeline
from tests.test_native_detector import _serve
from tests.waiting import wait_until

GOOD = {"dropped": 0, "fps": 10.0, "frames": 100, "state": "ok"}
# The cases of tests/detector/test_status_header.py and a few more.
CASES: dict[str, dict[str, Any]] = {
    "good": {**GOOD, "fault": "", "loops": {"capture": {"alive": True, "beat_s": 0.1}}, "recording": False},
    "refused": {"dark": "no", "dropped": float("nan"), "fps": 5000.0, "frames": -1, "state": "OK", "x": b"x",
                "width": 1e9},
    "long_fault": {**GOOD, "fault": "caméra — perdue " * 40},
    "own_fault_first": {**GOOD, "fault": "cannot open stream " * 30, "fps": -1.0, "state": "lost"},
    "burst": {**GOOD, "fault": "x" * 500, "fps": 20786.07},
    "infinite": {**GOOD, "fps": math.inf, "last_event_ms": -5, "width": 3.7},
    "empty": {},
    "words": {**GOOD, "recorder": "PASSTHROUGH", "state": " Lost "},
    "not_a_word": {**GOOD, "state": "no way"},
}


def _random_status(rng: random.Random) -> dict[str, Any]:
    """Any mix of the schema's fields and two others, with values of every kind (the hypothesis test's, in
    what both sides write alike: ASCII text, 64-bit ints; bytes, never named in a note, only in the others)."""
    def value(other: bool) -> Any:
        return rng.choice([
            None, rng.random() < 0.5, rng.randint(INT64_MIN, INT64_MAX), rng.randint(-70000, 70000),
            rng.choice([math.inf, -math.inf, math.nan, 1e15, 1e16, 1e-5, 0.1, -2.5, 1234.5678, 65535.9]),
            "".join(rng.choice("abcXYZ _-.'") for _ in range(rng.randint(0, 400))), [1, 2],
            b"\x00" if other else None,
        ])
    names = rng.sample([f.name for f in CAMERA_STATUS_FIELDS] + ["x", "x_other"], rng.randint(0, 8))
    return {name: value(name in ("x", "x_other")) for name in names}


def _plain_json(value: Any) -> Any:
    """``value`` as the native prints it in JSON (NaN and infinities as null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    return json.loads(json.dumps(value))


def test_the_native_status_fitting_gives_pythons_fitted_status_and_notes() -> None:
    rng = random.Random(19)
    cases = {name: dict(sorted(status.items()))  # keys in the order the native's maps keep (the notes' order)
             for name, status in {**CASES, **{f"random{k}": _random_status(rng) for k in range(300)}}.items()}
    run = subprocess.run([str(native_detector()), "--fit-status"], input=msgpack.packb(cases),
                         capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    native = json.loads(run.stdout)
    for name, status in cases.items():
        fitted, fixed = fit_camera_status(status)
        assert native[name] == {"fitted": _plain_json(fitted), "fixed": fixed}, (name, status)


FITTED = re.compile(r"status value\(s\) the protocol refuses: fps [0-9.]+ sent as 1000\.0")


@pytest.mark.realtime  # a real uploader, heartbeats on the wall clock
def test_a_native_frame_rate_over_the_protocols_limit_is_fitted_named_and_counted(tmp_path: Path) -> None:
    write_h264(tmp_path / "clip.ts", 20.0, 10.0, 1.0, 64, 48, walks=(), container="mpegts")
    server = _serve(tmp_path)
    url = f"http://127.0.0.1:{server.server_address[1]}/clip.ts"
    pipe = Pipeline(tmp_path, f'[camera]\nsource = "stream"\npath = "{url}"\n', detector=[str(native_detector())])
    status_file = tmp_path / "outbox" / "detector-status.json"

    def relayed_fault() -> str:  # what the uploader heard: the camera's fault in its last status heartbeat
        try:
            detectors = json.loads((tmp_path / "state" / "status.json").read_text()).get("detectors", [])
        except (OSError, ValueError):  # not written yet, or being replaced
            return ""
        return " ".join(((d.get("status") or {}).get("cameras", {}).get("cam0") or {}).get("fault", "")
                        for d in detectors)

    def shown() -> str:
        run = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                             timeout=30)
        return run.stdout

    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector")
        assert wait_until(lambda: FITTED.search(relayed_fault()), 30), pipe.output("detector")[-3000:]

        def counted() -> bool:  # the status file (JSON takes any figure) keeps it as measured, and counts
            status = json.loads(status_file.read_text())
            return float(status["cameras"]["cam0"]["fps"]) > 1000 and status["link"]["bad_status"] >= 3

        assert wait_until(counted, 15), status_file.read_text()
        assert "status message(s) sent with camera figures fixed" in shown()
        assert detector.poll() is None, pipe.output("detector")[-3000:]
        assert pipe.stop("detector") == 0
    finally:
        pipe.close()
        server.shutdown()
    log = pipe.output("detector")
    assert log.count("status values the protocol refuses") == 1, log[-3000:]  # once per camera and field
    assert "terminate called" not in log and "cannot send this detector's status" not in log, log[-3000:]
