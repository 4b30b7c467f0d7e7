"""The uploader's local storage becomes read-only mid-run (a tmpfs remounted ro), then writable again.

    .venv/bin/python bench/outside/storage_ro.py [--native] [--ro-s 15]

Needs root (mount). docs/backends.md: a disk that refuses writes is a PermanentError, kept in the
spool and shown in `quickcam status` until `quickcam retry`. Checked: status and log say it in one
line, nothing is lost once storage is back (after `quickcam retry` when status shows failures),
nothing is stored twice, everything decrypts to the journal's sha256.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--ro-s", type=float, default=15)
    ap.add_argument("--fsspec", action="store_true", help="store through the fsspec back end (file://)")
    a = ap.parse_args()
    root = Path(f"/tmp/s19o/storage-ro-{'native' if a.native else 'py'}{'-fsspec' if a.fsspec else ''}")
    toml = BASE_TOML
    if a.fsspec:
        toml = toml.replace('[storage.local]\npath = "storage"', f'[storage.local]\nkind = "fsspec"\nurl = "file://{root}/storage"')
    rig = Rig(root, toml=toml, native=a.native)
    st = rig.root / "storage"
    st.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(st)], check=True)
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        subprocess.run(["mount", "-o", "remount,ro", str(st)], check=True)
        t0 = time.monotonic()
        print("storage read-only after", len(rig.stored_ids()), "stored")
        time.sleep(a.ro_s)
        rc, s1 = rig.status()
        print(f"status while read-only ({time.monotonic() - t0:.0f} s):\n{s1}")
        rch, hc = rig.status("--healthcheck")
        print("healthcheck rc", rch, hc.strip()[:300])
        subprocess.run(["mount", "-o", "remount,rw", str(st)], check=True)
        print("storage writable again")
        time.sleep(10)
        rc, s2 = rig.status()
        print("status 10 s after:\n" + s2)
        rig.stop("detector")
        ok = rig.wait_for(rig.drained, 30)
        if not ok:
            rcr, out = rig.qc("retry", "--config", "quickcam.toml")
            print("quickcam retry:", rcr, out.strip()[:500])
            ok = rig.wait_for(rig.drained, 40)
        rc, s3 = rig.status()
        print("drained:", ok, "\nstatus at end:\n" + s3)
        rig.stop_all()
        res = rig.check()
        print(summary(res))
        print("lost:", res["lost"][:5])
        errs = [ln[:300] for ln in rig.grep("level=(error|warning)") if "run." not in ln[:0]]
        print(f"warning/error lines: {len(errs)}")
        for ln in errs[:12]:
            print("   ", ln)
        print("tracebacks:", rig.tracebacks()[:5])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(st)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
