"""Everything frozen at once while an event is being sent, then thawed: the detector, the uploader and the
SFTP server (a real sshd on 127.0.0.1, tests/fakes/sshd.py, with its sessions) SIGSTOPped together for
`--paused-s`, then SIGCONTed together (a VM paused by its host, a laptop lid, a debugger).

    .venv/bin/python bench/outside/machine_paused.py [--native] [--paused-s 100] [--rounds 1]

(SIGSTOP is not a suspend: CLOCK_MONOTONIC runs on through it, so every timer of the three is due at
once on the thaw: the harder case for ack and upload timeouts.) docs/reliability.md: nothing lost,
nothing stored twice. Checked: after the thaw the camera is watched again (status `ok` within 20 s, no
stuck `STALLED`), nothing failed for good, no `.part` left, every journaled item stored once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from sftp_killed import descendants  # noqa: E402
from tests.fakes.sshd import Sshd, unavailable_reason  # noqa: E402


def freeze(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--paused-s", type=float, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    why = unavailable_reason()
    if why:
        print("SKIP:", why)
        return 0
    root = Path(f"/tmp/s22o/paused{'-native' if a.native else ''}")
    sshd_dir = Path(str(root) + "-sshd")
    subprocess.run(["rm", "-rf", str(sshd_dir)], check=False)
    sshd = Sshd(sshd_dir).start()
    toml = BASE_TOML.replace('[storage.local]\npath = "storage"',
                             f'[storage.local]\nkind = "fsspec"\nurl = "sftp://{sshd.user}@127.0.0.1:{sshd.port}{root}/storage"\n'
                             f'storage_options = {{ client_keys = ["{sshd.client_key}"], known_hosts = "{sshd.known_hosts}" }}')
    rig = Rig(root, toml=toml, native=a.native)
    rig.uploader()
    rig.detector()
    fails = 0
    rig.wait_for(lambda: len(rig.stored_ids()) >= 3, 60)
    for r in range(a.rounds):
        n = len(rig.stored_ids())
        rig.wait_for(lambda n=n: len(rig.stored_ids()) > n, 20, every=0.02)
        time.sleep(0.15)  # the next upload is likely under way
        pids = [rig.procs["detector"].pid, rig.procs["uploader"].pid, sshd._proc.pid, *descendants(sshd._proc.pid)]
        freeze(pids, signal.SIGSTOP)
        print(f"round {r}: {len(pids)} processes stopped at {len(rig.stored_ids())} stored, "
              f"{len(rig.journal_lines())} journaled", flush=True)
        time.sleep(a.paused_s)
        freeze(pids, signal.SIGCONT)
        t0 = time.monotonic()
        watched = rig.wait_for(lambda: " ok at " in rig.status()[1], 20, every=1)
        print(("PASS" if watched else "FAIL"), f"camera ok again {time.monotonic() - t0:.1f} s after the thaw")
        fails += int(not watched)
        time.sleep(10)
        rc, st = rig.status()
        print(st.strip()[-700:])
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 120)
    rc, st = rig.status()
    print("status at the end:\n" + st.strip()[-600:])
    fails += int("failed for good" in st.lower())
    show_lines(rig, r"level=(warning|error)", "warning/error lines", shown=12)
    rig.stop_all()
    parts = [str(p) for p in (root / "storage").rglob("*.part")]
    print("'.part' files left in the storage:", len(parts), parts[:3])
    fails += int(bool(parts))
    fails += invariant_failed(rig, ok) + tracebacks_failed(rig)
    sshd.stop()
    print("FAIL" if fails else "PASS", "checks failed:", fails)
    return int(bool(fails))


if __name__ == "__main__":
    sys.exit(main())
