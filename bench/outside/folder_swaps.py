"""Run-time changes to the working folders while both processes record and upload.

    .venv/bin/python bench/outside/folder_swaps.py --case CASE [--native] [--held-s 15]

spool-ro       spool/ chmod 0500 (uploader without CAP_DAC_OVERRIDE: setpriv), then 0700 again
state-spool-ro spool/ and state/ both 0500, then back
spool-symlink  spool/ moved aside and a symlink to it put in its place (a move to a bigger disk)
outbox-symlink the same for the detector's outbox/
outbox-empty   `rm -rf outbox/*` (contents, not the folder; the journal saved first), then go on
outbox-ro      outbox/ chmod 0500 (detector without CAP_DAC_OVERRIDE) during an event, then back

Checked: the invariant (what was journaled before and after), that a refusal is said in
`quickcam status` while it lasts, that the processes run on, no traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402

SETPRIV = ["setpriv", "--inh-caps=-dac_override,-fowner", "--bounding-set=-dac_override,-fowner"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True, choices=["spool-ro", "state-spool-ro", "spool-symlink",
                                                      "outbox-symlink", "outbox-empty", "outbox-ro"])
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--held-s", type=float, default=15)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s20o/folders-{a.case}-{'native' if a.native else 'py'}"), native=a.native)
    r = rig.root
    fails = 0
    try:
        rig.uploader(wrap=SETPRIV)
        rig.detector(wrap=SETPRIV)
        rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 40)
        n0 = len(rig.stored_ids())
        undo = None
        if a.case in ("spool-ro", "state-spool-ro"):
            dirs = [r / "spool"] + ([r / "state"] if a.case == "state-spool-ro" else [])
            for d in dirs:
                os.chmod(d, 0o500)
            undo = lambda: [os.chmod(d, 0o700) for d in dirs]  # noqa: E731
        elif a.case == "outbox-ro":
            rig.wait_for(lambda: len(list((r / "outbox" / ".staging").glob("*"))) > 0, 30, every=0.05)
            os.chmod(r / "outbox", 0o500)
            undo = lambda: os.chmod(r / "outbox", 0o700)  # noqa: E731
        elif a.case in ("spool-symlink", "outbox-symlink"):
            name = a.case.split("-")[0]
            os.rename(r / name, r / f"{name}.real")
            os.symlink(f"{name}.real", r / name)
        elif a.case == "outbox-empty":
            rig.save_journal()
            subprocess.run(f"rm -rf {r}/outbox/* {r}/outbox/.[!.]*", shell=True, check=False)
        print(f"{a.case} done with {n0} stored")
        time.sleep(a.held_s)
        _, st = rig.status()
        print("status during:\n" + st)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck during", hrc, hc.strip()[:300])
        if undo:
            undo()
            print("undone")
        time.sleep(a.held_s)
        _, st = rig.status()
        print("status after:\n" + st)
        hrc, hc = rig.status("--healthcheck")
        print("healthcheck", hrc, hc.strip()[:300])
        alive = all(p.poll() is None for p in rig.procs.values())
        print(("PASS" if alive else "FAIL"), "both running:", {k: p.poll() for k, p in rig.procs.items()})
        fails += not alive
        more = len(rig.stored_ids()) - n0
        print(("PASS" if more > 0 else "FAIL"), f"stored since the change: {more}")
        fails += more <= 0
        rig.save_journal()
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        fails += invariant_failed(rig, drained, invented_counts=False)
        left = [str(p.relative_to(r)) for p in r.rglob("*") if p.suffix in (".qsc", ".bin") and "storage" not in p.parts
                and "decrypted" not in p.parts]
        print("footage files left outside storage:", left[:6])
        show_lines(rig, r"level=(error|warning)", "warning/error lines", 12)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
        for name in ("spool", "outbox", "state"):
            if (r / name).exists():
                os.chmod(r / name, 0o700)
        shutil.rmtree(r / "decrypted", ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
