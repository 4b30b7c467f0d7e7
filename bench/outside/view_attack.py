"""A burglar blinds a stream camera without cutting it: its picture freezes (a still frame re-sent), goes
black (lens covered), or turns to another view, while packets keep flowing.

    .venv/bin/python bench/outside/view_attack.py --attack frozen|black|moved [--native]

The stream (MPEG-TS over HTTP, served by ffmpeg, real time) is 12 s of tests/data/vtest.avi, then 50 s
of the attack, then vtest again. docs/reliability.md "A camera that cannot see": blocked said after 4 s,
moved after 8 s, frozen after 10 s (+ two keyframes, or 30 s), the camera `degraded` with `view` = the
fault, the health check red after 30 s not ok. Checked: what status says during the attack, when.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera_vanish import Server, cam_line, free_port  # noqa: E402
from harness import BASE_TOML, REPO, Rig  # noqa: E402

VT = str(REPO / "tests/data/vtest.avi")


def make(attack: str, dst: Path) -> None:
    if dst.exists():
        return
    if attack == "frozen":
        filt = "[0:v]trim=0:12,setpts=PTS-STARTPTS,tpad=stop_mode=clone:stop_duration=50[a];" \
               "[0:v]trim=12:30,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]"
    elif attack == "black":
        filt = "[0:v]trim=0:12,setpts=PTS-STARTPTS[a];[0:v]trim=12:62,setpts=PTS-STARTPTS,eq=brightness=-1[k];" \
               "[0:v]trim=62:79,setpts=PTS-STARTPTS[b];[a][k][b]concat=n=3:v=1[v]"
    else:  # moved: the picture mirrored and cropped to another part of the scene
        filt = "[0:v]trim=0:12,setpts=PTS-STARTPTS[a];[0:v]trim=12:62,setpts=PTS-STARTPTS,vflip,hflip[k];" \
               "[0:v]trim=62:79,setpts=PTS-STARTPTS[b];[a][k][b]concat=n=3:v=1[v]"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", VT, "-filter_complex", filt, "-map", "[v]",
                    "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", str(dst)], check=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--attack", default="frozen")
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    clip = Path(f"/tmp/s19o/media/attack-{a.attack}.mp4")
    make(a.attack, clip)
    port = free_port()
    toml = BASE_TOML.replace('source = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0',
                             f'source = "stream"\npath = "http://127.0.0.1:{port}/cam.ts"')
    rig = Rig(Path(f"/tmp/s19o/view-{a.attack}-{'native' if a.native else 'py'}"), toml=toml, native=a.native)
    srv = Server(clip, port, rig.root / "ffmpeg.log")
    time.sleep(1)
    rig.uploader()
    t0 = time.monotonic()
    rig.detector()
    try:
        while time.monotonic() - t0 < 75:
            time.sleep(4)
            rch, hc = rig.status("--healthcheck")
            print(f"t+{time.monotonic() - t0:4.0f}s hc={rch} | {cam_line(rig)[:230]}")
    finally:
        rig.stop_all()
        srv.close()
    for ln in rig.grep("view|frozen|blocked|moved"):
        if "level=warning" in ln or "level=error" in ln:
            print("   ", ln[:300])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
