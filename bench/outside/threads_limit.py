"""No new thread allowed for a while: the user's process/thread limit (`ulimit -u`, RLIMIT_NPROC; systemd's
TasksMax=, a container's pids limit) reached mid-run, held, then lifted.

    .venv/bin/python bench/outside/threads_limit.py [--native] [--who uploader|detector] [--held-s 20]

Both processes run as an unprivileged uid (setpriv, no capabilities: root ignores RLIMIT_NPROC), the target
under `prlimit --nproc=LIMIT` (`--limit`, 300). Once footage flows, another program of the same uid (a "hog" this
script starts) takes threads until that uid runs LIMIT, so every thread or process the target tries to start
fails (EAGAIN, Python's `can't start new thread`); the hog ends after `--held-s` (the limit lifted). (This
sandbox's kernel refuses `prlimit --pid` on a running process, hence the hog.) docs: no camera blind
without saying so; nothing lost; never a traceback. Checked: during the squeeze the footage keeps coming or
the trouble is said (`quickcam status`, the log; health check); after the lift footage flows again without a
restart (or the process ended with a line saying why); no traceback; the invariant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402

UID = 4201
HOG = """
import sys, threading, time
threading.stack_size(64 * 1024)
n = 0
try:
    for _ in range(int(sys.argv[1])):
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        n += 1
except RuntimeError as exc:
    pass
print(f"started {n} threads", flush=True)
time.sleep(3600)
"""


def _threads_of(uid: int) -> int:
    n = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            st = (p / "status").read_text()
        except OSError:
            continue
        fields = dict(ln.split(":", 1) for ln in st.splitlines() if ":" in ln)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            n += int(fields.get("Threads", "1"))
    return n


def _chown_tree(root: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, uid)
    os.chown(root, uid, uid)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--who", default="uploader", choices=["uploader", "detector"])
    ap.add_argument("--held-s", type=float, default=20)
    ap.add_argument("--limit", type=int, default=300)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s23o/threads-{a.who}-{'native' if a.native else 'py'}"), toml=BASE_TOML, native=a.native)
    Path("/tmp/s23o").chmod(0o755)
    _chown_tree(rig.root, UID)
    wrap = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--inh-caps=-all"]
    limited = ["prlimit", f"--nproc={a.limit}", *wrap]  # (setpriv first: the exec was refused here)
    fails = 0
    hog = None
    try:
        rig.uploader(wrap=limited if a.who == "uploader" else wrap)
        rig.detector(wrap=limited if a.who == "detector" else wrap)
        if not rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60):
            print("FAIL nothing stored before the squeeze")
            return 1
        pid = rig.procs[a.who].pid
        n = _threads_of(UID)
        hog = subprocess.Popen([*wrap, sys.executable, "-c", HOG, str(a.limit - n + 4)], stdout=subprocess.PIPE,
                               text=True)
        print("hog:", hog.stdout.readline().strip())
        j0, s0 = len(rig.journal_lines()), len(rig.stored_ids())
        t0 = time.monotonic()
        print(f"{a.who} (pid {pid}) under --nproc={a.limit}; the uid now runs {_threads_of(UID)} threads: "
              f"{j0} journaled, {s0} stored")
        said = False
        while time.monotonic() - t0 < a.held_s:
            time.sleep(a.held_s / 3)
            _, st = rig.status()
            hrc, hc = rig.status("--healthcheck")
            j, s = len(rig.journal_lines()), len(rig.stored_ids())
            print(f"t+{time.monotonic() - t0:.0f}s journaled {j} stored {s} health {hrc} {hc.strip()[:200]!r}")
            for ln in st.splitlines():
                if ln.startswith(("uploader:", "detector:", "camera ", "local ")) or "thread" in ln:
                    print("   ", ln[:300])
            said |= hrc != 0 or "thread" in st.lower()
        j1, s1 = len(rig.journal_lines()), len(rig.stored_ids())
        flowed = j1 > j0 + 2 and s1 > s0 + 2
        print(("PASS" if flowed or said else "FAIL"),
              f"during the squeeze: footage flowed {flowed} ({j0}->{j1} journaled, {s0}->{s1} stored) or said {said}")
        fails += not (flowed or said)
        hog.kill()
        hog.wait()
        t1 = time.monotonic()
        alive = rig.procs[a.who].poll() is None
        back = rig.wait_for(lambda: len(rig.journal_lines()) > j1 + 2 and len(rig.stored_ids()) > s1 + 2, 40)
        print(("PASS" if back or not alive else "FAIL"),
              f"after the lift: {a.who} alive {alive}, footage flows again {back} in {time.monotonic() - t1:.1f} s")
        fails += not (back or not alive)
        if not alive:
            print(f"    {a.who} exit {rig.procs[a.who].returncode}")
            (rig.uploader if a.who == "uploader" else rig.detector)(wrap=wrap)
        _, st = rig.status()
        print("status after the lift:\n" + st)
        rig.stop("detector")
        if rig.procs["uploader"].poll() is not None:
            rig.uploader(wrap=wrap)
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"(?i)thread|resource temporarily|EAGAIN|level=(error|critical)", "thread/error lines", 20)
        fails += tracebacks_failed(rig)
    finally:
        if hog is not None and hog.poll() is None:
            hog.kill()
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
