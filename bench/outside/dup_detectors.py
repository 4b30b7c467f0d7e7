"""Two detectors with the same name: the Python and the native detector, same camera id, one uploader.

    .venv/bin/python bench/outside/dup_detectors.py --same-outbox | --own-outbox

--same-outbox: both on one outbox: the second must refuse to start in one line (docs/reliability.md 12),
whichever kind starts first. --own-outbox: each its own outbox, one camera id: the uploader must say
FAULT (scenario 14), and every item of both journals must be stored once and decrypt.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from harness import BASE_TOML, Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--same-outbox", action="store_true")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/dup-{'same' if a.same_outbox else 'own'}"))
    if a.same_outbox:
        for first_native in (False, True):
            rig.uploader()
            rig.detector(name="first", native=first_native)
            time.sleep(3)
            p2 = rig.detector(name="second", native=not first_native)
            with contextlib.suppress(Exception):
                p2.wait(15)
            out = sorted(rig.root.glob("second.*.out"))[-1].read_text()
            print(f"first {'native' if first_native else 'python'}: second rc={p2.poll()} lines={len(out.splitlines())}: {out.strip()[:300]}")
            rig.stop("second")
            rig.stop("first")
            rig.stop("uploader")
        ok = rig.wait_for(lambda: True, 1)
        rig.uploader()
        ok = rig.wait_for(rig.drained, 40)
        rig.stop_all()
        res = rig.check()
        print("drained", ok, summary(res))
        print("tracebacks:", rig.tracebacks()[:5])
        return 0
    (rig.root / "second.toml").write_text(BASE_TOML.replace("[recording]", '[recording]\noutbox_dir = "outbox2"'))
    rig.uploader()
    rig.detector(name="first", native=False)
    rig.detector(name="second", native=True, config="second.toml")
    time.sleep(25)
    rc, st = rig.status()
    print(st)
    rch, hc = rig.status("--healthcheck")
    print("healthcheck", rch, hc.strip()[:300])
    rig.kill("second")
    print("native detector SIGKILLed")
    time.sleep(12)
    rc, st = rig.status()
    print(st)
    rch, hc = rig.status("--healthcheck")
    print("healthcheck", rch, hc.strip()[:300])
    rig.stop("first")
    rig.detector(name="second", native=True, config="second.toml")
    time.sleep(6)
    rig.stop("second")
    ok = rig.wait_for(lambda: rig.drained("outbox") and rig.drained("outbox2"), 60)
    rig.stop_all()
    res = rig.check(outboxes=("outbox", "outbox2"))
    print("drained", ok, summary(res))
    print("lost", res["lost"][:5], "dup", list(res["duplicated"].items())[:3])
    print("uploader error lines:", [ln[:250] for ln in rig.grep("proc=uploader level=error")][:4])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
