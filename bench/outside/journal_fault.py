"""The detector's journal (`outbox/produced.jsonl`) replaced by a directory, or made read-only, mid-run.

    .venv/bin/python bench/outside/journal_fault.py --case dir|deleted [--native]

docs/reliability.md: the journal is the detector's own record of what it produced, one line per item
it commits, written before anything is sent. Checked: recording and delivery go on (footage stored),
the fault is said in one line and shown by `quickcam status`, no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Rig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="dir")
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s19o/journal-{a.case}-{'native' if a.native else 'py'}"), native=a.native)
    rig.uploader()
    rig.detector()
    j = rig.root / "outbox/produced.jsonl"
    rig.wait_for(lambda: len(rig.journal_lines()) >= 3, 40)
    rig.save_journal()
    before = len(rig.stored_ids())
    if a.case == "dir":
        j.unlink()
        j.mkdir()
    else:
        j.unlink()
    print(f"journal {a.case}; stored so far {before}")
    time.sleep(20)
    _, st = rig.status()
    print(st)
    print("stored after 20 s:", len(rig.stored_ids()), "journal now:",
          "dir" if j.is_dir() else (len(rig.journal_lines()) if j.exists() else "missing"))
    rig.stop_all()
    for ln in rig.grep("level=(error|warning)")[:8]:
        print("   ", ln[:300])
    print("tracebacks:", rig.tracebacks()[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
