"""Restart loops: the detector stopped (SIGTERM, or SIGKILL) and started again every 0.2-3 s, the
uploader SIGKILLed and restarted now and then, as a service manager in a crash loop would.

    .venv/bin/python bench/outside/restart_loop.py [--native] [--rounds 25] [--seed 3] [--sig TERM|KILL]

Checked: the invariant (a SIGKILLed detector may lose its open segment by design: never journaled),
nothing left in outbox/.staging, spool/*.part or outbox/refused at the end, no traceback.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--sig", default="TERM")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rig = Rig(Path(f"/tmp/s19o/restart-{'native' if a.native else 'py'}-{a.sig}"), native=a.native)
    rig.uploader()
    rig.detector()
    codes = []
    for _i in range(a.rounds):
        time.sleep(rnd.uniform(0.2, 3.0))
        if a.sig == "TERM":
            codes.append(rig.stop("detector"))
        else:
            rig.kill("detector")
        if rnd.random() < 0.25:
            rig.kill("uploader")
            rig.uploader()
        rig.detector()
    time.sleep(12)
    codes.append(rig.stop("detector"))
    ok = rig.wait_for(rig.drained, 60)
    rc, st = rig.status()
    rig.stop_all()
    res = rig.check()
    print("detector exit codes:", codes)
    print("drained:", ok)
    print(st)
    print(summary(res))
    print("lost:", res["lost"][:5], "dup:", list(res["duplicated"].items())[:3])
    print("staging left:", [p.name for p in (rig.root / "outbox/.staging").glob("*")])
    print("spool .part left:", [p.name for p in (rig.root / "spool").rglob("*.part")])
    print("refused:", [p.name for p in (rig.root / "outbox/refused").glob("*")] if (rig.root / "outbox/refused").exists() else [])
    ev = [ln[:260] for ln in rig.grep("level=error")]
    print("error lines:", len(ev))
    for ln in ev[:10]:
        print("   ", ln)
    print("tracebacks:", rig.tracebacks()[:5])
    _ = signal
    return 0


if __name__ == "__main__":
    sys.exit(main())
