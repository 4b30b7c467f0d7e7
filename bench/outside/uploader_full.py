"""The uploader's own disk (spool + state on one 100 MB tmpfs) filled to ENOSPC while storage works;
the uploader SIGKILLed while it is full and started again on the full disk; then space comes back.

    .venv/bin/python bench/outside/uploader_full.py [--native] [--full-s 20]

Needs root (mount). Checked: `quickcam status` and the log say why footage waits (one line, the fix),
the restart on a full disk does not crash in a loop with a traceback, the invariant once space is
back, no .part left in the spool.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, summary  # noqa: E402
from outbox_full import fill  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--full-s", type=float, default=20)
    a = ap.parse_args()
    toml = BASE_TOML.replace("[uploader]", '[uploader]\nspool_dir = "var/spool"\nstate_dir = "var/state"')
    rig = Rig(Path(f"/tmp/s19o/uploader-full-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    var = rig.root / "var"
    var.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100m,mode=0700", "tmpfs", str(var)], check=True)
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        f = fill(var, 0)
        print("uploader disk full; free bytes:", os.statvfs(var).f_bavail * os.statvfs(var).f_frsize)
        time.sleep(a.full_s / 2)
        _, st = rig.status()
        print("status while full:\n" + st)
        rig.kill("uploader")
        p = rig.uploader()
        time.sleep(a.full_s / 2)
        print("uploader restarted on the full disk: running =", p.poll() is None, "rc", p.poll())
        _, st = rig.status()
        print("status after restart on full disk:\n" + st)
        rch, hc = rig.status("--healthcheck")
        print("healthcheck", rch, hc.strip()[:300])
        if p.poll() is not None:
            print("uploader output:", sorted(rig.root.glob("uploader.*.out"))[-1].read_text()[-1500:])
        f.unlink()
        print("space back")
        if p.poll() is not None:
            rig.uploader()
        time.sleep(10)
        _, st = rig.status()
        print("status 10 s after:\n" + st)
        rig.stop("detector")
        ok = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        res = rig.check()
        print("drained:", ok)
        print(summary(res))
        print("lost:", res["lost"][:5])
        print(".part left:", [str(p) for p in var.rglob("*.part")])
        ev = [ln[:260] for ln in rig.grep("proc=uploader level=(error|warning)")]
        print("uploader warning/error lines:", len(ev))
        for ln in ev[:12]:
            print("   ", ln)
        print("tracebacks:", rig.tracebacks()[:8])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(var)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
