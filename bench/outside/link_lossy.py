"""Detector and uploader on two "machines" joined by a bad link: 500 ms latency with stalls (a lossy
line's retransmissions), then a partition of over two minutes in the middle of events, then healed.

    .venv/bin/python bench/outside/link_lossy.py [--native] [--lossy-s 45] [--cut-s 130]

This kernel has no `sch_netem` (`tc qdisc … netem`: "Specified qdisc kind is unknown") and no
iptables, so the link runs through a TCP relay of this script's own on 127.0.0.1: each chunk is held
`--latency-s`, a fifth of them `--stall-s` more (TCP's own retransmission of a lost packet is what the
peers see of 20 % loss), and during the partition it neither reads nor forwards (packets vanish: no
RST, no FIN). The detector is pointed at the relay (`QUICKCAM_LINK__ENDPOINT`, docs/configuration.md),
the uploader binds the config's endpoint; plain TCP (`link.allow_plain_tcp`) as in link_cut.py.
docs/reliability.md: nothing lost; a link down is said on both sides. Checked: items stored during the
lossy phase; during the partition the detector's status says it is not connected and the footage waits
in its outbox; after the heal everything is stored once (the invariant), within 90 s.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


class BadLink:
    """TCP relay 127.0.0.1:port -> 127.0.0.1:upstream with latency, random stalls and a partition switch."""

    def __init__(self, upstream: int, latency_s: float, stall_s: float, loss: float) -> None:
        self.upstream, self.latency_s, self.stall_s, self.loss = upstream, latency_s, stall_s, loss
        self.partitioned = threading.Event()
        self.bad = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.rng = random.Random(22)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            while self.partitioned.is_set():  # a SYN into a partition: nobody answers while it lasts
                time.sleep(0.2)
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                conn.close()
                continue
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                while self.partitioned.is_set():
                    time.sleep(0.1)
                data = src.recv(16384)
                if not data:
                    break
                if self.bad.is_set():
                    time.sleep(self.latency_s + (self.stall_s if self.rng.random() < self.loss else 0))
                while self.partitioned.is_set():
                    time.sleep(0.1)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--lossy-s", type=float, default=45)
    ap.add_argument("--cut-s", type=float, default=130)
    ap.add_argument("--latency-s", type=float, default=0.5)
    ap.add_argument("--stall-s", type=float, default=1.0)
    ap.add_argument("--loss", type=float, default=0.2)
    a = ap.parse_args()
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    toml = BASE_TOML.replace("[link]", f'[link]\nendpoint = "tcp://127.0.0.1:{port}"\nallow_plain_tcp = true')
    rig = Rig(Path(f"/tmp/s22o/link-lossy{'-native' if a.native else ''}"), toml=toml, native=a.native)
    link = BadLink(port, a.latency_s, a.stall_s, a.loss)
    fails = 0
    rig.uploader()
    time.sleep(1.5)
    rig.detector(env={"QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{link.port}"})
    rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
    link.bad.set()
    before = len(rig.stored_ids())
    print(f"lossy link ({a.latency_s} s latency, {a.loss:.0%} of chunks {a.stall_s} s more) with {before} stored")
    time.sleep(a.lossy_s)
    during = len(rig.stored_ids())
    print(("PASS" if during > before else "FAIL"), f"stored during the lossy phase: {during - before}, "
          f"journaled {len(rig.journal_lines())}")
    fails += int(during <= before)
    link.partitioned.set()
    t0 = time.monotonic()
    said_down = held = False
    while time.monotonic() - t0 < a.cut_s:
        time.sleep(min(20, a.cut_s / 4))
        _, st = rig.status()
        hrc, hc = rig.status("--healthcheck")
        det = " / ".join(ln for ln in st.splitlines() if ln.startswith("detector"))
        ob = len(list((rig.root / "outbox").glob("*.bin")))
        print(f"t+{time.monotonic() - t0:.0f}s outbox {ob} health {hrc} {hc.strip()[:160]!r}\n    {det[:260]}")
        said_down |= "NOT CONNECTED" in det or "not connected" in det.lower()
        held |= ob > 0
    print(("PASS" if said_down else "FAIL"), "detector's status said the link down during the partition")
    print(("PASS" if held else "FAIL"), "footage waited in the outbox")
    fails += int(not said_down) + int(not held)
    link.partitioned.clear()
    link.bad.clear()
    t1 = time.monotonic()
    ok = rig.wait_for(lambda: not list((rig.root / "outbox").glob("*.bin")), 90)
    print(("PASS" if ok else "FAIL"), f"outbox emptied after the heal in {time.monotonic() - t1:.1f} s")
    fails += int(not ok)
    rig.stop("detector")
    drained = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    fails += invariant_failed(rig, drained)
    show_lines(rig, r"level=(error|warning)", "warning/error lines", 12)
    fails += tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
