"""Files in the detector's outbox corrupted, truncated or deleted under the running detector.

    .venv/bin/python bench/outside/outbox_tamper.py [--native]

The detector records with no uploader until its outbox holds items; then one item each is
truncated, overwritten with random bytes (same size), has its .bin deleted, its .hdr deleted,
its .hdr overwritten with garbage. The uploader is started, the detector records on, and at
the end: the untouched items must all be stored once and decrypt to the journal's sha256; the
tampered ones must not be stored as footage, and each must be visible (log line, status count).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/tamper-{'native' if a.native else 'py'}"), native=a.native)
    ob = rig.root / "outbox"
    rig.detector()
    rig.wait_for(lambda: len(list(ob.glob("*.bin"))) >= 8, 40)
    time.sleep(0.5)
    bins = sorted(ob.glob("*.bin"), key=lambda p: p.stat().st_mtime)[:8]
    ids = [b.stem for b in bins]
    actions = {}
    b = ob / f"{ids[1]}.bin"
    b.write_bytes(b.read_bytes()[: b.stat().st_size // 2])
    actions[ids[1]] = "bin truncated to half"
    b = ob / f"{ids[2]}.bin"
    b.write_bytes(os.urandom(b.stat().st_size))
    actions[ids[2]] = "bin overwritten with random bytes"
    (ob / f"{ids[3]}.bin").unlink()
    actions[ids[3]] = "bin deleted"
    (ob / f"{ids[4]}.hdr").unlink()
    actions[ids[4]] = "hdr deleted"
    (ob / f"{ids[5]}.hdr").write_bytes(os.urandom(200))
    actions[ids[5]] = "hdr garbage"
    b = ob / f"{ids[6]}.bin"
    b.write_bytes(b.read_bytes() + b"extra")
    actions[ids[6]] = "bin extended by 5 bytes"
    print("tampered:", actions)
    time.sleep(1)
    rig.uploader()
    time.sleep(20)
    rc, st1 = rig.status()
    print("status during run:\n" + st1)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 40)
    rc, st = rig.status()
    print("drained:", ok)
    print("status at end:\n" + st)
    rig.stop_all()
    res = rig.check()
    print(summary(res))
    stored = rig.stored_ids()
    for i, what in actions.items():
        lines = [ln[:300] for ln in rig.grep(i) if "level=warning" in ln or "level=error" in ln]
        print(f"  {what}: stored={i in stored} altered={i in res['altered']} log lines={len(lines)}")
        for ln in lines[:3]:
            print("      " + ln)
    untouched_lost = [i for i in res["lost"] if i not in actions]
    print("untouched lost:", untouched_lost)
    print("refused dir:", sorted(p.name for p in (ob / "refused").glob("*")) if (ob / "refused").exists() else None)
    print("left in outbox:", sorted(p.name for p in ob.glob("*.*")))
    print("tracebacks:", rig.tracebacks()[:10])
    print("retransmit lines:", len(rig.grep("sent again")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
