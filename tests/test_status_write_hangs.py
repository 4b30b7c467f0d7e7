"""A status file on a disk that stopped answering: the detector still stops within its budget, its footage stored.

The status file is written every 2 s and once more at the stop (``running: false``). The native
detector wrote it from its main loop, and its last write came after the stop's budget with no
bound: one write that never returned (a hard NFS mount, a USB disk gone into a reset) kept the
process from ever exiting (a service manager's SIGKILL at 30 s). The Python detector bounded the
status thread's join (2 s) but then made the last write itself, from the main thread, unbounded.
Now both write the file from a thread of their own, the stop gives its last write
``STATUS_CLOSE_S`` and goes on without it, saying so in one line.

The write hangs for real: a shim preloaded into the process (``tests/fakes/held_writes.c``) makes
every ``write()`` of the status file (and its temporary name) block for ever once the test creates
a file, while an event of the demo scene runs.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.detector.app import STOP_MAX_S
from tests.conftest import QUICKCAM
from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled; the one bound is the stop's budget, several times what it takes
@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_status_write_that_never_returns_does_not_hold_the_stop_and_the_footage_is_stored(
        tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    shim = preload_shim("held_writes", tmp_path)
    hang = tmp_path / "hang-now"
    pipe = Pipeline(tmp_path, detector=command, QUICKCAM_RECORDING__SEGMENT_S="1", **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()
        process = pipe.start("detector", env={
            "LD_PRELOAD": str(shim), "QC_HELD_WRITES_WHEN": str(hang), "QC_HELD_WRITES_FOREVER": "1",
            "QC_HELD_WRITES_PREFIX": str(tmp_path.resolve() / "outbox" / "detector-status.json")})
        # The walk's event is being recorded; then the disk under the status file stops answering.
        assert wait_until(lambda: any(row["type"] == "segment" for row in pipe.produced()), 60), \
            pipe.output("detector")[-3000:]
        hang.touch()
        assert pipe.wait_for("detector", "held_writes: a write of", 30), pipe.output("detector")[-3000:]
        assert process.poll() is None, pipe.output("detector")[-3000:]
        if detector == "native":  # the reader's rule, the same for both detectors: checked on one
            _said_not_answering_then_paused(pipe, process)
        stopped_at = time.monotonic()
        try:
            code = pipe.stop("detector", timeout=STOP_MAX_S + 10)  # the old detectors: no exit at all
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit {STOP_MAX_S + 10:.0f} s after SIGTERM:\n{pipe.output('detector')[-3000:]}")
        stop_s = time.monotonic() - stopped_at
        assert pipe.wait_drained(30), pipe.output("detector")[-3000:]
        pipe.stop("uploader")
    finally:
        pipe.close()
    output = pipe.output("detector")
    print(f"{detector}: exited {stop_s:.1f} s after SIGTERM with its status write hung")
    assert code == 0, output[-3000:]
    assert stop_s < STOP_MAX_S, output[-3000:]
    assert "s after the stop (a disk that stopped answering?); stopping without the last status" in output, \
        output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    pipe.check_invariant()  # every item produced is in storage, whole (the open segment committed at the stop)


def _said_not_answering_then_paused(pipe: Pipeline, process: subprocess.Popen) -> None:
    """Its status file goes stale while the process runs and holds its lock: ``NOT ANSWERING`` with the pid and a
    restart as the fix (it was ``NOT RUNNING``: start it, and a second one refuses the locked folder). Stopped
    with SIGSTOP it is ``PAUSED`` (the native detector's status file carries the boot id, as the Python one's)."""
    def status(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([QUICKCAM, "status", *args], cwd=pipe.root, env=pipe.env, capture_output=True,
                              text=True, timeout=30)

    assert wait_until(lambda: "detector: NOT ANSWERING (status " in status().stdout, 30), status().stdout
    assert f"pid {process.pid} holds the lock" in status().stdout, status().stdout
    check = status("--healthcheck", "detector")
    assert check.returncode == 1 and "detector NOT ANSWERING" in check.stderr, check
    assert f"restart it (kill {process.pid};" in check.stderr and "up -d detector" not in check.stderr, check.stderr
    process.send_signal(signal.SIGSTOP)
    try:
        assert wait_until(lambda: "detector: PAUSED (its process is stopped" in status().stdout, 10), status().stdout
        assert f"kill -CONT {process.pid}" in status("--healthcheck", "detector").stderr
    finally:
        process.send_signal(signal.SIGCONT)
