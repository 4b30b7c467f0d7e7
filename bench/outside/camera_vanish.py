"""The camera source vanishes and comes back: a file renamed away, an HTTP (MPEG-TS) stream killed or frozen.

    .venv/bin/python bench/outside/camera_vanish.py --mode file|file-trunc|http-kill|http-stop|sub-kill|main-kill|sub-stop|main-stop (sub/main: with detect_path) [--native] [--away-s 40]

Footage: the first 20 s of tests/data/vtest.avi (real pedestrians) made H.264 with ffmpeg, served by
ffmpeg itself (`-listen 1`, restarted after each client) for the stream modes. Checked: while the source
is away `quickcam status` says so (not `ok`), the health check goes red after its 30 s grace, the
camera is `ok` again after it returns, events are recorded after the return, the invariant holds,
no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, REPO, Rig, summary  # noqa: E402


def make_clip(dst: Path, seconds: int = 20) -> None:
    if not dst.exists():
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(REPO / "tests/data/vtest.avi"), "-t", str(seconds),
                        "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(dst)], check=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """ffmpeg serving the clip as MPEG-TS over HTTP, looped, started again after each client."""

    def __init__(self, clip: Path, port: int, log: Path) -> None:
        self.clip, self.port, self.log = clip, port, open(log, "ab")
        self.up = True
        self.proc: subprocess.Popen | None = None
        self.done = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self.done:
            if not self.up:
                time.sleep(0.1)
                continue
            self.proc = subprocess.Popen(["ffmpeg", "-loglevel", "warning", "-re", "-stream_loop", "-1", "-i", str(self.clip),
                                          "-c", "copy", "-f", "mpegts", "-listen", "1",
                                          f"http://127.0.0.1:{self.port}/cam.ts"], stdout=self.log, stderr=self.log)
            self.proc.wait()

    def kill(self) -> None:
        self.up = False
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def cont(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        self.done = True
        self.up = False
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()


def cam_line(rig: Rig) -> str:
    _, st = rig.status()
    return next((ln for ln in st.splitlines() if ln.startswith("camera")), st.strip()[:200])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="file")
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--away-s", type=float, default=40)
    a = ap.parse_args()
    clip = Path("/tmp/s19o/media/vtest20.mp4")
    make_clip(clip)
    root = Path(f"/tmp/s19o/vanish-{a.mode}-{'native' if a.native else 'py'}")
    server = None
    if a.mode.startswith("file"):
        src = 'source = "file"\npath = "cam.mp4"\nloop = true\nrealtime = true'
    elif a.mode.startswith("sub-") or a.mode.startswith("main-"):
        port, port2 = free_port(), free_port()
        src = (f'source = "stream"\npath = "http://127.0.0.1:{port}/cam.ts"\n'
               f'detect_path = "http://127.0.0.1:{port2}/cam.ts"')
    else:
        port = free_port()
        src = f'source = "stream"\npath = "http://127.0.0.1:{port}/cam.ts"'
    toml = BASE_TOML.replace('source = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0', src)
    rig = Rig(root, toml=toml, native=a.native)
    if a.mode.startswith("file"):
        import shutil
        shutil.copy(clip, rig.root / "cam.mp4")
    else:
        server = Server(clip, port, rig.root / "ffmpeg.log")
        if a.mode.startswith(("sub-", "main-")):
            sub = Server(clip, port2, rig.root / "ffmpeg2.log")
            if a.mode.startswith("sub-"):
                server, sub = sub, server  # the one attacked below is the detection substream
        time.sleep(1)
    rig.uploader()
    rig.detector()
    try:
        ok_at_start = rig.wait_for(lambda: " ok " in cam_line(rig) or ": ok" in cam_line(rig), 30)
        print("camera ok at start:", ok_at_start, "|", cam_line(rig))
        time.sleep(6)
        t0 = time.monotonic()
        if a.mode == "file":
            os.rename(rig.root / "cam.mp4", rig.root / "cam.mp4.away")
        elif a.mode == "file-trunc":
            os.truncate(rig.root / "cam.mp4", 0)
        elif a.mode in ("http-kill", "sub-kill", "main-kill"):
            server.kill()
        else:  # http-stop, main-stop, sub-stop: frozen with SIGSTOP, the connection left open
            server.stop()
        print(f"source away ({a.mode})")
        seen = []
        while time.monotonic() - t0 < a.away_s:
            time.sleep(5)
            ln = cam_line(rig)
            rch, hc = rig.status("--healthcheck")
            seen.append(f"  t+{time.monotonic() - t0:4.0f}s hc={rch} | {ln[:220]} | {hc.strip()[:120]}")
        print("\n".join(seen))
        if a.mode == "file":
            os.rename(rig.root / "cam.mp4.away", rig.root / "cam.mp4")
        elif a.mode == "file-trunc":
            (rig.root / "cam.mp4").write_bytes(clip.read_bytes())
        elif a.mode in ("http-kill", "sub-kill", "main-kill"):
            server.up = True
        else:
            server.cont()  # http-stop, main-stop, sub-stop
        t1 = time.monotonic()
        back = rig.wait_for(lambda: ": ok" in cam_line(rig), 60, every=1)
        print(f"back ok: {back} after {time.monotonic() - t1:.1f} s | {cam_line(rig)}")
        n0 = len(rig.journal_lines())
        time.sleep(15)
        print("items journaled in the 15 s after the return:", len(rig.journal_lines()) - n0)
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 40)
        rc, st = rig.status()
        print("drained:", drained, "\n" + st)
    finally:
        rig.stop_all()
        if server:
            server.close()
        if a.mode.startswith(("sub-", "main-")):
            sub.close()
    res = rig.check()
    print(summary(res))
    ev = [ln[:300] for ln in rig.grep("level=(error|warning)")]
    print("warning/error lines:", len(ev))
    for ln in ev[:14]:
        print("   ", ln)
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
