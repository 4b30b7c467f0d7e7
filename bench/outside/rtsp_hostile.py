"""An RTSP "camera" that misbehaves at the protocol level: garbage for every answer, a connection
closed right after DESCRIBE, or an SDP and a PLAY answered and then nothing sent on a held-open
connection. A server of this script's own on 127.0.0.1.

    .venv/bin/python bench/outside/rtsp_hostile.py [--native] [--mode garbage|close-describe|silent-play]

README: `source = "stream"`, `path = "rtsp://..."`; quickcam.example.toml: `stream_timeout_s`.
docs: no camera blind without saying so. Checked within ~25 s: the detector keeps running, the
camera is not `ok` in `quickcam status` and its fault says why in words, the log says it once per
streak (not a line per retry), no traceback, no password-bearing URL in the log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, tracebacks_failed  # noqa: E402

SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n")


class HostileRtsp:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.connections += 1
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                req, buf = buf.split(b"\r\n\r\n", 1)
                method = req.split(b" ", 1)[0].decode(errors="replace")
                cseq = re.search(rb"(?i)cseq:\s*(\d+)", req)
                seq = cseq.group(1).decode() if cseq else "1"
                if self.mode == "garbage":
                    conn.sendall(os.urandom(512))
                    continue
                if method == "OPTIONS":
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n".encode())
                elif method == "DESCRIBE":
                    if self.mode == "close-describe":
                        return
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\nContent-Type: application/sdp\r\n"
                                 f"Content-Base: rtsp://127.0.0.1:{self.port}/cam/\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}".encode())
                elif method == "SETUP":
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\nSession: 12345678;timeout=60\r\n"
                                 "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode())
                elif method == "PLAY":
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\nSession: 12345678\r\n\r\n".encode())
                else:
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {seq}\r\n\r\n".encode())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--mode", choices=("garbage", "close-describe", "silent-play"), default="silent-play")
    ap.add_argument("--seconds", type=float, default=25)
    a = ap.parse_args()
    server = HostileRtsp(a.mode)
    toml = BASE_TOML.replace('source = "demo"', f'source = "stream"\npath = "rtsp://admin:hunter2@127.0.0.1:{server.port}/cam"\n'
                             "stream_timeout_s = 5")
    rig = Rig(Path(f"/tmp/s21o/rtsp-{a.mode}{'-native' if a.native else ''}"), toml=toml, native=a.native)
    rig.uploader()
    det = rig.detector()
    time.sleep(a.seconds)
    fails = 0
    alive = det.poll() is None
    rc, st = rig.status()
    cam = next((ln for ln in st.splitlines() if ln.startswith("camera cam0")), "(no camera line)")
    print(f"after {a.seconds:.0f} s: detector alive={alive}, server connections {server.connections}\n{st.strip()[:900]}")
    fails += int(not alive and det.returncode == 0)
    fails += int(" ok " in cam or cam.endswith(" ok") or "ok at" in cam)
    rch, hc = rig.status("--healthcheck")
    print(f"healthcheck rc={rch}: {hc.strip()[:300]}")
    lines = rig.grep(r"proc=detector level=(warning|error)")
    print("detector warning/error lines:", len(lines))
    for ln in lines[:6]:
        print("   ", ln[:300])
    fails += int(len(lines) > 12)
    leaks = rig.grep("hunter2")
    print("password in the log:", len(leaks), leaks[:1])
    fails += int(bool(leaks)) + int("hunter2" in st)
    rig.stop_all()
    fails += tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
