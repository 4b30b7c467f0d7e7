"""The processes started with an odd home: HOME unset (a bare systemd unit, `env -i`), HOME naming a folder
that does not exist or one this user may not write (root's under `--user nobody`, a read-only image), the
XDG_* folders pointing nowhere; and `quickcam status` / `quickcam decrypt` run from another folder with
`--config` given as a full path.

    .venv/bin/python bench/outside/home_odd.py [--native] [--only unset,missing,readonly,xdg]

README and docs/deploy.md: files are made in the folder the processes start in; nothing names HOME. Checked
per case: both processes run ~12 s, footage stored (the invariant), no traceback, nothing written under
HOME, and the other-folder commands answer about this installation (or say where to run them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, QUICKCAM, Rig, invariant_failed, tracebacks_failed  # noqa: E402

TOML = BASE_TOML.replace("demo_start_s = 3.0", "demo_start_s = 1.0")


def case_env(case: str, root: Path) -> list[str]:
    """The `env` wrapper for ``case``."""
    home = root / "home"
    if case == "unset":
        return ["env", "-u", "HOME"]
    if case == "missing":
        return ["env", f"HOME={root / 'no-such-home'}"]
    if case == "readonly":
        home.mkdir()
        home.chmod(0o500)
        return ["env", f"HOME={home}"]
    return ["env", f"XDG_CONFIG_HOME={root / 'none' / 'config'}", f"XDG_CACHE_HOME={root / 'none' / 'cache'}",
            f"XDG_DATA_HOME={root / 'none' / 'data'}", f"XDG_RUNTIME_DIR={root / 'none' / 'run'}"]


def run(case: str, native: bool) -> int:
    rig = Rig(Path(f"/tmp/s22o/home-{case}{'-native' if native else ''}"), toml=TOML, native=native)
    wrap = case_env(case, rig.root)
    rig.uploader(wrap=wrap)
    rig.detector(wrap=wrap)
    time.sleep(12)
    other = subprocess.run([*wrap, QUICKCAM, "status", "--config", str(rig.root / "quickcam.toml")], cwd="/tmp",
                           capture_output=True, text=True, timeout=60)
    said = (other.stdout + other.stderr).strip().splitlines()
    print(f"{case}: status from /tmp (rc {other.returncode}):", *[ln[:300] for ln in said], sep="\n    ")
    misled = "has not run here" in other.stdout and "relative" not in other.stdout
    print(("FAIL" if misled else "PASS"), "status from another folder says where it looked, not only 'start it'")
    rig.stop("detector")
    drained = rig.wait_for(rig.drained, 40)
    rig.stop_all()
    fails = int(misled) + invariant_failed(rig, drained) + tracebacks_failed(rig)
    written = [str(p) for p in (rig.root / "home").rglob("*")] if (rig.root / "home").exists() else []
    made = [str(p) for p in (rig.root / "none").rglob("*")] if (rig.root / "none").exists() else []
    if (rig.root / "no-such-home").exists():
        made.append("no-such-home")
    print(("PASS" if not written and not made else "FAIL"), case, "written under HOME/XDG:", written[:3], made[:3])
    fails += int(bool(written or made))
    warned = [ln for ln in rig.logs().splitlines() if "level=warning" in ln or "level=error" in ln]
    print(f"{case}: warning/error lines: {len(warned)}", *[w[:220] for w in warned[:4]], sep="\n    ")
    return fails


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--only", default="unset,missing,readonly,xdg")
    a = ap.parse_args()
    if os.geteuid() == 0:
        print("(root: a read-only HOME is still writable to root; that case shows only what is tried)")
    fails = sum(run(c, a.native) for c in a.only.split(","))
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
