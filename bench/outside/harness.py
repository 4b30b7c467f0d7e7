"""Outside fault-testing rig: real uploader + detector (Python or native) in a scratch folder.

Written from the project's documentation only (README.md, docs/*.md, quickcam.example.toml,
`quickcam --help`), never from its source: what a stranger's fault script would rely on.
The invariant is checked as docs/reliability.md states it: every id of every
`outbox/produced.jsonl` ever written is stored exactly once under storage/, decrypts with the
documented `quickcam decrypt`, and its plaintext's sha256 is the journal's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUICKCAM = str(REPO / ".venv" / "bin" / "quickcam")
NATIVE = str(REPO / "build" / "native" / "quickcam-native-detector")

BASE_TOML = """\
env_file = "tokens.env"
[camera]
id = "cam0"
source = "demo"
demo_start_s = 3.0
demo_gap_s = 4.0
[recording]
segment_s = 1.0
[link]
ack_timeout_s = 3.0
heartbeat_s = 0.5
[uploader]
retry_base_s = 0.2
retry_max_s = 2.0
[storage.local]
path = "storage"
"""

ID_RUN = re.compile(r"(?<![A-Za-z0-9])[0-9a-z]{26}(?![A-Za-z0-9])")


class Rig:
    """One scratch installation: config, key, processes this script started (by pid only)."""

    def __init__(self, root: Path, toml: str = BASE_TOML, native: bool = False) -> None:
        self.root = Path(root)
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.native = native
        (self.root / "quickcam.toml").write_text(toml)
        key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
        tok = self.root / "tokens.env"
        tok.write_text(key)
        tok.chmod(0o600)
        self.procs: dict[str, subprocess.Popen] = {}
        self.n = 0
        self.journals: list[Path] = []

    # processes -------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str], env: dict | None, wrap: list[str] | None) -> subprocess.Popen:
        self.n += 1
        out = open(self.root / f"{name}.{self.n}.out", "wb")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen((wrap or []) + argv, cwd=self.root, stdout=out, stderr=subprocess.STDOUT, env=e)
        self.procs[name] = p
        return p

    def uploader(self, env: dict | None = None, wrap: list[str] | None = None) -> subprocess.Popen:
        return self._start("uploader", [QUICKCAM, "uploader", "--config", "quickcam.toml"], env, wrap)

    def detector(self, env: dict | None = None, wrap: list[str] | None = None, name: str = "detector",
                 native: bool | None = None, config: str = "quickcam.toml") -> subprocess.Popen:
        nat = self.native if native is None else native
        argv = [NATIVE, "--config", config] if nat else [QUICKCAM, "detector", "--config", config]
        return self._start(name, argv, env, wrap)

    def signal(self, name: str, sig: int) -> None:
        p = self.procs[name]
        if p.poll() is None:
            os.kill(p.pid, sig)

    def stop(self, name: str, timeout: float = 30) -> int | None:
        p = self.procs.get(name)
        if p is None:
            return None
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        return p.returncode

    def kill(self, name: str) -> None:
        p = self.procs[name]
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def stop_all(self) -> None:
        for n in list(self.procs):
            self.stop(n)

    # observation -------------------------------------------------------------------------
    def status(self, *args: str) -> tuple[int, str]:
        r = subprocess.run([QUICKCAM, "status", "--config", "quickcam.toml", *args], cwd=self.root,
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def qc(self, *args: str, timeout: float = 120) -> tuple[int, str]:
        r = subprocess.run([QUICKCAM, *args], cwd=self.root, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def logs(self) -> str:
        text = ""
        for f in sorted(self.root.glob("*.out")) + sorted(self.root.glob("run*.log*")):
            text += f"\n===== {f.name}\n" + f.read_text(errors="replace")
        return text

    def tracebacks(self) -> list[str]:
        hits = []
        for f in sorted(self.root.glob("*.out")) + sorted(self.root.glob("run*.log*")):
            for line in f.read_text(errors="replace").splitlines():
                if "Traceback" in line or "terminate called" in line:
                    hits.append(f"{f.name}: {line[:300]}")
        return hits

    def grep(self, pat: str) -> list[str]:
        rx = re.compile(pat)
        return [ln for ln in self.logs().splitlines() if rx.search(ln)]

    def wait_for(self, cond, timeout: float, every: float = 0.2) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(every)
        return False

    def journal_lines(self, outbox: str = "outbox") -> list[dict]:
        j = self.root / outbox / "produced.jsonl"
        if not j.exists():
            return []
        out = []
        for ln in j.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(ln))
        return out

    def save_journal(self, outbox: str = "outbox") -> None:
        """Copy the journal aside (a test that deletes the outbox keeps what it said)."""
        j = self.root / outbox / "produced.jsonl"
        if j.exists():
            dst = self.root / f"journal-saved-{len(self.journals)}.jsonl"
            shutil.copy(j, dst)
            self.journals.append(dst)

    def drained(self, outbox: str = "outbox") -> bool:
        """Every journaled id is in storage and the outbox holds no item."""
        ids = {d["id"] for d in self.journal_lines(outbox)}
        items = list((self.root / outbox).glob("*.bin")) if (self.root / outbox).exists() else []
        return bool(ids) and ids <= set(self.stored_ids()) and not items

    def stored_ids(self, storage: str = "storage") -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        base = self.root / storage
        if not base.exists():
            return ids
        for f in base.rglob("*.qsc"):
            if "/logs/" in str(f):
                continue
            m = ID_RUN.findall(f.name)
            key = m[-1] if m else f.name
            ids.setdefault(key, []).append(str(f.relative_to(base)))
        return ids

    def check(self, outboxes: tuple[str, ...] = ("outbox",), storage: str = "storage",
              by_design_lost: set[str] | None = None) -> dict:
        """The invariant of docs/reliability.md, from the outside."""
        produced: dict[str, dict] = {}
        for ob in outboxes:
            for d in self.journal_lines(ob):
                produced[d["id"]] = d
        for j in self.journals:
            for ln in j.read_text(errors="replace").splitlines():
                try:
                    d = json.loads(ln)
                    produced[d["id"]] = d
                except ValueError:
                    pass
        stored = self.stored_ids(storage)
        dec = self.root / "decrypted"
        if dec.exists():
            shutil.rmtree(dec)
        rc, out = self.qc("decrypt", storage, "-o", "decrypted")
        plain: dict[str, str] = {}
        for f in dec.rglob("*") if dec.exists() else []:
            if f.is_file() and "logs" not in f.parts:
                m = ID_RUN.findall(f.name)
                if m:
                    plain[m[-1]] = hashlib.sha256(f.read_bytes()).hexdigest()
        lost = [i for i in produced if i not in stored and i not in (by_design_lost or set())]
        dup = {i: v for i, v in stored.items() if len(v) > 1}
        invented = [i for i in stored if i not in produced]
        altered = [i for i, d in produced.items() if i in stored and plain.get(i) != d.get("sha256")]
        return {"produced": len(produced), "stored": len(stored), "lost": lost, "duplicated": dup,
                "invented": invented, "altered": altered, "decrypt_rc": rc,
                "decrypt_errors": [ln for ln in out.splitlines() if "error" in ln.lower() or "fail" in ln.lower()][:10]}


def summary(res: dict) -> str:
    return (f"produced {res['produced']} stored {res['stored']} lost {len(res['lost'])} "
            f"dup {len(res['duplicated'])} invented {len(res['invented'])} altered {len(res['altered'])} "
            f"decrypt rc {res['decrypt_rc']} {res['decrypt_errors'][:3]}")


def invariant_failed(rig: Rig, drained: bool = True, *, invented_counts: bool = True) -> int:
    """Checks and prints the invariant (every journaled id stored once, decrypted as journaled): 1 if broken.

    ``invented_counts`` False where a script's fault may leave items stored that the journal could not name.
    """
    res = rig.check()
    print(summary(res))
    good = drained and not res["lost"] and not res["duplicated"] and not res["altered"]
    good = good and not (invented_counts and res["invented"])
    print(("PASS" if good else "FAIL"), "invariant, drained:", drained, "lost:", res["lost"][:3],
          "dup:", list(res["duplicated"])[:3], "invented:", res["invented"][:3])
    return int(not good)


def show_lines(rig: Rig, pattern: str, title: str, shown: int = 15) -> None:
    """Prints how many log lines match ``pattern`` and the first ``shown`` of them."""
    lines = rig.grep(pattern)
    print(f"{title}:", len(lines))
    for line in lines[:shown]:
        print("   ", line[:300])


def tracebacks_failed(rig: Rig) -> int:
    """Prints any traceback in the processes' output: 1 if there is one."""
    tb = rig.tracebacks()
    print(("PASS" if not tb else "FAIL"), "tracebacks:", tb[:6])
    return int(bool(tb))
