"""The folder both processes run in deleted under them (`rm -rf ~/quickcam` of a checkout thought unused, a
clean-up of /tmp, a container volume removed), the storage elsewhere (a NAS path given absolutely).

    .venv/bin/python bench/outside/cwd_gone.py [--native] [--gone-s 20]

README: the processes make their files in the folder they start in (outbox, spool, state, link/, logs).
Deleted, every relative path leads nowhere: nothing can be made again in a folder that no longer exists.
docs: no camera blind without saying so; never a traceback. Checked: within `--gone-s` both processes say
on stderr (kept outside the folder here) that they cannot keep footage, or end with a line saying why; a
SIGTERM then stops each within 30 s; no traceback. (What was in the folder is gone by the user's hand.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, NATIVE, QUICKCAM  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--gone-s", type=float, default=20)
    a = ap.parse_args()
    base = Path(f"/tmp/s23o/cwd-gone-{'native' if a.native else 'py'}")
    shutil.rmtree(base, ignore_errors=True)
    root, storage, outs = base / "install", base / "nas", base / "outs"
    for d in (root, storage, outs):
        d.mkdir(parents=True)
    (root / "quickcam.toml").write_text(BASE_TOML.replace('path = "storage"', f'path = "{storage}"'))
    key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
    (root / "tokens.env").write_text(key)
    (root / "tokens.env").chmod(0o600)
    det = [NATIVE, "--config", "quickcam.toml"] if a.native else [QUICKCAM, "detector", "--config", "quickcam.toml"]
    procs = {}
    for name, argv in (("uploader", [QUICKCAM, "uploader", "--config", "quickcam.toml"]), ("detector", det)):
        procs[name] = subprocess.Popen(argv, cwd=root, stdout=open(outs / f"{name}.out", "wb"),
                                       stderr=subprocess.STDOUT)
    fails = 0
    try:
        end = time.monotonic() + 60
        while len(list(storage.rglob("*.qsc"))) < 3 and time.monotonic() < end:
            time.sleep(0.5)
        sizes = {n: (outs / f"{n}.out").stat().st_size for n in procs}
        stored0 = len(list(storage.rglob("*.qsc")))
        shutil.rmtree(root)
        print(f"install folder deleted with {stored0} item(s) stored")
        time.sleep(a.gone_s)
        for name, p in procs.items():
            new = (outs / f"{name}.out").read_bytes()[sizes[name]:].decode(errors="replace").splitlines()
            said = [ln for ln in new if "level=error" in ln or "level=warning" in ln or ln.startswith("quickcam")]
            print(f"{name}: {'running' if p.poll() is None else f'ended {p.returncode}'}; {len(said)} warning/error "
                  f"line(s) since")
            for ln in said[:6]:
                print("    ", ln[:300])
            ok = bool(said)
            print(("PASS" if ok else "FAIL"), f"{name} says something is wrong")
            fails += not ok
        print(f"stored since: {len(list(storage.rglob('*.qsc'))) - stored0}")
        for name in ("detector", "uploader"):
            p = procs[name]
            if p.poll() is None:
                t = time.monotonic()
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                    print(f"PASS {name} stopped in {time.monotonic() - t:.1f} s, exit {p.returncode}")
                except subprocess.TimeoutExpired:
                    print(f"FAIL {name} did not stop within 30 s")
                    fails += 1
        tb = [ln for n in procs for ln in (outs / f"{n}.out").read_text(errors="replace").splitlines()
              if "Traceback" in ln or "terminate called" in ln]
        print(("PASS" if not tb else "FAIL"), "tracebacks:", [t[:200] for t in tb[:4]])
        fails += bool(tb)
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
