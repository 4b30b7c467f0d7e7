"""The system clock stepped back and forward under a running uploader and detector (docs/reliability.md, 15).

Both processes run with libfaketime preloaded (the ``libfaketime`` package of the
test extra; Debian's 0.9.10 breaks Python's ``time.sleep``), which shifts only the
wall clock, by an offset the test writes to a file, as NTP stepping the clock
does: the monotonic clock is left alone (``FAKETIME_DONT_FAKE_MONOTONIC``). The scenario runs with
the Python and with the native detector (``detector_command``): the native binary's clock calls go
through the same preloaded library.

``FAKETIME_FORCE_MONOTONIC_FIX=0``: the library's ``pthread_cond_timedwait`` measures a wait on a
CLOCK_MONOTONIC condition against its faked monotonic clock (the wall clock at its start plus the
offset) even with ``FAKETIME_DONT_FAKE_MONOTONIC``, and by default (glibc >= 2.30) adds what is
left to the real monotonic clock: every such wait, the GIL's 5 ms wait among them, got a deadline
~1.8e9 s in the past and returned at once. Threads waiting for the GIL spun and made its holder
drop it every few bytecodes: Python code in two threads ran 20-35 times slower, the detector used
~3x its CPU in the event (most likely why, once at load ~27, it and the uploader spun for 17 min).
A real NTP step leaves monotonic waits alone. With the fix off, the library hands the caller's
deadline through unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quickcam.common.health import liveness
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline

SEGMENT_S = 1.0


def _libfaketime() -> Path:
    try:
        import libfaketime
    except ImportError:
        pytest.skip("libfaketime is not installed (pip install -e '.[test]')")
    lib = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not lib.is_file():
        pytest.skip(f"the libfaketime package has no {lib.name} at {lib.parent}")
    return lib


def _stepped_clock(offset: Path) -> dict[str, str]:
    """The environment that preloads libfaketime with the wall clock offset by the seconds in ``offset``."""
    return {"LD_PRELOAD": str(_libfaketime()), "FAKETIME_TIMESTAMP_FILE": str(offset),
            "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_FORCE_MONOTONIC_FIX": "0"}  # see the module's docstring


# Waits 0.3 s on a CLOCK_MONOTONIC condition variable, as the GIL does, through the preloaded
# pthread_cond_timedwait; prints the return code and how long it waited.
_MONOTONIC_WAIT = """
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
attr, cond, mutex = ctypes.create_string_buffer(64), ctypes.create_string_buffer(64), ctypes.create_string_buffer(64)
class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
libc.pthread_condattr_init(attr)
libc.pthread_condattr_setclock(attr, time.CLOCK_MONOTONIC)
libc.pthread_cond_init(cond, attr)
libc.pthread_mutex_init(mutex, None)
libc.pthread_mutex_lock(mutex)
start = time.monotonic_ns()
deadline = start + 300_000_000
rc = libc.pthread_cond_timedwait(cond, mutex, ctypes.byref(Timespec(deadline // 10**9, deadline % 10**9)))
print(rc, (time.monotonic_ns() - start) / 1e9)
"""


def _until(what: str, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _healthcheck(pipe: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck"], cwd=pipe.root, env=pipe.env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.realtime
def test_the_wall_clock_stepped_back_an_hour_then_forward_two_loses_nothing_and_alarms_nobody(
    tmp_path: Path, detector_command: list[str] | None,
) -> None:
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_RECORDING__SEGMENT_S=str(SEGMENT_S),
                    **_stepped_clock(offset))
    try:
        pipe.start("uploader")
        pipe.start("detector")
        assert pipe.wait_for("detector", "demo scene clock starts", 60), pipe.output("detector")[-2000:]
        offset.write_text("-3600\n")  # before the walk (4-10 s of the scene): the event happens on the stepped clock
        assert pipe.wait_for("detector", "the system clock stepped back by 3600 s", 15), pipe.output("detector")
        assert pipe.wait_for("detector", "motion, event", 30)
        _until("two segments of the event", lambda: sum(p["type"] == "segment" for p in pipe.produced()) >= 2)
        status = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())
        assert status["clock_ahead_s"] >= 3590, status  # visible: footage times run ahead of the system clock
        # written an hour "ago" by this test's own (unstepped) clock: its age is read on the monotonic clock
        assert liveness(status, time.time()) == (True, "running"), status
        offset.write_text("+3600\n")  # mid-event: an hour ahead of the real clock, two of the stepped one
        assert pipe.wait_for("detector", "the system clock stepped forward by", 15), pipe.output("detector")
        assert pipe.wait_for("detector", " ends", 10)  # the event running at a step forward ends at once
        assert pipe.wait_for_count("detector", "motion, event", 2, 10)  # the walk goes on: a new one starts
        healthy = _healthcheck(pipe)
        assert healthy.returncode == 0, healthy.stderr  # no FAULT, no detector called silent, nothing stale
        assert pipe.stop("detector") == 0  # closes the open segment
        assert pipe.wait_drained(30), pipe.missing()
    finally:
        pipe.close()
    detector, uploader = pipe.output("detector"), pipe.output("uploader")
    for line in (detector + uploader).splitlines():
        assert "Traceback" not in line and "link failing" not in line, line
    assert "two detectors send" not in uploader and "SILENT" not in uploader, uploader[-3000:]
    segments = [p for p in pipe.produced() if p["type"] == "segment"]
    for segment in segments:  # every segment cut on time, none reaching back or running for the hour
        assert 0 <= segment["end_ms"] - segment["start_ms"] <= 3 * SEGMENT_S * 1000, segment
    native = " (native detector)" if detector_command else ""
    pipe.check_invariant(scenario=f"15. wall clock stepped back 1 h, then forward 2 h{native}")


def test_the_preloaded_clock_leaves_monotonic_waits_to_their_deadline(tmp_path: Path) -> None:
    """The scenario's processes wait as they would on a real machine: a step of the wall clock does
    not shorten a wait on the monotonic clock (before, every such wait returned at once, GIL included)."""
    offset = tmp_path / "faketime"
    offset.write_text("-3600\n")
    done = subprocess.run([sys.executable, "-c", _MONOTONIC_WAIT], env=_stepped_clock(offset),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    rc, waited = done.stdout.split()
    assert int(rc) == 110 and float(waited) >= 0.29, f"ETIMEDOUT after 0.3 s expected, got {rc} after {waited} s"
