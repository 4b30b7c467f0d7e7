"""tokens.env replaced under a running uploader: by a truncated key (an editor's crash, a paste cut
short) or by a fresh key (`quickcam keygen > tokens.env` run again: `>` where README says `>>`), then
the uploader restarted on it, as a reboot or `docker compose restart` does.

    .venv/bin/python bench/outside/key_swapped.py [--native] [--case truncated|fresh]

docs/deploy.md: tokens.env is read at start only; until a restart the log and `quickcam status` say
it changed. docs/encryption.md: ENCRYPTION_KEYS_OLD keeps older keys for decrypting. Checked: the
change said while running; a restart on a truncated key is one line, exit 2; on a fresh key, the
restart says that footage stored before was encrypted with another key (kept only if the old key
is kept), and `quickcam decrypt` over the whole storage says which files need the old key in one
line each; every journaled item stored once, decrypted with the new key and the old one as
ENCRYPTION_KEYS_OLD.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--case", choices=("truncated", "fresh"), default="fresh")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s21o/key-{a.case}{'-native' if a.native else ''}"), native=a.native)
    tok = rig.root / "tokens.env"
    old_line = next(ln for ln in tok.read_text().splitlines() if ln.startswith("ENCRYPTION_KEY="))
    rig.uploader()
    rig.detector()
    rig.wait_for(lambda: len(rig.stored_ids()) >= 4, 60)
    fails = 0
    if a.case == "truncated":
        tok.write_text(old_line[: len(old_line) // 2] + "\n")
    else:
        _, fresh = rig.qc("keygen")
        tok.write_text(fresh)
    tok.chmod(0o600)
    time.sleep(4)
    _, st = rig.status()
    said = [ln for ln in st.splitlines() if "tokens.env" in ln]
    print("status while running on the old key:", said or "(tokens.env not named)")
    fails += int(not said)
    rig.stop("uploader")
    p = rig.uploader()
    if a.case == "truncated":
        p.wait(60)
        out = sorted(rig.root.glob("uploader.*.out"))[-1].read_text(errors="replace").strip()
        print(f"uploader restarted on it: rc={p.returncode} lines={len(out.splitlines())}: {out[:300]}")
        fails += int(p.returncode != 2 or len(out.splitlines()) != 1)
        tok.write_text(old_line + "\n")
        rig.uploader()
    time.sleep(8)
    show_lines(rig, r"proc=uploader level=(warning|error)", "uploader warnings after the restart")
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 60)
    rig.stop_all()
    rc, out = rig.qc("decrypt", "storage", "-o", "decrypted-current-key-only")
    lines = out.strip().splitlines()
    print(f"decrypt with the current tokens.env only: rc={rc}, {len(lines)} line(s)")
    for ln in lines[:3] + (["..."] + lines[-2:] if len(lines) > 5 else []):
        print("   ", ln[:300])
    if a.case == "fresh":
        fails += int(any("Traceback" in ln for ln in lines))
        with open(tok, "a") as f:
            f.write(f"ENCRYPTION_KEYS_OLD={old_line.split('=', 1)[1]}\n")
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
