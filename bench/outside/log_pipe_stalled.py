"""The processes' standard error a pipe whose reader stops reading: `scripts/run_all.sh` sends both through
`tee` to the terminal, and a terminal that stops taking output (Ctrl-S, an SSH session whose far end hangs,
`run_all.sh | less` left on its first page) or a log shipper that stalls stops `tee`; the pipe fills (64 KiB)
and every further write to it blocks.

    .venv/bin/python bench/outside/log_pipe_stalled.py [--native] [--held-s 40]

Both processes write stdout and stderr into one pipe; its reader (`cat` into a file) is SIGSTOPped and the
pipe topped up to full by this script, mid-run, for `--held-s`, then the reader is resumed.
docs/deploy.md (Logs): each process writes one line per event to stderr *and* to `run.<process>.log`.
docs: no camera blind without saying so; nothing lost. Checked: while the pipe is full, footage goes on
being recorded and stored, or the trouble is said where a user looks (`quickcam status`, its health check,
`run.*.log`); after the reader resumes, footage flows; the invariant.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, NATIVE, QUICKCAM, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def _fill(fd: int) -> int:
    """Writes into the pipe until it is full (non-blocking); returns the bytes written."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    n = 0
    try:
        while True:
            n += os.write(fd, b"x" * 4095 + b"\n")
    except BlockingIOError:
        pass
    # one byte at a time to the very last one the pipe takes
    try:
        while True:
            n += os.write(fd, b"\n")
    except BlockingIOError:
        pass
    fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    return n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--held-s", type=float, default=40)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s23o/log-pipe-{'native' if a.native else 'py'}"), toml=BASE_TOML, native=a.native)
    r, w = os.pipe()
    sink = open(rig.root / "terminal.out", "wb")
    reader = subprocess.Popen(["cat"], stdin=r, stdout=sink)
    os.close(r)
    fails = 0
    try:
        det_argv = [NATIVE, "--config", "quickcam.toml"] if a.native else [QUICKCAM, "detector", "--config",
                                                                           "quickcam.toml"]
        for name, argv in (("uploader", [QUICKCAM, "uploader", "--config", "quickcam.toml"]), ("detector", det_argv)):
            rig.procs[name] = subprocess.Popen(argv, cwd=rig.root, stdout=w, stderr=w)
        if not rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60):
            print("FAIL nothing stored before the stall")
            return 1
        reader.send_signal(signal.SIGSTOP)
        n = _fill(w)
        j0, s0 = len(rig.journal_lines()), len(rig.stored_ids())
        t0 = time.monotonic()
        print(f"reader stopped, pipe topped up with {n} bytes: {j0} journaled, {s0} stored")
        said = False
        while time.monotonic() - t0 < a.held_s:
            time.sleep(a.held_s / 4)
            _, st = rig.status()
            hrc, hc = rig.status("--healthcheck")
            j, s = len(rig.journal_lines()), len(rig.stored_ids())
            print(f"t+{time.monotonic() - t0:.0f}s journaled {j} stored {s} health {hrc} {hc.strip()[:200]!r}")
            for ln in st.splitlines():
                if ln.startswith(("uploader:", "detector:", "camera ")):
                    print("   ", ln[:260])
            said |= hrc != 0
        j1, s1 = len(rig.journal_lines()), len(rig.stored_ids())
        flowed = j1 >= j0 + 10 and s1 >= s0 + 10
        print(("PASS" if flowed else ("WEAK" if said else "FAIL")),
              f"while the pipe was full: footage recorded {j0}->{j1}, stored {s0}->{s1}; health check red: {said}")
        fails += not flowed
        reader.send_signal(signal.SIGCONT)
        t1 = time.monotonic()
        back = rig.wait_for(lambda: len(rig.journal_lines()) > j1 + 2 and len(rig.stored_ids()) > s1 + 2, 40)
        print(("PASS" if back else "FAIL"), f"after the reader resumed: footage flows {back} "
              f"in {time.monotonic() - t1:.1f} s")
        fails += not back
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"(?i)level=(error|critical)|stalled|blocked", "error lines in run.*.log", 12)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
        reader.send_signal(signal.SIGCONT)
        os.close(w)
        reader.wait(10)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
