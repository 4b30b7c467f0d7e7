"""A cloud destination that answers success but kept less than it was sent (a proxy that cut the body
short, a server that stored part of it): does the uploader count footage stored that is not?

    .venv/bin/python bench/outside/stored_short.py [--native] [--bad 6] [--held-s 40]

The cloud is `kind = "cloudinary"` pointed by `upload_prefix` (docs/backends.md: a test server) at the
project's Upload API fake, told (`halve_next`) to keep only the first half of each of the first `--bad`
uploads and to describe what it kept, as Cloudinary does (`bytes`, MD5 `etag`). `local` beside it. docs/reliability.md:
no footage is ever lost; an upload counts once the destination holds it. Checked: every item the cloud holds
at the end is byte for byte the local copy (the local copies are checked by the harness's invariant);
nothing the uploader counted stored in the cloud is short; the damage is said.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from tests.fakes.cloudinary_server import FakeCloudinary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--bad", type=int, default=6)
    ap.add_argument("--held-s", type=float, default=40)
    a = ap.parse_args()
    cloud = FakeCloudinary().start()
    cloud.halve_next = a.bad
    toml = BASE_TOML.replace("[uploader]\n", '[uploader]\ndestinations = ["local", "cloud"]\n') + (
        f'[storage.cloud]\nkind = "cloudinary"\nfolder = "cam"\nupload_prefix = "{cloud.upload_prefix}"\n')
    rig = Rig(Path(f"/tmp/s22o/short{'-native' if a.native else ''}"), toml=toml, native=a.native)
    with open(rig.root / "tokens.env", "a") as tok:
        tok.write(f"CLOUDINARY_URL={cloud.cloudinary_url}\n")
    rig.uploader()
    rig.detector()
    time.sleep(a.held_s)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    time.sleep(5)  # the cloud's retries (retry_max_s 2)
    rc, st = rig.status()
    print(f"status (rc {rc}):\n{st.strip()[:1500]}")
    rig.stop_all()
    cloud.stop()
    fails = 0
    local = {p.name: p.read_bytes() for p in (rig.root / "storage").rglob("*.qsc") if "logs" not in p.parts}
    held = {pid.rsplit("/", 1)[-1]: a.data for (rt, pid), a in cloud.assets.items()}
    short = [k for k, v in held.items() if k in local and v != local[k]]
    missing = [k for k in local if k not in held]
    print(f"cloud holds {len(held)}, local {len(local)}; uploads cut short by the server: {a.bad - cloud.halve_next}")
    print("FAIL" if short else "PASS", "cloud copies that differ from the local one (counted stored):", len(short),
          short[:3])
    print("FAIL" if missing else "PASS", "local items never in the cloud:", len(missing), missing[:3])
    fails += int(bool(short)) + int(bool(missing))
    show_lines(rig, r"cloud.*(short|bytes|differ|etag|md5)", "lines saying the cloud kept other bytes")
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
