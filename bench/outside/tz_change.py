"""The time zone changed between runs (TZ), as a laptop carried across zones or a DST change does.

    .venv/bin/python bench/outside/tz_change.py [--native]

Each run of both processes under another TZ (UTC+14, then UTC-12, then UTC). docs/viewer.md: day
folders are the UTC date. Checked: every item stored once (the invariant across the three runs),
each stored path's day is the UTC day of the item's own time, no item's day moves with TZ.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, invariant_failed, tracebacks_failed  # noqa: E402

ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "UTC")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--seconds", type=float, default=12)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s20o/tz-{'native' if a.native else 'py'}"), native=a.native)
    fails = 0
    try:
        for tz in ZONES:
            rig.uploader(env={"TZ": tz})
            rig.detector(env={"TZ": tz})
            time.sleep(a.seconds)
            rig.stop("detector")
            rig.wait_for(rig.drained, 30)
            rig.stop("uploader")
            print(f"TZ={tz}: journaled {len(rig.journal_lines())}, stored {len(rig.stored_ids())}")
        fails += invariant_failed(rig)
        times = {d["id"]: d["time_ms"] for d in rig.journal_lines()}
        wrong = []
        for item, paths in rig.stored_ids().items():
            day = re.search(r"/(\d{4}-\d{2}-\d{2})/", "/" + paths[0])
            want = datetime.fromtimestamp(times[item] / 1000, UTC).strftime("%Y-%m-%d") if item in times else None
            if want and (not day or day.group(1) != want):
                wrong.append((paths[0], want))
        print(("PASS" if not wrong else "FAIL"), "each stored under its UTC day:", len(wrong), wrong[:3])
        fails += bool(wrong)
        st = json.loads((rig.root / "outbox" / "detector-status.json").read_text())
        print("detector status time:", st.get("time"))
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
