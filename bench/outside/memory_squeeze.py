"""Memory runs out under a running detector mid-event: its address-space limit lowered from outside
(`prlimit --pid P --as=N`, what a cgroup's memory.max or a full machine does to new allocations),
held, then lifted.

    .venv/bin/python bench/outside/memory_squeeze.py [--native] [--headroom-mb 8] [--held-s 20]

The limit is the process's size at the time plus a little, set while an event records. docs:
no camera blind without saying so; bad states said in one line, never a traceback. Checked: the
detector either keeps going or ends with a line saying why (exit code not 0), never a thread dying
in silence (camera `ok` in status with no footage coming); once lifted, footage flows again (or a
restart does); every journaled item stored once.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def vm_size_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--headroom-mb", type=int, default=0)
    ap.add_argument("--held-s", type=float, default=20)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s21o/memory-squeeze{'-native' if a.native else ''}"), native=a.native)
    rig.uploader()
    det = rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 4, 60)
    n0 = len(rig.journal_lines())
    rig.wait_for(lambda: len(rig.journal_lines()) > n0, 20, every=0.05)  # an event is recording
    limit = vm_size_kb(det.pid) * 1024 + (a.headroom_mb << 20)
    subprocess.run(["prlimit", "--pid", str(det.pid), f"--as={limit}:"], check=True)
    print(f"address space limited to {limit >> 20} MB at journal line {len(rig.journal_lines())}")
    t0 = time.monotonic()
    time.sleep(a.held_s)
    journaled_squeezed = len(rig.journal_lines())
    alive = det.poll() is None
    rc, st = rig.status()
    print(f"after {a.held_s:.0f} s squeezed: alive={alive} rc={det.returncode} journal {journaled_squeezed}\n{st.strip()[:900]}")
    if alive:
        subprocess.run(["prlimit", "--pid", str(det.pid), "--as=unlimited:"], check=True)
        print("limit lifted after", round(time.monotonic() - t0, 1), "s")
        n1 = len(rig.journal_lines())
        flowing = rig.wait_for(lambda: len(rig.journal_lines()) > n1 + 2, 30)
        print("footage flows again after the lift:", flowing)
        _, st = rig.status()
        print(st.strip()[:600])
    else:
        out = sorted(rig.root.glob("detector.*.out"))[-1].read_text(errors="replace").strip().splitlines()
        print("detector ended; its last lines:", *[ln[:300] for ln in out[-5:]], sep="\n    ")
        flowing = True
    show_lines(rig, r"(?i)memoryerror|out of memory|cannot allocate|bad_alloc|ENOMEM|Errno 12\]", "memory lines")
    show_lines(rig, "level=(error|warning)", "warning/error lines", shown=20)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    fails = invariant_failed(rig, ok) + tracebacks_failed(rig) + int(not flowing)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
