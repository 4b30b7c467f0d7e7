"""The storage (the destination's disk) fills up mid-run, then space comes back.

    .venv/bin/python bench/outside/storage_full.py [--fsspec] [--full-s 20]

Needs root (a 20 MB tmpfs as the destination, filled by a filler). docs/backends.md: "no space or
quota" is a PermanentError (fsspec): kept in the spool, shown by `quickcam status` until `quickcam
retry`. Checked: status and log name the cause and the fix, after space is back and (if status shows
failures) `quickcam retry`, everything is stored once and decrypts; no traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, summary  # noqa: E402
from outbox_full import fill  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsspec", action="store_true")
    ap.add_argument("--full-s", type=float, default=20)
    a = ap.parse_args()
    root = Path(f"/tmp/s19o/storage-full{'-fsspec' if a.fsspec else ''}")
    toml = BASE_TOML
    if a.fsspec:
        toml = toml.replace('[storage.local]\npath = "storage"', f'[storage.local]\nkind = "fsspec"\nurl = "file://{root}/storage"')
    rig = Rig(root, toml=toml)
    st = rig.root / "storage"
    st.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(st)], check=True)
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        f = fill(st, 0)
        print("storage full after", len(rig.stored_ids()), "stored")
        time.sleep(a.full_s)
        _, s1 = rig.status()
        print("status while full:\n" + s1)
        rch, hc = rig.status("--healthcheck")
        print("healthcheck", rch, hc.strip()[:300])
        f.unlink()
        print("space back")
        time.sleep(10)
        _, s2 = rig.status()
        print("status 10 s after:\n" + s2)
        rig.stop("detector")
        ok = rig.wait_for(rig.drained, 30)
        if not ok:
            rcr, out = rig.qc("retry", "--config", "quickcam.toml")
            print("quickcam retry:", rcr, out.strip()[:300])
            ok = rig.wait_for(rig.drained, 40)
        rig.stop_all()
        res = rig.check()
        print("drained", ok, summary(res))
        print("lost:", res["lost"][:5])
        errs = rig.grep("proc=uploader level=(error|warning)")
        print("uploader warning/error lines:", len(errs))
        for ln in errs[:6]:
            print("   ", ln[:330])
        print("tracebacks:", rig.tracebacks()[:5])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(st)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
