"""The processes' log files removed or rotated from outside while both run: `rm run.*.log` (a disk
clean-up), logrotate's default (`mv run.X.log run.X.log.1`, a new empty `run.X.log` made), or its
`copytruncate`.

    .venv/bin/python bench/outside/log_files_moved.py [--native] [--case deleted|logrotate|copytruncate]

docs/deploy.md (Logs): each process writes `run.<process>.log`, rotated at 10 MB; the uploader
uploads its log, encrypted, every `uploader.log_upload_interval_s` (5 s here) and at shutdown.
Checked: lines written after the fault reach a `run.<process>.log` a user can read (the detector's
and the uploader's), and the uploader's uploaded log (decrypted) holds lines written after it; no
traceback; the invariant.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, tracebacks_failed  # noqa: E402

STAMP = re.compile(r"ts=(\S+)")


def last_stamp(text: str) -> str:
    stamps = STAMP.findall(text)
    return max(stamps) if stamps else ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--case", choices=("deleted", "logrotate", "copytruncate"), default="logrotate")
    a = ap.parse_args()
    toml = BASE_TOML.replace("[uploader]", "[uploader]\nlog_upload_interval_s = 5.0") + '[logging]\nfile = "run.log"\n'
    rig = Rig(Path(f"/tmp/s21o/logs-{a.case}{'-native' if a.native else ''}"), toml=toml, native=a.native)
    rig.uploader()
    rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60)
    names = tuple(n for n in ("run.uploader.log", "run.detector.log") if (rig.root / n).exists())  # native: stderr
    for name in names:
        f = rig.root / name
        if a.case == "deleted":
            f.unlink()
        elif a.case == "logrotate":
            os.rename(f, f.with_name(name + ".1"))
            f.touch()
        else:
            shutil.copy(f, f.with_name(name + ".1"))
            os.truncate(f, 0)
    fault_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    print(f"{a.case} at {fault_at}")
    time.sleep(20)
    fails = 0
    for name in names:
        f = rig.root / name
        text = f.read_text(errors="replace") if f.exists() else ""
        after = last_stamp(text) > fault_at
        print(f"{name}: exists={f.exists()} lines={len(text.splitlines())} written after the fault={after}")
        fails += int(not after)
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    dec = rig.root / "decrypted-logs"
    subprocess.run([str(Path(sys.executable).parent / "quickcam"), "decrypt", "storage", "-o", str(dec)],
                   cwd=rig.root, capture_output=True, check=False)
    uploaded = "".join(p.read_text(errors="replace") for p in dec.rglob("*.log"))
    newest = last_stamp(uploaded)
    print(f"uploaded uploader log: {len(uploaded.splitlines())} lines, the newest at {newest}")
    fails += int(not newest or newest < fault_at)
    stop_line = "uploader: stopped" in uploaded or "stopping; no new footage accepted" in uploaded
    print("the stop's lines in the uploaded log:", stop_line)
    fails += int(not stop_line)
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
