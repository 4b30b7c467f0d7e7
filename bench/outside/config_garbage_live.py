"""The config file edited to garbage while both processes run (an editor's crash, a half-saved file,
a `>` instead of `>>`), then SIGHUP, then each process restarted on it, then the file put back.

    .venv/bin/python bench/outside/config_garbage_live.py [--native] [--case truncated|binary|empty]

docs/reliability.md: bad input is one line naming the fix, never a traceback; the processes read
their config at start only (SIGHUP says so). Checked: the running pair keeps storing footage;
`quickcam status` and its health check, run against the broken file, say what is wrong in one
line (no traceback) and the health check does not call a broken setup healthy; a restart on it is
one line, exit 2; with the file back, every journaled item stored once (the invariant).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402

GARBAGE = {
    "truncated": BASE_TOML[: BASE_TOML.index("[link]") + 9],  # a save cut mid-line
    "binary": "\x00\x01\xff\xfe garbage \x89PNG\r\n\x1a\n",
    "empty": "",
}


def ended(p: subprocess.Popen, timeout: float = 30) -> None:
    """Waits for a process meant to refuse its config; one still running then is stopped (rc shown as -15)."""
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        print("  (still running after", timeout, "s: it ran on the broken file; stopped)")
        p.terminate()
        p.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--case", choices=sorted(GARBAGE), default="truncated")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s21o/config-garbage-{a.case}{'-native' if a.native else ''}"), native=a.native)
    rig.uploader()
    rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60)
    cfg = rig.root / "quickcam.toml"
    cfg.write_bytes(GARBAGE[a.case].encode("latin-1"))
    print("config now:", repr(GARBAGE[a.case][-40:]))
    fails = 0
    rc, st = rig.status()
    print(f"status on the broken file: rc={rc}\n{st.strip()[:800]}")
    fails += int("Traceback" in st or len(st.strip().splitlines()) > 3 and rc != 0)
    rch, hc = rig.status("--healthcheck")
    print(f"healthcheck on the broken file: rc={rch} {hc.strip()[:400]}")
    fails += int("Traceback" in hc or (rch == 0))
    for who in ("uploader", "detector"):
        rig.signal(who, signal.SIGHUP)
    time.sleep(3)
    show_lines(rig, "SIGHUP", "SIGHUP lines")
    alive = {w: rig.procs[w].poll() is None for w in ("uploader", "detector")}
    print("alive after SIGHUP:", alive)
    fails += int(not all(alive.values()))
    before = len(rig.stored_ids())
    time.sleep(6)
    print("stored while the file was broken:", before, "->", len(rig.stored_ids()))
    rig.stop("detector")
    p = rig.detector(name="detector2")
    ended(p)
    out = sorted(rig.root.glob("detector2.*.out"))[-1].read_text(errors="replace").strip()
    print(f"detector restarted on it: rc={p.returncode} lines={len(out.splitlines())}: {out[:400]}")
    fails += int(p.returncode != 2 or len(out.splitlines()) != 1)
    rig.stop("uploader")
    p = rig.uploader()
    ended(p)
    out = sorted(rig.root.glob("uploader.*.out"))[-1].read_text(errors="replace").strip()
    print(f"uploader restarted on it: rc={p.returncode} lines={len(out.splitlines())}: {out[:400]}")
    fails += int(p.returncode != 2 or len(out.splitlines()) != 1)
    cfg.write_text(BASE_TOML)
    rig.uploader()
    rig.detector()
    time.sleep(4)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    fails += invariant_failed(rig, ok)
    fails += tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
