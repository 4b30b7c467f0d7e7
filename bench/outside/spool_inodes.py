"""The uploader's spool and state on a disk out of inodes (files), bytes still free: a small tmpfs
(`nr_inodes`) filled with empty files by another program while footage comes; then the files removed.

    .venv/bin/python bench/outside/spool_inodes.py [--native] [--held-s 20]

Needs root (mount). `df -h` shows the disk with room, `df -i` full: ENOSPC all the same. docs:
a full disk is said with its fix and footage waits in the detector's outbox; nothing is lost.
Checked: the refusal said in `quickcam status` in words that fit (not a byte count that says there
is room and nothing else), the processes run on, every journaled item stored once after the files go.
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
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--held-s", type=float, default=20)
    a = ap.parse_args()
    toml = BASE_TOML.replace("[uploader]", '[uploader]\nspool_dir = "var/spool"\nstate_dir = "var/state"')
    rig = Rig(Path(f"/tmp/s21o/spool-inodes{'-native' if a.native else ''}"), toml=toml, native=a.native)
    var = rig.root / "var"
    var.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m,nr_inodes=400,mode=0700", "tmpfs", str(var)], check=True)
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60)
        filler = var / "filler"
        filler.mkdir()
        n = 0
        while True:
            try:
                (filler / f"f{n}").touch()
                n += 1
            except OSError:
                break
        st_vfs = os.statvfs(var)
        print(f"{n} empty files made; free bytes {st_vfs.f_bavail * st_vfs.f_frsize >> 20} MB, free inodes {st_vfs.f_favail}")
        n_stored = len(rig.stored_ids())
        time.sleep(a.held_s)
        _, st = rig.status()
        print("status while out of inodes:\n" + st.strip()[:1200])
        rch, hc = rig.status("--healthcheck")
        print(f"healthcheck rc={rch}: {hc.strip()[:300]}")
        alive = {k: p.poll() is None for k, p in rig.procs.items()}
        print("alive:", alive, "stored meanwhile:", len(rig.stored_ids()) - n_stored)
        fails += int(not all(alive.values()))
        fails += int("inode" not in st.lower() and "files" not in st.lower() and "full" not in st.lower())
        shutil.rmtree(filler)
        print("filler removed")
        time.sleep(8)
        rig.stop("detector")
        ok = rig.wait_for(rig.drained, 60)
        show_lines(rig, r"proc=uploader level=(warning|error)", "uploader warning/error lines", shown=8)
        rig.stop_all()
        fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    finally:
        rig.stop_all()
        subprocess.run(["umount", "-l", str(var)], check=False)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
