"""SIGTERM to the detector while its outbox disk is full and footage is held in memory.

    .venv/bin/python bench/outside/stop_while_full.py [--native]

Needs root (a 64 MB tmpfs as the outbox, filled). docs/reliability.md scenario 9: on a full disk the
onset snapshot is held in memory until the disk takes writes. A stop then cannot write it. Checked:
does the stop say what it could not keep (one line, counted), or is the held footage dropped in silence?
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera_vanish import cam_line  # noqa: E402
from harness import Rig  # noqa: E402
from outbox_full import fill  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/stop-full-{'native' if a.native else 'py'}"), native=a.native)
    ob = rig.root / "outbox"
    ob.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(ob)], check=True)
    os.chmod(ob, 0o700)
    try:
        rig.detector()
        rig.wait_for(lambda: (ob / "detector-status.json").exists(), 30)  # started: lock and status written
        (ob / "filler").mkdir()
        f = fill(ob / "filler", 0)
        rig.wait_for(lambda: "held" in cam_line(rig), 30, every=0.5)
        print("before stop:", cam_line(rig)[:300])
        t = time.monotonic()
        rc = rig.stop("detector")
        print(f"stopped rc={rc} in {time.monotonic() - t:.1f} s")
        out = sorted(rig.root.glob("detector.*.out"))[-1].read_text()
        tail = [ln for ln in out.splitlines() if ln > ""][-8:]
        print("last lines of the detector:")
        for ln in tail:
            print("   ", ln[:300])
        f.unlink()
        print("journal lines:", len(rig.journal_lines()), "| staging:", [p.name for p in (ob / ".staging").glob("*")])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(ob)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
