"""The SFTP server (a real OpenSSH sshd on 127.0.0.1, tests/fakes/sshd.py) SIGKILLed mid-upload with its
sessions, down a while, started again on the same port; several rounds while events come.

    .venv/bin/python bench/outside/sftp_killed.py [--native] [--rounds 3] [--down-s 20]

docs/backends.md: sftp:// through fsspec, written to `.<name>.<random>.part` then moved into place
(`atomic_rename`); a connection lost is a retryable error. Checked: nothing failed for good, the
outage said in `quickcam status`, no `.part` left behind once drained, every journaled item stored
once (the server's folder is the rig's storage/, so the harness checks it directly).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import contextlib

from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402
from tests.fakes.sshd import SSHD, Sshd, unavailable_reason  # noqa: E402


def descendants(pid: int) -> list[int]:
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                kids += [int(p.name), *descendants(int(p.name))]
    return kids


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--down-s", type=float, default=20)
    a = ap.parse_args()
    why = unavailable_reason()
    if why:
        print("SKIP:", why)
        return 0
    root = Path(f"/tmp/s21o/sftp-killed{'-native' if a.native else ''}")
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
    proc = sshd._proc
    for r in range(a.rounds):
        n = len(rig.stored_ids())
        rig.wait_for(lambda n=n: len(rig.stored_ids()) > n, 20, every=0.02)
        time.sleep(0.15)  # the next upload is likely under way
        victims = [proc.pid, *descendants(proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        print(f"round {r}: sshd and {len(victims) - 1} session(s) SIGKILLed at {len(rig.stored_ids())} stored", flush=True)
        time.sleep(a.down_s)
        rc, st = rig.status()
        print(st.strip()[-500:])
        with open(sshd_dir / "sshd.log", "ab") as log:
            proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(sshd_dir / "sshd_config")],
                                    stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(8)
    sshd._proc = proc
    rig.stop("detector")
    ok = rig.wait_for(rig.drained, 120)
    rc, st = rig.status()
    print("status at the end:\n" + st.strip()[-600:])
    fails += int(" FAILED" in st or "failed for good" in st.lower())
    show_lines(rig, "FAILED for good", "failed-for-good lines")
    show_lines(rig, r"level=(warning|error).*(sftp|storage)", "upload warnings", shown=6)
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
