"""Two hosts: the detector in its own network namespace, joined to the uploader by a veth pair;
the link cut (the uploader's end set down: packets vanish, no RST) for a while during events.

    sudo .venv/bin/python bench/outside/link_cut.py [--native] [--cut-s 60]

Needs root (`ip netns`). Plain TCP (`link.allow_plain_tcp`) stands in for CURVE: the cut is the
same to either. Checked: both sides say it while it lasts (`quickcam status`, health check), the
footage waits in the outbox and, once the link is back, is stored once each; nothing lost.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402

NS, UP_IF, DET_IF, UP_IP, DET_IP = "s20qc", "s20qa", "s20qb", "10.231.0.1", "10.231.0.2"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True)


def net_up() -> None:
    net_down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", UP_IF, "type", "veth", "peer", "name", DET_IF)
    sh("ip", "link", "set", DET_IF, "netns", NS)
    sh("ip", "addr", "add", f"{UP_IP}/24", "dev", UP_IF)
    sh("ip", "link", "set", UP_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{DET_IP}/24", "dev", DET_IF)
    sh("ip", "netns", "exec", NS, "ip", "link", "set", DET_IF, "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")


def net_down() -> None:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "link", "del", UP_IF], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--cut-s", type=float, default=60)
    ap.add_argument("--port", type=int, default=47321)
    a = ap.parse_args()
    toml = BASE_TOML.replace("[link]", f'[link]\nendpoint = "tcp://{UP_IP}:{a.port}"\nallow_plain_tcp = true')
    rig = Rig(Path(f"/tmp/s20o/link-cut-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    fails = 0
    net_up()
    try:
        rig.uploader()
        time.sleep(1.5)
        rig.detector(wrap=["ip", "netns", "exec", NS])
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        sh("ip", "link", "set", UP_IF, "down")
        t0 = time.monotonic()
        print(f"link cut with {len(rig.stored_ids())} stored")
        saw = {"health red": False, "detector says link down": False, "uploader says detector gone": False}
        while time.monotonic() - t0 < a.cut_s:
            time.sleep(min(15, a.cut_s / 3))
            _, st = rig.status()
            hrc, hc = rig.status("--healthcheck")
            lines = st.splitlines()
            det = " / ".join(ln for ln in lines if ln.startswith("detector"))
            up = " / ".join(ln for ln in lines if ln.startswith("uploader"))
            print(f"t+{time.monotonic() - t0:.0f}s health {hrc} {hc.strip()[:200]!r}")
            print("   ", up[:300])
            print("   ", det[:300])
            saw["health red"] |= hrc != 0
            saw["detector says link down"] |= "NOT CONNECTED" in det or "silent" in det.lower()
            saw["uploader says detector gone"] |= ("0 detector(s) connected" in up or "silent" in up.lower()
                                                   or "SILENT" in st)
        for k, v in saw.items():
            print(("PASS" if v else "FAIL"), k)
            fails += not v
        ob = len(list((rig.root / "outbox").glob("*.bin")))
        sh("ip", "link", "set", UP_IF, "up")
        t1 = time.monotonic()
        print(f"link back with {ob} item(s) in the outbox")
        ok = rig.wait_for(lambda: not list((rig.root / "outbox").glob("*.bin")), 90)
        print(f"outbox emptied: {ok} in {time.monotonic() - t1:.1f} s")
        time.sleep(3)
        _, st = rig.status()
        print("status after:\n" + st)
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"level=(error|warning)", "warning/error lines", 15)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
        net_down()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
