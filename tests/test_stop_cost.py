"""A detector's stop costs little CPU, so a starved machine cannot stretch it past its budget.

On a machine whose cores are busy (two test suites at once, load 10-12 on 2 cores) a process
gets a small share of a core, and each second of CPU its stop needs becomes many seconds of
wall time: the Python detector took over 30 s to exit after SIGTERM there. Its stop itself
(closing the open segment, the drain, the link's last status) was done within a second; what
followed was the interpreter's teardown, full garbage collections of a heap of OpenCV, PyAV,
pydantic and numpy objects: 0.18-0.31 s of CPU, 4-6 s of wall time under 16 busy loops. The
detector now ends the process once its stop is complete (``common/stop_signals.exit_now``).

The test measures CPU time, not wall time, so it holds whatever the machine's load: the main
thread's user CPU time from the SIGTERM to the exit, where the stop runs (the joins, the drain,
the final status) and the teardown ran. System time is left out (the kernel freeing the
process's memory at its exit costs the same either way), and so is the other threads' work (a
loaded machine leaves them further behind, with more to record at the stop). The open segment
is committed and acknowledged, and the wall-clock bound is the stop's budget (``STOP_MAX_S``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from quickcam.detector.app import STOP_MAX_S
from tests.pipeline import QUICK_DEMO, Pipeline

# The main thread's user CPU at the stop: 0.03-0.06 s (the joins, the final status, the exit); with the
# interpreter's teardown after it, 0.18-0.20 s.
STOP_CPU_S = 0.12
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A small picture: less work in the other threads, whose last readings lag by a few ms; the same heap to tear down.
SMALL = {"QUICKCAM_CAMERA__WIDTH": "320", "QUICKCAM_CAMERA__HEIGHT": "240"}


def _cpu_s(stat: Path) -> float:
    """User CPU time so far of a process (``/proc/<pid>/stat``) or one of its threads (``task/<tid>``)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS


def _main_thread_cpu_until_exit(pid: int) -> tuple[float, int, float]:
    """The main thread's user CPU time at the process's exit, its exit code, and when it exited (monotonic).

    The process's own total comes from ``wait4``; each other thread's is its last reading while it
    ran (read every few ms, and they end before the main thread's stop does: cameras joined, link
    joined), and the main thread's is the rest. What the main thread does between the signal and the
    exit is the stop's own work, its waits, and in the old code the teardown; the other threads' work
    is left out, as it grows with how far behind a loaded machine left them.
    """
    others: dict[str, float] = {}
    while True:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            if task.name != str(pid):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # that thread ended meanwhile
                    others[task.name] = _cpu_s(task / "stat")
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return usage.ru_utime - sum(others.values()), os.waitstatus_to_exitcode(status), \
                time.monotonic()
        time.sleep(0.002)


def _open_segment(root: Path, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        staged = [path.stem for path in (root / "outbox" / ".staging").glob("*.mp4")]
        if staged:
            return staged
        time.sleep(0.05)
    return []


@pytest.mark.slow
def test_a_python_detector_stopped_mid_event_spends_little_cpu_after_sigterm_and_commits_its_segment(
        tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, **QUICK_DEMO, **SMALL)
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector")
        staged = _open_segment(tmp_path)
        assert staged, pipe.output("detector")[-2000:]
        before = _cpu_s(Path(f"/proc/{detector.pid}/task/{detector.pid}/stat"))
        sent = time.monotonic()
        detector.send_signal(signal.SIGTERM)
        main_cpu, detector.returncode, ended = _main_thread_cpu_until_exit(detector.pid)
        took, spent = ended - sent, main_cpu - before
        print(f"stop: {took:.2f} s from SIGTERM to exit, {spent:.3f} s of the main thread's CPU")
        log = pipe.output("detector")
        assert detector.returncode == 0, log[-2000:]
        assert took < STOP_MAX_S, f"{took:.1f} s from SIGTERM to exit"
        assert staged[0] in {row["id"] for row in pipe.produced()}, "the segment open at SIGTERM is committed"
        assert spent < STOP_CPU_S, f"the stop cost the main thread {spent:.2f} s of CPU ({took:.2f} s of wall time)"
        # Its last status left before the process ended: the uploader calls it a clean stop, not a silence.
        assert pipe.wait_for("uploader", "stopped cleanly (its last status said so)", 30), pipe.output("uploader")
        assert pipe.wait_drained(30)
        pipe.stop("uploader")
        pipe.check_invariant()
    finally:
        pipe.close()
