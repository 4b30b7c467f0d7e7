"""A long event: a file camera with people in view all the time (vtest.avi, looped), cut by
`recording.max_event_s` into several events, each into many segments.

    .venv/bin/python bench/outside/long_event.py [--native] [--seconds 120] [--max-event-s 30]

docs: "a longer event is cut into several". Checked from the journal: each event's segments are
numbered 0..n without a hole, the recorded time has no gap (between segments, and where one event
is cut and the next begins: frames lost at the cut would be a hole in the footage), and the invariant.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, REPO, Rig, invariant_failed, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--max-event-s", type=float, default=30)
    ap.add_argument("--segment-s", type=float, default=1.0)
    a = ap.parse_args()
    toml = BASE_TOML.replace('source = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0',
                             'source = "file"\npath = "cam.avi"\nloop = true')
    toml = toml.replace("segment_s = 1.0", f"segment_s = {a.segment_s}\nmax_event_s = {a.max_event_s}")
    rig = Rig(Path(f"/tmp/s20o/long-event-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    shutil.copy(REPO / "tests/data/vtest.avi", rig.root / "cam.avi")
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        time.sleep(a.seconds)
        _, st = rig.status()
        print("status:\n" + st)
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        segs = [d for d in rig.journal_lines() if d["type"] == "segment"]
        by_event: dict[str, list[dict]] = defaultdict(list)
        for d in segs:
            by_event[d["event"]].append(d)
        print(f"{len(segs)} segments in {len(by_event)} event(s)")
        holes = []
        for ev, ds in by_event.items():
            seqs = sorted(d["seq"] for d in ds)
            span = (max(d["end_ms"] for d in ds) - min(d["start_ms"] for d in ds)) / 1000
            print(f"  event {ev}: seq {seqs[0]}..{seqs[-1]} ({len(seqs)}), {span:.1f} s")
            if seqs != list(range(len(seqs))):
                holes.append(f"event {ev} seq {seqs}")
        ok = not holes
        print(("PASS" if ok else "FAIL"), "segments numbered without a hole:", holes[:3])
        fails += not ok
        frame_ms = 1000 / 10.0  # vtest.avi: 10 fps
        ordered = sorted(segs, key=lambda d: d["start_ms"])
        gaps = []
        for x, y in zip(ordered, ordered[1:], strict=False):
            gap = y["start_ms"] - x["end_ms"]
            if gap > 1.6 * frame_ms:
                gaps.append((gap, x["event"][-6:], x["seq"], y["event"][-6:], y["seq"]))
        ok = not gaps
        print(("PASS" if ok else "FAIL"), f"no gap over 1.6 frames in the recorded time: {len(gaps)}",
              sorted(gaps, reverse=True)[:6])
        fails += not ok
        fails += invariant_failed(rig, drained, invented_counts=False)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
