"""A cloud destination that takes the upload and then hangs: it answers one byte at a time, slowly
(`--mode trickle`: a proxy or a broken load balancer), or never answers at all (`--mode silent`: a
firewall that drops the answer), beside a local folder destination.

    .venv/bin/python bench/outside/hung_destination.py [--native] [--mode trickle|silent] [--held-s 90]

The cloud is `kind = "cloudinary"` with `upload_prefix` pointed at a server of this script's own on
127.0.0.1 (docs/backends.md: a test server via upload_prefix), the SDK and its defaults as a user
has them. docs/reliability.md: a destination's outage delays its own copies, not the footage's
other copies; a long failure is said (`quickcam status`, the health check). Checked: the local copies
keep coming while the cloud hangs; status or the health check say the cloud is not taking uploads;
the uploader stops within its stop time; every journaled item stored once in the local folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from tests.fakes.hanging_http import HangingHttpServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--mode", choices=("trickle", "silent"), default="trickle")
    ap.add_argument("--held-s", type=float, default=90)
    a = ap.parse_args()
    server = HangingHttpServer(a.mode, trickle_every_s=5)
    toml = BASE_TOML.replace("[uploader]\n", '[uploader]\ndestinations = ["local", "cloud"]\n') + (
        f'[storage.cloud]\nkind = "cloudinary"\nupload_prefix = "http://127.0.0.1:{server.port}"\n')
    rig = Rig(Path(f"/tmp/s21o/hung-{a.mode}{'-native' if a.native else ''}"), toml=toml, native=a.native)
    with open(rig.root / "tokens.env", "a") as tok:
        tok.write("CLOUDINARY_URL=cloudinary://123456:secretsecret@democloud\n")
    rig.uploader()
    rig.detector()
    t0 = time.monotonic()
    fails = 0
    samples = []
    while time.monotonic() - t0 < a.held_s:
        time.sleep(15)
        samples.append((round(time.monotonic() - t0), len(rig.journal_lines()), len(rig.stored_ids())))
        print("t, journaled, stored locally:", samples[-1], "cloud requests:", server.requests, flush=True)
    rc, st = rig.status()
    print(f"status after {a.held_s:.0f} s (rc {rc}):\n{st.strip()[:1500]}")
    rch, hc = rig.status("--healthcheck")
    print(f"healthcheck rc={rch}: {hc.strip()[:500]}")
    behind = samples[-1][1] - samples[-1][2]
    print("journaled but not stored locally at the end of the hang:", behind)
    fails += int(behind > 10)
    fails += int(rch == 0 and "cloud" not in st.split("destination")[-1].split("local")[0])
    show_lines(rig, "cloud", "lines naming the cloud")
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    t1 = time.monotonic()
    rc_up = rig.stop("uploader", timeout=60)
    print(f"uploader stopped in {time.monotonic() - t1:.1f} s, rc {rc_up}")
    fails += int(time.monotonic() - t1 > 30)
    server.open = False
    rig.stop_all()
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
