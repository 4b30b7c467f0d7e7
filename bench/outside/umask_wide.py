"""`scripts/run_all.sh --demo` started from a shell whose umask is 000 or 002 (a shared group's, a
container's): docs/security.md says every file and folder the processes make is the owner's alone.

    .venv/bin/python bench/outside/umask_wide.py [--native] [--umask 000] [--seconds 20]

Run in an empty scratch folder (README: files are made in the current folder). Checked afterwards:
every file the run made is 0600 at most and every folder 0700 at most (tokens.env, outbox, spool,
state, storage, logs, sockets, status files), then `quickcam decrypt` run from the same shell (its
output is footage too), and the invariant on what was stored.
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUICKCAM, REPO, Rig, invariant_failed  # noqa: E402


def wide(root: Path, skip: set[str]) -> list[str]:
    """Paths under ``root`` with any group or other permission bit, with their modes."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.name in skip or path.is_symlink():
            continue
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077 and path != root:
            found.append(f"{oct(stat.S_IMODE(mode))} {'d' if stat.S_ISDIR(mode) else 'f'} {path.relative_to(root)}")
    return found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--umask", default="000")
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s22o/umask-{a.umask}{'-native' if a.native else ''}"))
    (rig.root / "tokens.env").unlink()  # run_all.sh --demo writes its own key
    (rig.root / "quickcam.toml").unlink()
    mine = {"quickcam.toml"}
    cmd = (f"umask {a.umask}; exec {REPO}/scripts/run_all.sh --demo --seconds {a.seconds}"
           f"{' --native' if a.native else ''}")
    r = subprocess.run(["bash", "-c", cmd], cwd=rig.root, capture_output=True, text=True, timeout=a.seconds + 240)
    print("run_all.sh rc", r.returncode, "last lines:", r.stderr.strip().splitlines()[-3:], r.stdout.strip()[-300:])
    fails = int(r.returncode != 0)
    found = wide(rig.root, mine)
    print(("PASS" if not found else "FAIL"), f"paths with group/other bits after a run at umask {a.umask}:",
          len(found))
    for line in found[:25]:
        print("   ", line)
    fails += int(bool(found))
    d = subprocess.run(["bash", "-c", f"umask {a.umask}; exec {QUICKCAM} decrypt storage -o decrypted"],
                       cwd=rig.root, capture_output=True, text=True, timeout=120)
    print("decrypt rc", d.returncode, d.stdout.strip()[-200:], d.stderr.strip()[-300:])
    dec = [line for line in wide(rig.root / "decrypted", set())] if (rig.root / "decrypted").exists() else []
    print(("PASS" if not dec else "FAIL"), "decrypted footage with group/other bits:", len(dec), dec[:5])
    fails += int(bool(dec))
    os.environ.pop("QUICKCAM_CAMERA__SOURCE", None)
    (rig.root / "quickcam.toml").write_text('[storage.local]\npath = "storage"\n')
    fails += invariant_failed(rig, True, invented_counts=False)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
