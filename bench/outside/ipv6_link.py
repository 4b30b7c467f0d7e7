"""The link over IPv6: the uploader and the detector on the IPv6 loopback (`tcp://[::1]:PORT`), the uploader
bound to every IPv6 address (`tcp://[::]:PORT`, dual stack) or to `tcp://*:PORT`, and a detector pointed at
[::1] while the uploader listens on IPv4 only (`tcp://0.0.0.0:PORT`).

    .venv/bin/python bench/outside/ipv6_link.py [--native] [--only v6-both,v6-any,star,v4-only]

docs/deploy.md (Two machines): `[link] endpoint` is a `tcp://` address on both sides ("tcp://0.0.0.0:5557, all
interfaces"); nothing says IPv4 only, and a home network with IPv6 addresses (or a host name resolving to one)
is common. Plain TCP (`link.allow_plain_tcp`) stands in for CURVE here. Checked per case within ~30 s: footage
is stored over the link, or a process refuses the endpoint in one line (exit 2), or (v4-only, a reachable
address nobody serves) the detector says it is not connected; never a link that looks up and carries nothing,
no traceback; the invariant for the cases that ran.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, tracebacks_failed  # noqa: E402

CASES = {  # name: (uploader's endpoint, detector's endpoint), {port} filled in
    "v6-both": ("tcp://[::1]:{port}", "tcp://[::1]:{port}"),
    "v6-any": ("tcp://[::]:{port}", "tcp://[::1]:{port}"),
    "star": ("tcp://*:{port}", "tcp://[::1]:{port}"),
    "v4-only": ("tcp://0.0.0.0:{port}", "tcp://[::1]:{port}"),
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::", 0))
        return s.getsockname()[1]


def run_case(name: str, native: bool) -> int:
    port = _free_port()
    up_ep, det_ep = (e.format(port=port) for e in CASES[name])
    toml = BASE_TOML.replace("[link]", "[link]\nallow_plain_tcp = true")
    rig = Rig(Path(f"/tmp/s23o/ipv6-{name}-{'native' if native else 'py'}"), toml=toml, native=native)
    fails = 0
    print(f"== {name}: uploader {up_ep}, detector {det_ep}")
    try:
        up = rig.uploader(env={"QUICKCAM_LINK__ENDPOINT": up_ep})
        det = rig.detector(env={"QUICKCAM_LINK__ENDPOINT": det_ep})
        stored = rig.wait_for(lambda: len(rig.stored_ids()) >= 2 or up.poll() is not None
                              or det.poll() is not None, 35) and len(rig.stored_ids()) >= 2
        _, st = rig.status()
        lines = [ln for ln in st.splitlines() if ln.startswith(("uploader:", "detector:"))]
        for ln in lines:
            print("   ", ln[:240])
        for who, p in (("uploader", up), ("detector", det)):
            if p.poll() is not None:
                out = (rig.root / f"{who}.{1 if who == 'uploader' else 2}.out").read_text(errors="replace")
                print(f"    {who} exited {p.returncode}: {out.strip().splitlines()[-1:]!r}")
        if stored:
            print(f"PASS {name}: footage stored over {det_ep}")
            rig.stop("detector")
            drained = rig.wait_for(rig.drained, 40)
            rig.stop_all()
            fails += invariant_failed(rig, drained)
        else:
            exited = [p for p in (up, det) if p.poll() is not None]
            one_line = any(p.returncode == 2 for p in exited)
            det_line = next((ln for ln in lines if ln.startswith("detector:")), "")
            said = "NOT CONNECTED" in det_line or "no answer" in det_line.lower()
            expected_down = name == "v4-only"
            ok = one_line or (expected_down and said)
            print(("PASS" if ok else "FAIL"), f"{name}: nothing stored in 35 s; refused in one line: {one_line}; "
                  f"detector says not connected: {said}")
            fails += not ok
            rig.stop_all()
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return fails


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--only", default=",".join(CASES))
    a = ap.parse_args()
    fails = 0
    for name in a.only.split(","):
        fails += run_case(name, a.native)
        time.sleep(0.5)
    print("FAIL" if fails else "PASS", f"{fails} failing check(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
