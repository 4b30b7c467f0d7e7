"""Run the real processes in a scratch folder and check the no-loss invariant.

The invariant (docs/reliability.md): every item in the detector's own record
(``outbox/produced.jsonl``) is in storage exactly once and decrypts to the
bytes the detector recorded; nothing in storage is unaccounted for.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from quickcam.common.cryptofile import Keyring, decrypt
from tests.conftest import QUICKCAM, free_port


class Pipeline:
    """A scratch folder with a key, a port, and started/stopped processes."""

    def __init__(self, root: Path, **overrides: str) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
        self.env.update({
            "QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{free_port()}",
            "QUICKCAM_LINK__ACK_TIMEOUT_S": "3",
            "QUICKCAM_LINK__HEARTBEAT_S": "0.5",
            "QUICKCAM_UPLOADER__RETRY_BASE_S": "0.2",
            "QUICKCAM_UPLOADER__RETRY_MAX_S": "2",
        })
        self.env.update(overrides)
        if not (root / "tokens.env").exists():
            key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
            (root / "tokens.env").write_text(key)
            (root / "tokens.env").chmod(0o600)
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.root / f"{name}.out", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen([QUICKCAM, name, *args], cwd=self.root, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def stop(self, name: str, timeout: float = 30) -> int:
        proc = self.procs[name]
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def close(self) -> None:
        """Kill whatever is still running (a failed test must not leave processes behind)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    def output(self, name: str) -> str:
        return (self.root / f"{name}.out").read_text(errors="replace")

    def produced(self) -> list[dict]:
        journal = self.root / "outbox" / "produced.jsonl"
        if not journal.exists():
            return []
        return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]

    def wait_drained(self, timeout: float = 60) -> bool:
        """True once every produced item is in storage and the outbox is empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not list((self.root / "outbox").glob("*.hdr")) and not self.missing():
                return True
            time.sleep(0.25)
        return False

    def stored(self) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for path in (self.root / "storage").rglob("*.qsc"):
            if "/logs/" in str(path):
                continue
            item_id = path.stem.rsplit("-", 1)[-1]
            found.setdefault(item_id, []).append(path)
        return found

    def missing(self) -> list[str]:
        stored = self.stored()
        return [row["id"] for row in self.produced() if row["id"] not in stored]

    def check_invariant(self) -> dict[str, int]:
        """Assert the no-loss invariant; return the figures for the report."""
        keyring = Keyring.from_env(dotenv_values(self.root / "tokens.env"))
        produced = {row["id"]: row for row in self.produced()}
        stored = self.stored()
        missing = [i for i in produced if i not in stored]
        duplicated = [i for i, paths in stored.items() if len(paths) > 1]
        unaccounted = [i for i in stored if i not in produced]
        corrupt = []
        for item_id, row in produced.items():
            for path in stored.get(item_id, []):
                out = io.BytesIO()
                with open(path, "rb") as src:
                    decrypt(src, out, keyring)
                if hashlib.sha256(out.getvalue()).hexdigest() != row["sha256"]:
                    corrupt.append(item_id)
        assert not missing, f"lost: {missing}"
        assert not duplicated, f"stored twice: {duplicated}"
        assert not unaccounted, f"in storage but never produced: {unaccounted}"
        assert not corrupt, f"decrypts to different bytes: {corrupt}"
        return {"produced": len(produced), "stored": sum(len(p) for p in stored.values()),
                "lost": 0, "duplicated": 0}


@dataclass
class Timer:
    seconds: float

    def __post_init__(self) -> None:
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.end - time.monotonic()


# -- several destinations at once: the invariant per destination, from what each holds --------


def check_invariant_at(pipe: Pipeline, where: str, files: dict[str, bytes]) -> dict[str, int]:
    """The invariant for one destination, from what it holds: ``{remote key or path: bytes}``.

    For back ends read through their servers (a fake's memory, moto, sshd's folder).
    Every file counts, so a leftover temporary file is "unaccounted"; the
    uploader's own logs (under ``logs/``) are left out.
    """
    keyring = Keyring.from_env(dotenv_values(pipe.root / "tokens.env"))
    produced = {row["id"]: row for row in pipe.produced()}
    stored = files_by_item(files)
    missing = [i for i in produced if i not in stored]
    duplicated = [i for i, blobs in stored.items() if len(blobs) > 1]
    unaccounted = [i for i in stored if i not in produced]
    corrupt = [i for i, row in produced.items()
               if any(plaintext_sha256(blob, keyring) != row["sha256"] for blob in stored.get(i, []))]
    assert not missing, f"{where}: lost {missing}"
    assert not duplicated, f"{where}: stored twice {duplicated}"
    assert not unaccounted, f"{where}: holds files never produced {unaccounted}"
    assert not corrupt, f"{where}: decrypts to different bytes {corrupt}"
    return {"produced": len(produced), "stored": sum(len(b) for b in stored.values()), "lost": 0, "duplicated": 0}


def files_by_item(files: dict[str, bytes], logs: bool = False) -> dict[str, list[bytes]]:
    """One destination's files by item id (``<kind>-<seq>-<id>.qsc``): footage, or (``logs``) the uploader's logs."""
    found: dict[str, list[bytes]] = {}
    for key, data in files.items():
        if ("/logs/" in f"/{key}") == logs:
            item_id = key.rsplit("/", 1)[-1].removesuffix(".qsc").rsplit("-", 1)[-1]
            found.setdefault(item_id, []).append(data)
    return found


def plaintext_sha256(encrypted: bytes, keyring: Keyring) -> str:
    """Decrypt a stored ``.qsc`` file (every tag checked) and hash the plaintext."""
    out = io.BytesIO()
    decrypt(io.BytesIO(encrypted), out, keyring)
    return hashlib.sha256(out.getvalue()).hexdigest()
