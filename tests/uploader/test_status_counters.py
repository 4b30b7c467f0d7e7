"""Every failure counter the detectors and the uploader write is shown by ``quickcam status`` when not zero.

The counters are found in the writers' own code (the Python camera stats and link status, the native
detector's status map, every ``counters["..."]`` the uploader keeps, the nack codes), so a counter added
later without a line in ``quickcam status`` fails here; one that counts work, not a failure, goes into
``NOT_FAILURES`` (uploader/cli.py). Before this test ``quickcam status`` showed none of: the uploader's
internal_errors, auth_denied, allow_list_reload_failed, hello_cameras_not_allowed, observer_errors,
ledger_locked, detectors_silent, paused; a camera's dropped, write_failures, reopens, loop errors; the
link's malformed and retransmits; the detector's clock_ahead_s.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from quickcam.common.protocol import NACK_CODES
from quickcam.detector.pipeline.stats import CameraStats
from quickcam.uploader.cli import NOT_FAILURES
from tests.conftest import QUICKCAM

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "detector" / "native" / "src"


def _native_counters(source: str, after: str = "") -> set[str]:
    text = (NATIVE / source).read_text()
    return set(re.findall(r'\{"(\w+)", Value::integer\(', text[text.index(after):] if after else text))


def detector_counters() -> tuple[set[str], set[str], set[str]]:
    """(camera, link, outbox) counters, as the Python and the native detector write them."""
    stats = {key for key, value in CameraStats().as_status().items() if isinstance(value, int)
             and not isinstance(value, bool)}
    pipeline = set(re.findall(r"(\w+)=self\.(?:disk|buffer|_damaged)", (ROOT / "detector/pipeline/camera_pipeline.py")
                              .read_text())) | {"damaged_packets"}
    link = set(re.findall(r'"(\w+)": state\.\w+', (ROOT / "detector/status_file.py").read_text()))
    native_status = _native_counters("main.cpp", after='"clock_ahead_s"')
    outbox = {"items", "bytes", "refused", "deleted"}
    camera = stats | pipeline | _native_counters("camera.cpp") - {"detection_width"}
    not_counters = {"pid", "connected", "last_error", "last_error_at", "error_cleared_at"}  # state, text, times
    return camera, (link | native_status) - outbox - not_counters, outbox


def uploader_counters() -> set[str]:
    names = set()
    for path in (ROOT / "uploader").glob("*.py"):  # the receiver's status.json (alerts: their own file)
        names |= set(re.findall(r'counters\["(\w+)"\]', path.read_text()))
    return names | {f"nack_{code}" for code in NACK_CODES}


def test_every_failure_counter_is_shown_when_not_zero(workdir: Path) -> None:
    camera, link, outbox = detector_counters()
    uploader = uploader_counters()
    assert {"not_recorded", "slow_opens", "write_failures"} <= camera and "hello_refused" in link, (camera, link)
    assert {"reply_lost", "ledger_locked", "nack_conflict"} <= uploader, uploader
    values = iter(range(7001, 9999, 7))  # each counter its own number, found in the output by it
    now = time.time()
    cam = {key: next(values) for key in sorted(camera)}
    cam.update(state="ok", fps=5.0, last_event_ms=0, loops={"capture": {"running": True, "errors": next(values)}})
    det = {"time": now, "running": True, "interval_s": 2.0, "clock_ahead_s": next(values), "cameras": {"cam0": cam},
           "outbox": {key: next(values) for key in sorted(outbox)},
           "link": {"endpoint": "ipc://x", "connected": True, **{key: next(values) for key in sorted(link)}},
           "status_write_failures": next(values)}
    live = {"time": now, "running": True, "interval_s": 2.0, "endpoint": "ipc://x", "spool_bytes": 0,
            "counters": {key: next(values) for key in sorted(uploader)}, "detectors": []}
    (workdir / "outbox").mkdir()
    (workdir / "outbox" / "detector-status.json").write_text(json.dumps(det))
    (workdir / "state").mkdir()
    (workdir / "state" / "status.json").write_text(json.dumps(live))
    shown = subprocess.run([QUICKCAM, "status"], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    counted = {f"detector {k}": v for k, v in det.items() if k in ("clock_ahead_s", "status_write_failures")}
    counted |= {f"camera {k}": v for k, v in cam.items() if isinstance(v, int)}
    counted["camera loops.capture.errors"] = cam["loops"]["capture"]["errors"]
    counted |= {f"outbox {k}": v for k, v in det["outbox"].items()}
    counted |= {f"link {k}": v for k, v in det["link"].items() if isinstance(v, int) and not isinstance(v, bool)}
    counted |= {f"uploader counters.{k}": v for k, v in live["counters"].items()}
    missing = sorted(name for name, value in counted.items()
                     if name.split()[-1].split(".")[-1] not in NOT_FAILURES and str(value) not in shown.stdout)
    assert not missing, f"failure counters quickcam status does not show: {missing}\n{shown.stdout}"
