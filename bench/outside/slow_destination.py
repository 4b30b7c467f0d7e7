"""A slow destination: S3 (moto's server on 127.0.0.1) behind a proxy of our own that throttles
every connection to a few KB/s, while events keep coming.

    .venv/bin/python bench/outside/slow_destination.py [--native] [--rate-kbps 8] [--seconds 60]
        [--spool-mb 1]

docs: the uploader stops accepting above `uploader.spool_max_mb` (detectors keep footage),
retries with back-off, and nothing is lost. Checked: uploads keep completing at the link's pace
(no upload that can never finish because it is slower than a timeout), the spool budget is said,
status shows the backlog, and once the throttle is lifted everything is stored once (the bucket
mirrored into storage/ and checked with the harness's invariant).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


class Throttle:
    """TCP proxy 127.0.0.1:port -> upstream; each direction of each connection at most ``rate`` bytes/s."""

    def __init__(self, upstream: int, rate: float) -> None:
        self.upstream, self.rate = upstream, rate
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.bytes = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            c, _ = self.sock.accept()
            u = socket.create_connection(("127.0.0.1", self.upstream))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                chunk = a.recv(1024)
                if not chunk:
                    break
                b.sendall(chunk)
                self.bytes += len(chunk)
                if self.rate:
                    time.sleep(len(chunk) / self.rate)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--rate-kbps", type=float, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--spool-mb", type=float, default=1.0)
    a = ap.parse_args()
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    mport = server.get_host_and_port()[1]
    fs = s3fs.S3FileSystem(key="k", secret="s", endpoint_url=f"http://127.0.0.1:{mport}",
                           client_kwargs={"region_name": "eu-west-1"}, skip_instance_cache=True)
    fs.mkdir("footage")
    thr = Throttle(mport, a.rate_kbps * 1024)
    toml = BASE_TOML.replace('[storage.local]\npath = "storage"', (
        '[storage.s3]\nkind = "fsspec"\nurl = "s3://footage/cam"\n'
        f'storage_options = {{ key = "k", secret = "s", endpoint_url = "http://127.0.0.1:{thr.port}", '
        'client_kwargs = { region_name = "eu-west-1" } }\n'))
    toml = toml.replace("[uploader]", f'[uploader]\ndestinations = ["s3"]\nspool_max_mb = {a.spool_mb}')
    rig = Rig(Path(f"/tmp/s20o/slow-dest-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    fails = 0

    def stored() -> int:
        try:
            fs.invalidate_cache()
            return len([p for p in fs.find("footage/cam") if p.endswith(".qsc") and "/logs/" not in p])
        except FileNotFoundError:
            return 0

    try:
        rig.uploader()
        rig.detector()
        t0 = time.monotonic()
        counts = []
        saw_paused = False
        while time.monotonic() - t0 < a.seconds:
            time.sleep(a.seconds / 4)
            n = stored()
            counts.append(n)
            _, st = rig.status()
            lines = [ln for ln in st.splitlines() if ln.startswith(("uploader", "detector", "s3"))]
            print(f"t+{time.monotonic() - t0:.0f}s stored {n}, proxied {thr.bytes // 1024} KiB")
            for ln in lines:
                print("   ", ln[:260])
            saw_paused |= "paus" in st.lower() or "refus" in st.lower() or "full" in st.lower()
        progressing = len(counts) > 1 and counts[-1] > counts[0]
        print(("PASS" if progressing else "FAIL"), "uploads complete through the slow link:", counts)
        fails += not progressing
        print(("PASS" if saw_paused else "INFO"), "spool budget said in status:", saw_paused)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck", hrc, hc.strip()[:300])
        thr.rate = 0  # the throttle lifted (connections already open keep their pace until they end)
        t1 = time.monotonic()
        emptied = rig.wait_for(lambda: not list((rig.root / "outbox").glob("*.bin")), 90, every=1)
        print(f"throttle lifted; outbox emptied with the detector running: {emptied} in {time.monotonic() - t1:.0f} s")
        rig.stop("detector")
        ids = {d["id"] for d in rig.journal_lines()}

        def all_stored() -> bool:
            fs.invalidate_cache()
            try:
                names = fs.find("footage/cam")
            except FileNotFoundError:
                return False
            return all(any(i in p for p in names) for i in ids)

        drained = rig.wait_for(all_stored, 90, every=2)
        print("all journaled ids in the bucket:", drained)
        rig.stop_all()
        local = rig.root / "storage"
        for p in fs.find("footage/cam"):
            dst = local / p
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(fs.cat(p))
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"proc=uploader level=(error|warning)", "uploader warning/error lines", 10)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
        server.stop()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
