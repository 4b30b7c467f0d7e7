"""The destination folder (`[storage.local] path`, or its fsspec `url`) replaced mid-run: by a file (a
mistaken `cp footage.zip storage`, a backup tool), by a symlink loop (`ln -s storage storage` after a
`mv`), or by a symlink to a folder that is gone (a NAS's mount point moved); then put back.

    .venv/bin/python bench/outside/dest_replaced.py [--native] [--fsspec] [--case file|loop|dangling] [--held-s 15]

docs/backends.md: the local back end is a folder standing in for a cloud (or a NAS mount); a permanent
failure is kept in the spool and shown by `quickcam status` until `quickcam retry`; docs/reliability.md: every
failure counted, said with its fix. Checked: while it lasts, status and the log say the destination fails and
why in words (not a bare errno), with a fix; no traceback; once it is back (and `quickcam retry` if status
shows items failed for good), every journaled item is stored once and decrypts (the invariant).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--fsspec", action="store_true")
    ap.add_argument("--case", default="file", choices=["file", "loop", "dangling"])
    ap.add_argument("--held-s", type=float, default=15)
    a = ap.parse_args()
    root = Path(f"/tmp/s23o/dest-{a.case}{'-fsspec' if a.fsspec else ''}-{'native' if a.native else 'py'}")
    toml = BASE_TOML
    if a.fsspec:
        toml = toml.replace('[storage.local]\npath = "storage"',
                            f'[storage.local]\nkind = "fsspec"\nurl = "file://{root}/storage"')
    rig = Rig(root, toml=toml)
    st = rig.root / "storage"
    aside = rig.root / "storage.aside"
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        if not rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60):
            print("FAIL nothing stored before the fault")
            return 1
        st.rename(aside)
        if a.case == "file":
            st.write_bytes(b"PK\x03\x04 not a folder\n")
        elif a.case == "loop":
            os.symlink("storage", st)
        else:
            os.symlink(rig.root / "mnt-gone" / "nas", st)
        print(f"storage replaced ({a.case}) with {len(rig.stored_ids(storage='storage.aside'))} stored")
        time.sleep(a.held_s)
        _, s1 = rig.status()
        print("status while replaced:\n" + s1)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck", hrc, hc.strip()[:300])
        local = next((ln for ln in s1.splitlines() if ln.startswith("local")), "")
        said = any(w in s1.lower() for w in ("not a directory", "not a folder", "symbolic link", "symlink",
                                             "no such file", "mounted", "missing"))
        print(("PASS" if said else "FAIL"), f"status says why the destination fails: {local[:200]!r}")
        fails += not said
        if st.is_symlink() or st.is_file():
            st.unlink()
        elif st.exists():  # the uploader made something there
            print("NOTE the uploader made", st, "while it was replaced:",
                  [str(p.relative_to(st)) for p in st.rglob("*")][:8])
            for p in st.rglob("*.qsc"):
                dst = aside / p.relative_to(st)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(p), dst)
            shutil.rmtree(st)
        aside.rename(st)
        print("storage put back")
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 30)
        _, s2 = rig.status()
        print("status 30 s after (no retry yet):\n" + s2)
        if not drained:
            rcr, out = rig.qc("retry", "--config", "quickcam.toml")
            print("quickcam retry:", rcr, out.strip()[:300])
            drained = rig.wait_for(rig.drained, 40)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"level=(error|warning)", "warning/error lines", 12)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
