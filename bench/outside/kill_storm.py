"""SIGKILL / SIGSTOP both processes at random moments during the demo, then check the invariant.

    .venv/bin/python bench/outside/kill_storm.py [--native] [--seed N] [--rounds N]

A SIGKILLed detector may lose its open segment by design (docs/reliability.md): such a segment
never reaches the journal, so the invariant still counts every journaled item.
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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=12)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rig = Rig(Path(f"/tmp/s19o/kill-{'native' if a.native else 'py'}-{a.seed}"), native=a.native)
    rig.uploader()
    rig.detector()
    faults = []
    for _i in range(a.rounds):
        time.sleep(rnd.uniform(0.3, 4.0))
        who = rnd.choice(["uploader", "detector"])
        how = rnd.choice(["kill", "kill", "stop"])
        if how == "kill":
            rig.kill(who)
            faults.append(f"SIGKILL {who}")
            time.sleep(rnd.uniform(0.0, 1.5))
            (rig.uploader if who == "uploader" else rig.detector)()
        else:
            rig.signal(who, signal.SIGSTOP)
            d = rnd.uniform(1, 8)
            faults.append(f"SIGSTOP {who} {d:.1f}s")
            time.sleep(d)
            rig.signal(who, signal.SIGCONT)
    time.sleep(3)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rc, st = rig.status()
    rig.stop_all()
    res = rig.check()
    print("faults:", "; ".join(faults))
    print("drained:", ok)
    print(st)
    print(summary(res))
    print("lost:", res["lost"][:10], "dup:", list(res["duplicated"].items())[:5], "invented:", res["invented"][:5])
    print("tracebacks:", rig.tracebacks()[:10])
    bad = res["lost"] or res["duplicated"] or res["invented"] or res["altered"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
