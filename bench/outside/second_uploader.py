"""A second `quickcam uploader` started by hand beside the running one, on the same config and folder (the
user forgot run_all.sh or the service already runs one), several times during events; and one started from
another folder with the same ipc endpoint given absolutely.

    .venv/bin/python bench/outside/second_uploader.py [--native] [--tries 3]

docs/reliability.md: one uploader per spool. Checked: each second one stops at once with one line (exit 2,
no traceback) and touches nothing of the first's: the link socket still leads to the first (the detector
stays connected, footage keeps being stored), every journaled item stored once.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, QUICKCAM, Rig, invariant_failed, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--tries", type=int, default=3)
    a = ap.parse_args()
    root = Path(f"/tmp/s22o/second-uploader{'-native' if a.native else ''}")
    toml = BASE_TOML.replace("[link]", f'[link]\nendpoint = "ipc://{root}/link/uploader.sock"')
    rig = Rig(root, toml=toml, native=a.native)
    rig.uploader()
    time.sleep(1.5)
    rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 2, 40)
    fails = 0
    other = root.parent / (root.name + "-elsewhere")
    other.mkdir(exist_ok=True)
    (other / "tokens.env").write_bytes((root / "tokens.env").read_bytes())  # its own spool and state, one key
    (other / "tokens.env").chmod(0o600)
    for i in range(a.tries):
        where = other if i == a.tries - 1 else root
        second = subprocess.run([QUICKCAM, "uploader", "--config", str(root / "quickcam.toml")], cwd=where,
                                capture_output=True, text=True, timeout=60)
        said = [ln for ln in (second.stdout + second.stderr).splitlines() if ln.strip()]
        print(f"second uploader #{i} from {where.name}: exit {second.returncode}, {len(said)} line(s): "
              f"{said[-1][:300] if said else ''}")
        bad = second.returncode not in (1, 2) or len(said) > 3 or "Traceback" in second.stderr
        fails += int(bad)
        n = len(rig.stored_ids())
        kept = rig.wait_for(lambda n=n: len(rig.stored_ids()) > n, 20)
        print(("PASS" if kept else "FAIL"), f"footage still stored after it (first uploader alive: "
              f"{rig.procs['uploader'].poll() is None})")
        fails += int(not kept)
    _, st = rig.status()
    print(st.strip()[:600])
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
