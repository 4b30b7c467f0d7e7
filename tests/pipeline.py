"""Run the real processes in a scratch folder and check the no-loss invariant.

The invariant (docs/reliability.md): every item in the detector's own record
(``outbox/produced.jsonl``) is in storage exactly once and decrypts to the
bytes the detector recorded; nothing in storage is unaccounted for.

Storage is read through a small view (``LocalStorage`` for the ``local`` back
end's folder, ``FsspecStorage`` for anything fsspec reaches, e.g. moto's S3),
so the same check holds whichever back end a scenario runs against.

Each scenario hands its figures to ``Pipeline.record``; with
``QUICKCAM_FIGURES=<file>`` in the environment they are also appended there as
JSON lines, which ``bench/reliability_report.py`` turns into the table in
docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dotenv import dotenv_values

from quickcam.common.cryptofile import CryptoFileError, Keyring, SymmetricKey, decrypt, read_header
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.httpfake import Fault

FIGURES_ENV = "QUICKCAM_FIGURES"
FOOTAGE_PREFIXES = ("snapshot-", "segment-")
# For a scenario that needs an event, not the demo's own times: its script started 3 s in ([camera]
# demo_start_s), so the walks come at 1-7 s and 15-20 s of the run instead of 4-10 s and 18-23 s.
QUICK_DEMO = {"QUICKCAM_CAMERA__DEMO_START_S": "3"}
# With QUICK_DEMO, for a scenario that waits for the second walk: 5 s between the walks ([camera] demo_gap_s, 8 s
# by default) bring the walk back to 12-17 s of the run; the first event (post-roll 3 s) is over by 10 s.
CLOSE_WALKS = {"QUICKCAM_CAMERA__DEMO_GAP_S": "5"}


class StorageView(Protocol):
    def items(self) -> dict[str, list[str]]:
        """Footage in storage: item id -> every place it is stored (the uploader's logs left out)."""
        ...

    def read(self, ref: str) -> bytes: ...


def _item_id(name: str) -> str | None:
    """The item id in a stored file name (``segment-0003-<id>.qsc``), or None if it is not footage."""
    if not name.startswith(FOOTAGE_PREFIXES) or not name.endswith(".qsc"):
        return None
    return name[: -len(".qsc")].rsplit("-", 1)[-1]


class LocalStorage:
    """The ``local`` back end's folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def items(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for path in self.root.rglob("*.qsc"):
            item_id = _item_id(path.name)
            if item_id is not None and "logs" not in path.relative_to(self.root).parts:
                found.setdefault(item_id, []).append(str(path))
        return found

    def read(self, ref: str) -> bytes:
        return Path(ref).read_bytes()


class FsspecStorage:
    """Any fsspec file system (the tests use s3fs straight to moto, not through the fault proxy)."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs, self.root = fs, root.rstrip("/")

    def items(self) -> dict[str, list[str]]:
        self.fs.invalidate_cache()
        found: dict[str, list[str]] = {}
        if not self.fs.exists(self.root):
            return found
        for path in self.fs.find(self.root):
            item_id = _item_id(path.rsplit("/", 1)[-1])
            if item_id is not None and "/logs/" not in path:
                found.setdefault(item_id, []).append(path)
        return found

    def read(self, ref: str) -> bytes:
        return self.fs.cat_file(ref)


class Pipeline:
    """A scratch folder with a key, a port, and started/stopped processes.

    ``config`` (TOML text) is written to ``quickcam.toml`` and passed to both
    processes, for options the environment cannot type (numbers inside storage
    options); ``secrets`` are appended to ``tokens.env``. ``detector`` replaces
    ``quickcam detector`` (the native detector takes the same arguments).
    """

    def __init__(self, root: Path, config: str | None = None, secrets: dict[str, str] | None = None,
                 detector: list[str] | None = None, **overrides: str) -> None:
        self.root = root
        self.detector = detector  # argv of another detector (the native one) instead of `quickcam detector`
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
        self.env.update({
            "QUICKCAM_LINK__ENDPOINT": private_endpoint(root),
            "QUICKCAM_LINK__ACK_TIMEOUT_S": "3",
            "QUICKCAM_LINK__HEARTBEAT_S": "0.5",
            # An uploader started (or back) after the detector is reached within 0.5 s, not after the
            # detector's pause between tries has grown to 5 s: the scenarios wait on it, they do not test it.
            "QUICKCAM_LINK__RECONNECT_MAX_S": "0.5",
            "QUICKCAM_UPLOADER__RETRY_BASE_S": "0.2",
            "QUICKCAM_UPLOADER__RETRY_MAX_S": "2",
        })
        self.env.update(overrides)
        if not (root / "tokens.env").exists():
            # The line `quickcam keygen` prints (tests/common/test_crypto_cli.py runs the command itself), made
            # here: a process of its own cost every scenario 0.5-1.3 s of start-up before anything it checks.
            (root / "tokens.env").write_text(f"{Keyring.ENV_KEY}={SymmetricKey.generate().to_hex()}\n")
            (root / "tokens.env").chmod(0o600)
        if secrets:
            with open(root / "tokens.env", "a") as env_file:
                env_file.writelines(f"{name}={value}\n" for name, value in secrets.items())
        self.args: list[str] = []
        if config is not None:
            (root / "quickcam.toml").write_text(config)
            self.args = ["--config", "quickcam.toml"]
        self.storage: StorageView = LocalStorage(root / "storage")
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start ``quickcam <name>``; ``env`` adds overrides for this process only."""
        with open(self.root / f"{name}.out", "ab") as log:  # the child keeps its own copy
            command = self.detector if name == "detector" and self.detector else [QUICKCAM, name]
            proc = subprocess.Popen([*command, *self.args, *args], cwd=self.root,
                                    env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start_uploader_listening(self, *args: str, timeout: float = 60) -> subprocess.Popen:
        """Start ``quickcam uploader`` and wait until it listens.

        For a scenario whose detector must deliver while it runs: a loaded machine may take seconds to
        start the uploader, and a detector that found nobody listening backs off up to 5 s between tries,
        so a short detector run could end before its link ever connected (its footage then waits in the
        outbox for its next start: not lost, but not what the scenario checks).
        """
        before = len(self.output("uploader"))
        proc = self.start("uploader", *args)
        deadline = time.monotonic() + timeout
        while "receiver: listening" not in self.output("uploader")[before:]:
            assert proc.poll() is None and time.monotonic() < deadline, \
                f"the uploader is not listening:\n{self.output('uploader')[-3000:]}"
            time.sleep(0.1)
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
        path = self.root / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for(self, name: str, text: str, timeout: float = 30) -> bool:
        """True once ``text`` is in the process's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output(name):
                return True
            time.sleep(0.1)
        return text in self.output(name)

    def wait_for_count(self, name: str, text: str, count: int, timeout: float = 30) -> bool:
        """True once ``text`` is in the process's output ``count`` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output(name).count(text) >= count:
                return True
            time.sleep(0.1)
        return self.output(name).count(text) >= count

    def produced(self) -> list[dict]:
        journal = self.root / "outbox" / "produced.jsonl"
        if not journal.exists():
            return []
        return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]

    def outbox_items(self) -> list[Path]:
        return list((self.root / "outbox").glob("*.hdr"))

    def spool_files(self) -> list[Path]:
        """Files waiting in the uploader's spool (what a damaged file was moved to is not counted)."""
        spool = self.root / "spool"
        return list(spool.glob("*.qsc*")) if spool.exists() else []

    def wait_drained(self, timeout: float = 60, set_aside: Iterable[str] = (), spool: bool = False) -> bool:
        """True once every produced item (but ``set_aside``) is in storage and the outbox is empty
        (with ``spool``: the uploader's spool too, i.e. every destination has confirmed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.outbox_items() and not (spool and self.spool_files()) and not self.missing(set_aside):
                return True
            time.sleep(0.25)
        return False

    def stored(self) -> dict[str, list[str]]:
        return self.storage.items()

    def missing(self, set_aside: Iterable[str] = ()) -> list[str]:
        stored = self.stored()
        skip = set(set_aside)
        return [row["id"] for row in self.produced() if row["id"] not in stored and row["id"] not in skip]

    def measure(self, set_aside: Iterable[str] = ()) -> tuple[dict[str, int], list[str]]:
        """Count, from what the detector recorded and what storage holds, how the invariant fared.

        Returns the figures for the report (``lost``, ``duplicated``, ``invented``:
        in storage but never produced, ``altered``: decrypts to other bytes) and one
        line per problem; an empty list means the invariant holds. ``set_aside``:
        items a scenario destroyed on the uploader's disk after the ack (a corrupted
        spool file); they must not reach storage (garbage is never uploaded as
        footage) and are counted, not lost silently.
        """
        keyring = Keyring.from_env(dotenv_values(self.root / "tokens.env"))
        produced = {row["id"]: row for row in self.produced()}
        aside = set(set_aside)
        stored = self.stored()
        missing = [i for i in produced if i not in stored and i not in aside]
        duplicated = [i for i, refs in stored.items() if len(refs) > 1]
        invented = [i for i in stored if i not in produced]
        garbage_uploaded = [i for i in aside if i in stored]
        altered = [i for i, row in produced.items()
                   if any(_plaintext_sha256_or_none(self.storage.read(ref), keyring) != row["sha256"]
                          for ref in stored.get(i, []))]
        figures = {"produced": len(produced), "stored": sum(len(r) for r in stored.values()),
                   "lost": len(missing), "duplicated": len(duplicated), "invented": len(invented),
                   "altered": len(altered)}
        if aside:
            figures["set_aside"] = len(aside)
            figures["garbage_uploaded"] = len(garbage_uploaded)
        problems = [f"{what}: {ids}" for what, ids in (
            ("lost", missing), ("stored twice", duplicated), ("in storage but never produced", invented),
            ("damaged spool files uploaded as footage", garbage_uploaded), ("decrypts to different bytes", altered),
        ) if ids]
        return figures, problems

    def check_invariant(self, set_aside: Iterable[str] = (), scenario: str | None = None,
                        faults: str = "") -> dict[str, int]:
        """Measure the no-loss invariant, record the figures (with ``scenario``) whatever
        they are, then assert it; return the figures."""
        figures, problems = self.measure(set_aside)
        if scenario is not None:
            self.record(scenario, faults, figures)
        assert not problems, "; ".join(problems)
        return figures

    def record_invariant(self, scenario: str, faults: str, set_aside: Iterable[str] = ()) -> dict[str, int]:
        """``check_invariant`` for a scenario of the reliability report: its row is written first."""
        return self.check_invariant(set_aside, scenario, faults)

    def record(self, scenario: str, faults: str, figures: dict[str, Any]) -> None:
        """Print a scenario's figures and, with QUICKCAM_FIGURES set, append them to that file."""
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        row = {"scenario": scenario, "faults": faults, **figures, "test": test}
        print(f"{scenario}: {faults}; {figures}")
        target = os.environ.get(FIGURES_ENV)
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")

    def proc_usage(self, name: str) -> tuple[int, int]:
        """(resident memory in KiB, open file descriptors) of a running process, from /proc."""
        pid = self.procs[name].pid
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        return rss, len(os.listdir(f"/proc/{pid}/fd"))


def spool_file_problems(spool: Path) -> list[str]:
    """Spool files that are partial or not whole .qsc files (there must be none)."""
    problems = [f"{p.name}: partial" for p in spool.glob("*.part")]
    for path in spool.glob("*.qsc"):
        try:
            with open(path, "rb") as src:
                header = read_header(src)
        except FileNotFoundError:
            continue  # uploaded meanwhile
        except CryptoFileError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if path.stat().st_size != header.file_size or header.context.message_id != path.stem:
            problems.append(f"{path.name}: {path.stat().st_size} bytes, header says {header.file_size}")
    return problems


class RandomFaults:
    """A fault plan for ``HttpFaultProxy``: each request fails with probability ``rate``.

    The failure is drawn from ``faults`` (5xx answers and stalls past the
    client's timeout); a seeded generator keeps a run reproducible.
    ``fired`` counts what was injected, by kind.
    """

    def __init__(self, rate: float, faults: dict[str, Fault], seed: int = 3) -> None:
        self.rate = rate
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.fired: Counter[str] = Counter()
        self.requests = 0

    def take(self, route: str) -> Fault | None:
        with self.lock:
            self.requests += 1
            if self.rng.random() >= self.rate:
                return None
            name = self.rng.choice(sorted(self.faults))
            self.fired[name] += 1
            return self.faults[name]

    def clear(self) -> None:
        with self.lock:
            self.rate = 0.0


@dataclass
class Timer:
    seconds: float

    def __post_init__(self) -> None:
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.end - time.monotonic()


# -- several destinations at once: the invariant per destination, from what each holds --------


def check_invariant_at(pipe: Pipeline, where: str, files: dict[str, bytes], scenario: str | None = None,
                       faults: str = "") -> dict[str, int]:
    """The invariant for one destination, from what it holds: ``{remote key or path: bytes}``.

    For back ends read through their servers (a fake's memory, moto, sshd's folder).
    Every file counts, so a leftover temporary file is "invented"; the
    uploader's own logs (under ``logs/``) are left out. With ``scenario`` the
    figures are recorded before the checks, whatever they show.
    """
    keyring = Keyring.from_env(dotenv_values(pipe.root / "tokens.env"))
    produced = {row["id"]: row for row in pipe.produced()}
    stored = files_by_item(files)
    missing = [i for i in produced if i not in stored]
    duplicated = [i for i, blobs in stored.items() if len(blobs) > 1]
    invented = [i for i in stored if i not in produced]
    altered = [i for i, row in produced.items()
               if any(_plaintext_sha256_or_none(blob, keyring) != row["sha256"] for blob in stored.get(i, []))]
    figures = {"produced": len(produced), "stored": sum(len(b) for b in stored.values()), "lost": len(missing),
               "duplicated": len(duplicated), "invented": len(invented), "altered": len(altered)}
    if scenario is not None:
        pipe.record(scenario, faults, figures)
    assert not missing, f"{where}: lost {missing}"
    assert not duplicated, f"{where}: stored twice {duplicated}"
    assert not invented, f"{where}: holds files never produced {invented}"
    assert not altered, f"{where}: decrypts to different bytes {altered}"
    return figures


def files_by_item(files: dict[str, bytes], logs: bool = False) -> dict[str, list[bytes]]:
    """One destination's files by item id (``<kind>-<seq>-<id>.qsc``): footage, or (``logs``) the uploader's logs."""
    found: dict[str, list[bytes]] = {}
    for key, data in files.items():
        if ("/logs/" in f"/{key}") == logs:
            item_id = key.rsplit("/", 1)[-1].removesuffix(".qsc").rsplit("-", 1)[-1]
            found.setdefault(item_id, []).append(data)
    return found


def _plaintext_sha256_or_none(encrypted: bytes, keyring: Keyring) -> str | None:
    """The plaintext's hash, or None when the stored file does not decrypt (it is then "altered")."""
    try:
        return plaintext_sha256(encrypted, keyring)
    except CryptoFileError:
        return None


def plaintext_sha256(encrypted: bytes, keyring: Keyring) -> str:
    """Decrypt a stored ``.qsc`` file (every tag checked) and hash the plaintext."""
    out = io.BytesIO()
    decrypt(io.BytesIO(encrypted), out, keyring)
    return hashlib.sha256(out.getvalue()).hexdigest()
