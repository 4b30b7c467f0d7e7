"""The uploader paused (SIGSTOP, not dead) for minutes while a detector records, then SIGCONT.

    .venv/bin/python bench/outside/uploader_paused.py [--native] [--pause-s 90] [--budget-mb 1]

A paused process (a VM snapshot, a debugger, a laptop lid, cgroup freezer) keeps its socket open:
the link looks up to the kernel but nobody answers. Checked: `quickcam status` and the health check
say it while paused; the detector's outbox budget applies (`OVER BUDGET`); after SIGCONT everything
drains, nothing lost or stored twice, no flood of errors.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--pause-s", type=float, default=90)
    ap.add_argument("--budget-mb", type=float, default=1.0)
    ap.add_argument("--resume-s", type=float, default=30, help="the outbox must empty this soon after SIGCONT")
    a = ap.parse_args()
    toml = BASE_TOML.replace("[recording]", f"[recording]\noutbox_budget_mb = {a.budget_mb}")
    rig = Rig(Path(f"/tmp/s20o/up-paused-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        rig.signal("uploader", signal.SIGSTOP)
        t0 = time.monotonic()
        print(f"uploader SIGSTOPped with {len(rig.stored_ids())} stored")
        saw_red = saw_notconn = saw_budget = False
        while time.monotonic() - t0 < a.pause_s:
            time.sleep(min(15, a.pause_s / 4))
            _, st = rig.status()
            hrc, hc = rig.status("--healthcheck")
            det = next((ln for ln in st.splitlines() if ln.startswith("detector:")), "")
            up = next((ln for ln in st.splitlines() if ln.startswith("uploader:")), "")
            print(f"t+{time.monotonic() - t0:.0f}s health {hrc} {hc.strip()[:160]!r}")
            print("   ", up[:200])
            print("   ", det[:260])
            saw_red |= hrc != 0
            saw_notconn |= "NOT CONNECTED" in det or "silent" in det.lower() or "not answer" in det.lower()
            saw_budget |= "OVER BUDGET" in det
        for name, ok in (("health check red while paused", saw_red),
                         ("detector line says the uploader does not answer", saw_notconn),
                         ("outbox budget said (OVER BUDGET)", saw_budget)):
            print(("PASS" if ok else "FAIL"), name)
            fails += not ok
        ob = len(list((rig.root / "outbox").glob("*.bin")))
        rig.signal("uploader", signal.SIGCONT)
        t1 = time.monotonic()
        print(f"SIGCONT with {ob} item(s) in the outbox")
        emptied = rig.wait_for(lambda: not list((rig.root / "outbox").glob("*.bin")), a.resume_s, every=0.5)
        took = time.monotonic() - t1
        print(("PASS" if emptied else "FAIL"), f"outbox emptied with the detector running: {emptied} in {took:.1f} s")
        fails += not emptied
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 120)
        print(f"drained: {drained} in {time.monotonic() - t1:.1f} s")
        _, st = rig.status()
        print("status after:\n" + st)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"level=(error|warning)", "warning/error lines", 15)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
