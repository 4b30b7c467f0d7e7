"""Many busy cameras in one detector on a small box: every one a file camera of real pedestrians
(vtest.avi, 768x576, people in view all the time, looped, played in real time), re-encoded.

    .venv/bin/python bench/outside/many_cameras.py [--native] [--cameras 12] [--seconds 60]

More video than two cores can encode: frames must be dropped somewhere. Checked: every camera
records something, and what is not recorded is said (status `since start:` counts, a fault, the
health check), never dropped in silence: the recorded seconds per camera against the run's length.
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
    ap.add_argument("--cameras", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    head, rest = BASE_TOML.split("[recording]", 1)
    cams = "".join(f'[[cameras]]\nid = "cam{i}"\nsource = "file"\npath = "cam{i}.avi"\nloop = true\n'
                   for i in range(a.cameras))
    toml = head.split("[camera]")[0] + cams + "[recording]" + rest.replace("segment_s = 1.0", "segment_s = 2.0")
    rig = Rig(Path(f"/tmp/s20o/many-{a.cameras}-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    for i in range(a.cameras):
        shutil.copy(REPO / "tests/data/vtest.avi", rig.root / f"cam{i}.avi")
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        t0 = time.monotonic()
        time.sleep(a.seconds)
        _, st = rig.status()
        print("status:\n" + st)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck", hrc, hc.strip()[:400])
        ran = time.monotonic() - t0
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 120)
        rig.stop_all()
        secs: dict[str, float] = defaultdict(float)
        frames: dict[str, int] = defaultdict(int)
        for d in rig.journal_lines():
            if d["type"] == "segment":
                secs[d["camera"]] += (d["end_ms"] - d["start_ms"]) / 1000 + 0.1
                frames[d["camera"]] += d.get("frames", 0)
        print(f"ran {ran:.0f} s; recorded seconds (frames) per camera:",
              {c: f"{secs[c]:.0f} ({frames[c]})" for c in sorted(secs)})
        missing = [f"cam{i}" for i in range(a.cameras) if f"cam{i}" not in secs]
        print(("PASS" if not missing else "FAIL"), "every camera recorded:", missing)
        fails += bool(missing)
        said = [ln for ln in st.splitlines() if "not recorded" in ln or "dropped" in ln or "behind" in ln]
        short = {c: frames[c] for c in secs if frames[c] < 0.8 * secs[c] * 10}  # vtest: 10 fps
        print("cameras whose segments hold under 80 % of their frames:", short)
        print("status lines saying frames were dropped or behind:", len(said))
        for ln in said[:4]:
            print("   ", ln[:300])
        fails += invariant_failed(rig, drained, invented_counts=False)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
