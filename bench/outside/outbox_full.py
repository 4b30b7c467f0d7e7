"""The detector's outbox disk fills up and frees again, over and over, with a little space left each time.

    .venv/bin/python bench/outside/outbox_full.py [--native] [--cycles 6] [--seed 7] [--no-uploader-s 20]

Needs root (a 64 MB tmpfs mounted as the outbox). Each cycle a filler leaves 0-200 KB free for 4-9 s
(so a snapshot may fit where a segment does not), then is removed for 2-5 s. For the first
--no-uploader-s seconds the uploader is away, so the outbox holds the footage. Checked: status says
DISK FULL while full, the invariant over the journal, no traceback, the camera back to ok at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, summary  # noqa: E402


def fill(folder: Path, leave: int) -> Path:
    f = folder / "filler.bin"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    n = max(0, free - leave)
    with open(f, "ab") as fh:
        chunk = b"\0" * (1 << 20)
        while n > 0:
            try:
                fh.write(chunk[: min(n, len(chunk))])
                fh.flush()
            except OSError:
                break
            n -= min(n, len(chunk))
    return f


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-uploader-s", type=float, default=20)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rig = Rig(Path(f"/tmp/s19o/outbox-full-{'native' if a.native else 'py'}"), native=a.native)
    ob = rig.root / "outbox"
    ob.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(ob)], check=True)
    os.chmod(ob, 0o700)
    filler_dir = ob / "filler"
    try:
        rig.detector()
        t0 = time.monotonic()
        up = False
        seen = []
        time.sleep(3)
        filler_dir.mkdir(exist_ok=True)
        for c in range(a.cycles):
            leave = rnd.randint(0, 200_000)
            f = fill(filler_dir, leave)
            hold = rnd.uniform(4, 9)
            time.sleep(hold / 2)
            _, st = rig.status()
            seen.append(f"cycle {c} leave {leave} B: " + " / ".join(ln[:160] for ln in st.splitlines() if ln.startswith(("camera", "detector"))))
            time.sleep(hold / 2)
            f.unlink()
            time.sleep(rnd.uniform(2, 5))
            if not up and time.monotonic() - t0 > a.no_uploader_s:
                rig.uploader()
                up = True
        if not up:
            rig.uploader()
        print("\n".join(seen))
        time.sleep(8)
        _, st = rig.status()
        print("after:\n" + st)
        rig.stop("detector")
        ok = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        res = rig.check()
        print("drained:", ok)
        print(summary(res))
        print("lost:", res["lost"][:5])
        ev = [ln[:260] for ln in rig.grep("level=(error|warning)")]
        print("warning/error lines:", len(ev))
        for ln in ev[:16]:
            print("   ", ln)
        print("tracebacks:", rig.tracebacks()[:5])
        print("left:", sorted(p.name for p in ob.rglob("*"))[:20])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(ob)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
