"""A starved machine: the detector is stopped most of the time (SIGSTOP/SIGCONT duty cycle) during the
demo's walks, as on a box whose CPU something else took.

    .venv/bin/python bench/outside/starve.py [--native] [--run-ms 150] [--stop-ms 350] [--seconds 40]

Checked: what `quickcam status` says while starved (the frame rate, drops counted, not a plain `ok`),
events still recorded, the invariant, no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera_vanish import cam_line  # noqa: E402
from harness import Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--run-ms", type=float, default=150)
    ap.add_argument("--stop-ms", type=float, default=350)
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/starve-{'native' if a.native else 'py'}"), native=a.native)
    rig.uploader()
    p = rig.detector()
    time.sleep(2)
    t0 = time.monotonic()
    lines = []
    next_look = t0 + 5
    while time.monotonic() - t0 < a.seconds:
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(a.stop_ms / 1000)
        os.kill(p.pid, signal.SIGCONT)
        time.sleep(a.run_ms / 1000)
        if time.monotonic() > next_look:
            next_look += 5
            rch, hc = rig.status("--healthcheck")
            lines.append(f"t+{time.monotonic() - t0:3.0f}s hc={rch} {cam_line(rig)[:260]}")
    print("\n".join(lines))
    time.sleep(6)
    print("after:", cam_line(rig))
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    res = rig.check()
    print("drained", ok, summary(res))
    print("events:", len({d['event'] for d in rig.journal_lines()}))
    for ln in rig.grep("level=(error|warning)")[:10]:
        print("   ", ln[:280])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
