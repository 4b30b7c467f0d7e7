"""The uploader's state while it is stopped with uploads pending in its spool (storage refusing):
the ledger overwritten with garbage, the ledger (state/) deleted, or the destination renamed in
the config; then the uploader is started again with storage back.

    .venv/bin/python bench/outside/ledger_faults.py --case garbage|garbage-fix|deleted|renamed-dest|moved-spool

Checked: every journaled item ends up stored once (or, if it cannot be, `quickcam status` and the log
say so with the fix), nothing left in the spool without a word.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="garbage")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/ledger-{a.case}"))
    st = rig.root / "storage"
    st.write_text("a file where the storage folder goes: storage refuses\n")
    rig.uploader()
    rig.detector()
    rig.wait_for(lambda: len(rig.journal_lines()) >= 8, 40)
    time.sleep(2)
    rig.stop("detector")
    rig.wait_for(lambda: not list((rig.root / "outbox").glob("*.bin")), 30)
    rig.stop("uploader")
    spool = sorted(p.name for p in (rig.root / "spool").glob("*"))
    print(f"spool holds {len(spool)} file(s); journal {len(rig.journal_lines())}; state:",
          sorted(p.name for p in (rig.root / "state").glob("*")))
    if a.case == "garbage":
        for p in (rig.root / "state").glob("ledger*"):
            p.write_bytes(os.urandom(4096))
    elif a.case == "garbage-fix":
        for p in (rig.root / "state").glob("ledger*"):
            p.write_bytes(os.urandom(4096))
        p = rig.uploader()
        p.wait(30)
        out = sorted(rig.root.glob("uploader.*.out"))[-1].read_text().strip()
        print("start with a garbage ledger:", p.returncode, out[:300])
        os.rename(rig.root / "state/ledger.sqlite3", rig.root / "state/ledger.sqlite3.damaged")
        print("followed the fix: mv state/ledger.sqlite3 state/ledger.sqlite3.damaged")
    elif a.case == "deleted":
        shutil.rmtree(rig.root / "state")
    elif a.case == "moved-spool":  # as `quickcam doctor` advises for a small spool disk
        toml = BASE_TOML.replace("[uploader]", '[uploader]\nspool_dir = "bigdisk/spool"')
        (rig.root / "quickcam.toml").write_text(toml)
    elif a.case == "renamed-dest":
        toml = BASE_TOML.replace("[storage.local]", '[storage.nas]\nkind = "local"').replace(
            "[uploader]", '[uploader]\ndestinations = ["nas"]')
        (rig.root / "quickcam.toml").write_text(toml)
    st.unlink()
    p = rig.uploader()
    time.sleep(30)
    print("uploader running:", p.poll() is None, "rc", p.poll())
    _, s = rig.status()
    print("status:\n" + s)
    rch, hc = rig.status("--healthcheck", "uploader")
    print("healthcheck", rch, hc.strip()[:300])
    rig.stop_all()
    res = rig.check()
    print(summary(res))
    print("lost:", res["lost"][:5])
    print("spool now:", sorted(str(p.relative_to(rig.root)) for p in (rig.root / "spool").rglob("*") if p.is_file())[:12])
    out = sorted(rig.root.glob("uploader.*.out"))[-1].read_text()
    print("last uploader run, warning/error lines:")
    for ln in out.splitlines():
        if "level=warning" in ln or "level=error" in ln or not ln.startswith("ts="):
            print("   ", ln[:300])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
