"""A file camera (`loop = true`) whose file is replaced by another video, same path, while it runs.

    .venv/bin/python bench/outside/file_replaced.py [--native] [--mode rename|overwrite|shrink]

rename: the new video (another size, codec and rate: tree.avi over vtest.avi) renamed over the
path (what `mv`, rsync and editors do); overwrite: `cp` over it in place (the open file truncated
and rewritten); shrink: the same file cut to its first half in place. Checked: the camera keeps
watching (status `ok` or a fault, never a silent stop), footage after the swap is recorded and
plays (ffprobe), no traceback, the invariant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, REPO, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402

VTEST, TREE = REPO / "tests/data/vtest.avi", REPO / "tests/data/tree.avi"


def cam_line(rig: Rig) -> str:
    _, st = rig.status()
    return next((ln for ln in st.splitlines() if ln.startswith("camera cam0")), "")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--mode", default="rename", choices=["rename", "overwrite", "shrink"])
    ap.add_argument("--after-s", type=float, default=30)
    a = ap.parse_args()
    toml = BASE_TOML.replace('source = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0',
                             'source = "file"\npath = "cam.avi"\nloop = true')
    rig = Rig(Path(f"/tmp/s20o/file-{a.mode}-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    shutil.copy(VTEST, rig.root / "cam.avi")
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.journal_lines()) >= 3, 40)
        print("before:", cam_line(rig)[:250])
        n0 = len(rig.journal_lines())
        if a.mode == "rename":
            shutil.copy(TREE, rig.root / "cam.avi.new")
            os.replace(rig.root / "cam.avi.new", rig.root / "cam.avi")
        elif a.mode == "overwrite":
            shutil.copy(TREE, rig.root / "cam.avi")
        else:
            size = (rig.root / "cam.avi").stat().st_size
            os.truncate(rig.root / "cam.avi", size // 2)
        t0 = time.monotonic()
        print(f"file swapped ({a.mode}) with {n0} items journaled")
        lines = []
        while time.monotonic() - t0 < a.after_s:
            time.sleep(a.after_s / 3)
            ln = cam_line(rig)
            lines.append(ln)
            print(f"t+{time.monotonic() - t0:.0f}s", ln[:300])
        n1 = len(rig.journal_lines())
        watching = " fps" in lines[-1] or any(w in lines[-1] for w in ("LOST", "FAILING", "DEGRADED", "STALLED"))
        print(("PASS" if watching else "FAIL"), "camera watching or its fault said:", lines[-1][:200])
        fails += not watching
        print(f"items journaled after the swap: {n1 - n0}")
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck", hrc, hc.strip()[:300])
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        refused = sorted(p.name for p in (rig.root / "outbox" / "refused").glob("*.hdr"))
        print(("PASS" if not refused else "FAIL"), "nothing in outbox/refused:", refused[:4])
        fails += bool(refused)
        bad = []
        sizes = {}
        for f in sorted((rig.root / "decrypted").rglob("*.mp4")):
            r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                "stream=width,height,nb_read_frames", "-of", "csv=p=0", str(f)],
                               capture_output=True, text=True)
            sizes[r.stdout.strip()] = sizes.get(r.stdout.strip(), 0) + 1
            if r.returncode or r.stderr.strip() or not r.stdout.strip():
                bad.append(f"{f.name}: {r.stderr.strip()[:160]}")
        print("segments by width,height,frames (count):", dict(list(sizes.items())[:12]))
        print(("PASS" if not bad else "FAIL"), "every segment plays (ffprobe):", len(bad), bad[:4])
        fails += bool(bad)
        show_lines(rig, r"proc=detector level=(error|warning)", "detector warning/error lines", 10)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
