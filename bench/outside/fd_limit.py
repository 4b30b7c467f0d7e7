"""Few file descriptors (or little address space): the detector and/or the uploader started under
`prlimit --nofile=N` (`--as-mb M`: `prlimit --as`).

    .venv/bin/python bench/outside/fd_limit.py [--native] [--who detector|uploader|both] [--nofile 64]
        [--as-mb 0] [--cameras 1] [--seconds 40]

A service manager's LimitNOFILE, a container's ulimit, or a leak elsewhere in the process can leave
few descriptors. Checked: footage keeps flowing or the limit is said (log, `quickcam status`,
health check), never a camera blind or footage stuck in silence; the invariant once drained.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def cameras_toml(n: int) -> str:
    if n <= 1:
        return BASE_TOML
    head, rest = BASE_TOML.split("[recording]", 1)
    cams = "".join(f'[[cameras]]\nid = "cam{i}"\nsource = "demo"\ndemo_start_s = 3.0\ndemo_gap_s = 4.0\n'
                   for i in range(n))
    return head.split("[camera]")[0] + cams + "[recording]" + rest


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--who", default="both", choices=["detector", "uploader", "both"])
    ap.add_argument("--nofile", type=int, default=64)
    ap.add_argument("--as-mb", type=int, default=0, help="also limit the address space (RLIMIT_AS) to this")
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s20o/fd-{a.who}-{a.nofile}-{a.as_mb}-{a.cameras}-{'native' if a.native else 'py'}"),
              toml=cameras_toml(a.cameras), native=a.native)
    wrap = ["prlimit", f"--nofile={a.nofile}:{a.nofile}"]
    if a.as_mb:
        wrap.append(f"--as={a.as_mb << 20}:{a.as_mb << 20}")
    wrap.append("--")
    fails = 0
    try:
        up = rig.uploader(wrap=wrap if a.who in ("uploader", "both") else None)
        det = rig.detector(wrap=wrap if a.who in ("detector", "both") else None)
        time.sleep(a.seconds)
        rc, st = rig.status()
        print("status:\n" + st)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck rc", hrc, hc.strip()[:400])
        alive = up.poll() is None and det.poll() is None
        print(("PASS" if alive else "FAIL"), "both processes running:", up.poll(), det.poll())
        fails += not alive
        cams = sorted({d.get("camera", "?") for d in rig.journal_lines()})
        print("cameras with journaled items:", len(cams), cams)
        blind = a.cameras - len(cams)
        said = hrc != 0
        ok = blind == 0 or said
        print(("PASS" if ok else "FAIL"), f"cameras with no footage: {blind}; health check red: {said}")
        fails += not ok
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained, invented_counts=False)
        show_lines(rig, r"(?i)too many open|EMFILE|errno 24|MemoryError|cannot allocate|bad_alloc|errno 12",
                   "EMFILE / ENOMEM lines", 6)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
