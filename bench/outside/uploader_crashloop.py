"""The uploader SIGKILLed every 0.2-1.5 s, 40 times, while a detector sends a backlog and records on.

    .venv/bin/python bench/outside/uploader_crashloop.py [--native] [--seed 4] [--rounds 40]

The detector first records 15 s alone (a backlog in its outbox), then the uploader crash-loops.
Checked: the invariant, no .part left in the spool, nothing left in the spool after the drain.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rig = Rig(Path(f"/tmp/s19o/up-crashloop-{'native' if a.native else 'py'}"), native=a.native)
    rig.detector()
    time.sleep(15)
    for _ in range(a.rounds):
        rig.uploader()
        time.sleep(rnd.uniform(0.2, 1.5))
        rig.kill("uploader")
    rig.uploader()
    time.sleep(5)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 90)
    rig.stop_all()
    res = rig.check()
    print("drained", ok, summary(res))
    print("lost", res["lost"][:5], "dup", list(res["duplicated"].items())[:3], "invented", res["invented"][:3])
    print("spool left:", sorted(p.name for p in (rig.root / "spool").rglob("*") if p.name != ".lock")[:10])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
