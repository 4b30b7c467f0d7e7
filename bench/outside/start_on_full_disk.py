"""A detector (re)started while its outbox disk is already full (a restart after a crash, a reboot).

    .venv/bin/python bench/outside/start_on_full_disk.py [--native]

Needs root (a 16 MB tmpfs as the outbox, filled before the start). docs/reliability.md scenario 9: on a
full disk detection goes on (snapshots held in memory, recording stepped down). Checked: does the
detector start and watch, or exit; one line or a traceback; what `quickcam status` says.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig  # noqa: E402
from outbox_full import fill  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/start-full-{'native' if a.native else 'py'}"), native=a.native)
    ob = rig.root / "outbox"
    ob.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(ob)], check=True)
    os.chmod(ob, 0o700)
    try:
        fill(ob, 0)
        p = rig.detector()
        time.sleep(12)
        print("detector running after 12 s:", p.poll() is None, "rc", p.poll())
        out = sorted(rig.root.glob("detector.*.out"))[-1].read_text()
        print("traceback:", "Traceback" in out)
        for ln in [x for x in out.splitlines() if "level=info" not in x][-6:]:
            print("   ", ln[:250])
        _, st = rig.status()
        print("status:", st.strip()[:400])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(ob)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
