"""Stray signals to either process mid-event: SIGUSR1 (logrotate's `postrotate kill -USR1`, "reopen your
logs" to many daemons), SIGUSR2, SIGALRM, SIGIO and SIGPIPE (a log reader gone, sent by a shell script's
`kill -s`), as a user's own scripts or a copied logrotate stanza send them.

    .venv/bin/python bench/outside/stray_signals.py [--native] [--who detector,uploader] [--sigs USR1,USR2,PIPE]

docs/reliability.md: SIGTERM/SIGINT stop a process cleanly (the open segment committed), SIGHUP is said and
ignored; no camera blind without saying so; nothing recorded lost. Nothing documents the others. Checked per
signal: the process either runs on (and the camera keeps recording) or, if it ends, it ends as a stop does
(a line saying so, its open segment committed, not left in staging to be discarded at the next start);
each death is followed by a restart so the next signal meets a running pair; the invariant at the end.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def _log_size(rig: Rig) -> int:
    return sum(f.stat().st_size for f in list(rig.root.glob("*.out")) + list(rig.root.glob("run*.log*")))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--who", default="detector,uploader")
    ap.add_argument("--sigs", default="USR1,USR2,PIPE", help="ALRM,IO end either process (the kernel's default, as for most programs)")
    a = ap.parse_args()
    rig = Rig(Path(f"/tmp/s23o/stray-signals-{'native' if a.native else 'py'}"), toml=BASE_TOML, native=a.native)
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        rig.wait_for(lambda: len(rig.stored_ids()) >= 2, 60)
        for who in a.who.split(","):
            for name in a.sigs.split(","):
                sig = getattr(signal, "SIG" + name)
                n0 = len(rig.journal_lines())
                rig.wait_for(lambda n0=n0: len(rig.journal_lines()) > n0, 20)  # an event is recording
                size0 = _log_size(rig)
                rig.signal(who, sig)
                time.sleep(2.5)
                rc = rig.procs[who].poll()
                new = ""
                for f in sorted(rig.root.glob("*.out")):
                    new += f.read_text(errors="replace")
                said = _log_size(rig) > size0
                if rc is None:
                    print(f"PASS {who} SIG{name}: runs on (log grew: {said})")
                    continue
                staged = list((rig.root / "outbox" / ".staging").glob("*")) if who == "detector" else []
                print(f"FAIL {who} SIG{name}: ended, exit {rc}; a line written after the signal: {said}; "
                      f"left in outbox/.staging: {len(staged)}")
                fails += 1
                (rig.uploader if who == "uploader" else rig.detector)()
                time.sleep(2)
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        show_lines(rig, r"(?i)discard|left by a crash|staging", "lines about discarded staging (footage lost)", 10)
        fails += bool(rig.grep(r"(?i)discard"))
        fails += invariant_failed(rig, drained)
        show_lines(rig, r"(?i)SIG(USR|ALRM|IO|PIPE)|signal", "lines naming a signal", 12)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
