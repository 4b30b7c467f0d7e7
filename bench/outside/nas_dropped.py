"""The NAS behind `[storage.local] path` drops off mid-run (its mount goes away, `umount -l`), or is not
mounted yet when the uploader starts.

    .venv/bin/python bench/outside/nas_dropped.py [--fsspec]

Needs root. README: the uploader gets footage "off the machine"; [storage.local] path is "a folder
standing in for a cloud (or a NAS mount)". Checked: where footage goes once the mount is gone (the
empty mount point on the camera's own disk?), and whether `quickcam status`, the log or the health
check say anything.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsspec", action="store_true")
    a = ap.parse_args()
    root = Path(f"/tmp/s19o/nas-dropped{'-fsspec' if a.fsspec else ''}")
    toml = BASE_TOML.replace('path = "storage"', 'path = "nas"')
    if a.fsspec:
        toml = BASE_TOML.replace('[storage.local]\npath = "storage"', f'[storage.local]\nkind = "fsspec"\nurl = "file://{root}/nas"')
    rig = Rig(root, toml=toml)
    nas = rig.root / "nas"
    nas.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(nas)], check=True)
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(list(nas.rglob("*.qsc"))) >= 3, 40)
        on_nas = len(list(nas.rglob("*.qsc")))
        subprocess.run(["umount", "-l", str(nas)], check=True)
        print(f"NAS dropped (umount -l) with {on_nas} file(s) on it")
        time.sleep(20)
        local = [p for p in nas.rglob("*.qsc")]
        _, st = rig.status()
        print(st)
        rch, hc = rig.status("--healthcheck")
        print("healthcheck", rch, hc.strip()[:200])
        print(f"files now under the empty mount point on this machine's own disk: {len(local)}")
        print("uploader warning/error lines:", [ln[:200] for ln in rig.grep("proc=uploader level=(error|warning)")][:4])
        rc, doc = rig.qc("doctor", "--config", "quickcam.toml")
        print("doctor:", [ln for ln in doc.splitlines() if "storage" in ln])
    finally:
        rig.stop_all()
        subprocess.run(["umount", str(nas)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
