"""The destination folder made unwritable (chmod 0500) mid-run, then writable again; the uploader runs
without CAP_DAC_OVERRIDE (setpriv), so the mode counts as for a normal user.

    .venv/bin/python bench/outside/storage_eacces.py [--fsspec] [--denied-s 12]

docs/backends.md: permission denied is a PermanentError: kept in the spool, `quickcam status` shows
it until `quickcam retry`. Checked: what status and the health check say once the folder is writable
again and new footage uploads (are the failed items still said, and where?).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, summary  # noqa: E402

SETPRIV = ["setpriv", "--inh-caps=-dac_override,-fowner", "--bounding-set=-dac_override,-fowner"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsspec", action="store_true")
    ap.add_argument("--denied-s", type=float, default=12)
    a = ap.parse_args()
    root = Path(f"/tmp/s19o/storage-eacces{'-fsspec' if a.fsspec else ''}")
    toml = BASE_TOML
    if a.fsspec:
        toml = toml.replace('[storage.local]\npath = "storage"', f'[storage.local]\nkind = "fsspec"\nurl = "file://{root}/storage"')
    rig = Rig(root, toml=toml)
    st = rig.root / "storage"
    st.mkdir()
    rig.uploader(wrap=SETPRIV)
    rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
    for d in [st, *[p for p in st.rglob("*") if p.is_dir()]]:
        os.chmod(d, 0o500)
    print("storage chmod 0500 after", len(rig.stored_ids()), "stored")
    time.sleep(a.denied_s)
    _, s1 = rig.status()
    print("status while denied:\n" + s1)
    for d in [st, *[p for p in st.rglob("*") if p.is_dir()]]:
        os.chmod(d, 0o700)
    print("storage writable again")
    time.sleep(15)
    _, s2 = rig.status()
    print("status 15 s after (no retry yet):\n" + s2)
    rch, hc = rig.status("--healthcheck")
    print("healthcheck", rch, hc.strip()[:300])
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 20)
    if not ok:
        rcr, out = rig.qc("retry", "--config", "quickcam.toml")
        print("quickcam retry:", rcr, out.strip()[:200])
        ok = rig.wait_for(rig.drained, 40)
    rig.stop_all()
    res = rig.check()
    print("drained", ok, summary(res))
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
